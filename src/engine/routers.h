// MoE routers: router logits -> each token's top-k experts and the weights they are combined
// with, one kernel per RouterKind (R1 softmax then top-k, R2 top-k then softmax, R3 Ling 2.0's
// sigmoid with group-limited selection), parallel over rows.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/layer_ops.h"

namespace maxact::engine {

// Each token's k experts and their weights, in top-k order (descending score, ties to the lower
// id): [rows * top_k] each.
struct Routing {
  std::vector<int32_t> chosen;
  std::vector<float> weight;
};

// logits: [n, num_experts]; expert_bias: Ling 2.0's selection bias (empty otherwise).
Routing route(const LayerContext& c, const float* logits, int64_t n,
              const std::vector<float>& expert_bias);

}  // namespace maxact::engine
