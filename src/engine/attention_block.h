// Phases 1 and 2 of an attention layer over a window: token-wise input norm, q/k/v (or fused qkv)
// projections, the output gate split off, q/k norms and RoPE, chunk by chunk; then attention
// sequence by sequence and the output gate. Publishes every tap up to the KV cache.
#pragma once

#include <vector>

#include "engine/decoder_layer.h"

namespace maxact::engine {

// o [T, num_heads * head_dim]: the input of o_proj. h: the residual stream [T, hidden].
std::vector<float> attention_block(const LayerContext& c, int layer, const LayerWeights& w,
                                   const WindowRows& win, const float* h);

}  // namespace maxact::engine
