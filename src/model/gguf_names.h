// The GGUF names llama.cpp's converter (convert_hf_to_gguf.py with gguf-py's tensor map) gives a
// decoder layer's Linear weights: the keys of an importance matrix. One table, per family where
// the converter differs; docs/EXPORTS.md lists it with its sources.
#pragma once

#include <string>
#include <vector>

#include "maxact/model_spec.h"
#include "maxact/taps.h"

namespace maxact {

// A Linear weight by what it does, as gguf-py's MODEL_TENSOR names it.
enum class GgufLinear {
  kAttnQ,
  kAttnK,
  kAttnV,
  kAttnQkv,  // a fused q/k/v projection
  kAttnOut,
  kFfnGate,
  kFfnUp,
  kFfnGateUp,  // a fused gate/up projection
  kFfnDown,
  kRouter,
  kExpertsGateUp,  // the routed experts' gate and up projections (one GGUF tensor each, 3-D)
  kExpertsDown,
  kSharedGate,
  kSharedUp,
  kSharedDown,
  kSharedRouter,  // the shared expert's sigmoid gate
  kLinQkvz,       // Gated DeltaNet input projections (qwen3_next fused, qwen3.5 separate)
  kLinBa,
  kLinQkv,
  kLinZ,
  kLinB,
  kLinA,
  kLinOut,
  kOutput,  // lm_head (outside the decoder stack; layer ignored)
};
inline constexpr std::size_t kGgufLinears = static_cast<std::size_t>(GgufLinear::kOutput) + 1;

// "blk.{layer}.<name>" for each GGUF tensor the Linear becomes (without ".weight"), and how the
// converter reorders its input channels; no names when the converter writes no tensor for it.
GgufLinearNames gguf_linear_names(const ModelSpec& s, int layer, GgufLinear w);

}  // namespace maxact
