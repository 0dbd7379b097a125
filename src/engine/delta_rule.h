// The gated delta rule of Gated DeltaNet (docs/NUMERICS.md §8, step 5) for one sequence of one
// value head, in fp32: per token t, S ← S·exp(g_t); δ = (v_t − Sᵀk_t)·β_t; S ← S + k_t δᵀ;
// o_t = Sᵀq_t, with S [dk, dv] starting at zero. q and k arrive l2-normalised, q already scaled.
#pragma once

#include <cstdint>
#include <vector>

namespace maxact::engine {

struct DeltaRuleInput {
  const float* q = nullptr;     // [len, dk]
  const float* k = nullptr;     // [len, dk]
  const float* v = nullptr;     // [len, dv]
  const float* beta = nullptr;  // [len]
  const float* g = nullptr;     // [len], log decay (≤ 0)
  int64_t len = 0;
  int dk = 0, dv = 0;
};

constexpr int64_t kDeltaRuleChunk = 64;  // Hugging Face's chunk size

// The chunked (WY) form Hugging Face's prefill uses, chunk by chunk with GEMMs: o [len, dv].
// state_absmax gets max |S| after each chunk (tokens 63, 127, ... and the last one).
void delta_rule_chunked(const DeltaRuleInput& in, float* o, std::vector<float>& state_absmax);

// The per-token recurrence, the definition the chunked form must equal (tests); same outputs.
void delta_rule_recurrent(const DeltaRuleInput& in, float* o, std::vector<float>& state_absmax);

}  // namespace maxact::engine
