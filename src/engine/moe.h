// A routed-expert MLP block over a window's rows (docs/NUMERICS.md §7): router, experts grouped
// by expert (gather, GEMMs, scatter), combine — publishing the router, routing-weight and expert
// taps, per-expert load and per-expert maxima.
#pragma once

#include "engine/layer_ops.h"
#include "engine/weights.h"

namespace maxact::engine {

// x: [n, hidden] normalised rows; out: [n, hidden] the block's output in the model dtype.
void moe_block(const LayerContext& c, int layer, MoeWeights& mw, const float* x, int64_t n,
               const Location* lc, const int32_t* cats, float* out);

}  // namespace maxact::engine
