// The fixed points where a dense decoder layer publishes activations, and their names.
#pragma once

#include <string>

#include "maxact/scan.h"

namespace maxact::engine {

enum class Point {
  kInputNorm,
  kQ,
  kK,
  kV,
  kQkv,  // fused projection (phi3 qkv_proj)
  kQNorm,
  kKNorm,
  kKCache,
  kVCache,
  kOProjIn,
  kAttn,
  kPostAttnNorm,
  kResidMid,
  kPreFfNorm,
  kGate,
  kUp,
  kGateUp,  // fused projection (phi3 gate_up_proj)
  kDownIn,
  kMlp,
  kPostFfNorm,
  kRouter,         // MoE router logits (`mlp.gate` / `block_sparse_moe.gate`)
  kRouterWeights,  // the routing weights each token's top-k experts are combined with
  kExpertDownIn,   // input of the experts' down projections, every (token, expert) pair
  kSharedDownIn,   // input of the shared expert's down projection (bailing)
  kSharedOut,      // the shared expert's output, before it joins the routed experts
  kSharedGate,     // qwen3_next / qwen3.5-MoE: the shared expert's gate logit
  // Gated DeltaNet layers (linear_attn): the input projections as stored (qwen3_next fused
  // qkvz / ba, qwen3.5 qkv / z / b / a), the causal conv's output after SiLU (the kernel's q|k|v),
  // and max |S| of each value head's recurrent state after each 64-token chunk.
  kLinQkvz,
  kLinBa,
  kLinQkv,
  kLinZ,
  kLinB,
  kLinA,
  kLinConv,
  kLinState,
  kLayer,
  kCount,
};
constexpr int kPoints = static_cast<int>(Point::kCount);

// The tap at `p` of layer `layer`, or nullopt-like empty name when this spec has no such point.
TapInfo layer_tap(const ModelSpec& spec, int layer, Point p);
TapInfo embedding_tap(const ModelSpec& spec);
TapInfo final_norm_tap(const ModelSpec& spec);

}  // namespace maxact::engine
