// Rotary position embedding tables: inverse frequencies and the cos/sin scale of every RoPE
// variant in docs/NUMERICS.md §5 (default, linear, dynamic NTK, llama3, YaRN, LongRoPE), computed
// as transformers' modeling_rope_utils does (fp32 tensors, Python-float scalars).
#pragma once

#include <cstdint>
#include <vector>

#include "maxact/model_spec.h"

namespace maxact {

struct RopeFrequencies {
  std::vector<float> inv_freq;   // rotary_dim / 2 entries
  float attention_scale = 1.0f;  // multiplies cos and sin (YaRN, LongRoPE)
};

// `seq_len`: the longest sequence the table serves (max position + 1); only dynamic NTK and
// LongRoPE depend on it.
RopeFrequencies rope_frequencies(const RopeSpec& r, int64_t seq_len);

}  // namespace maxact
