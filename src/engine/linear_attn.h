// A Gated DeltaNet mixer (qwen3_next, qwen3.5, qwen3.5-MoE; docs/NUMERICS.md §8) over a
// window's rows: input projections, causal depthwise conv + SiLU, decay and β gates, the chunked
// delta rule per sequence and value head (fp32 state), gated RMSNorm, out_proj.
#pragma once

#include "engine/decoder_layer.h"

namespace maxact::engine {

// x: the layer's normalised rows [tokens, hidden]; out: the mixer's output [tokens, hidden].
void linear_attention(const LayerContext& c, int layer, const LinearAttnWeights& w,
                      const WindowRows& win, const float* x, float* out);

}  // namespace maxact::engine
