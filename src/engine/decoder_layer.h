// The forward pass of one decoder layer over a whole window, publishing every tap: a token
// mixer (attention, or a Gated DeltaNet in qwen3_next / qwen3.5 linear layers) and an MLP (dense,
// or routed experts: engine/moe.h), each with its residual add.
#pragma once

#include <vector>

#include "engine/attention.h"
#include "engine/layer_ops.h"
#include "engine/weights.h"

namespace maxact::engine {

// What the layer needs to know about the window's rows.
struct WindowRows {
  int64_t tokens = 0;
  std::vector<Location> locs;          // per row: sample, position, token
  std::vector<SequenceSpan> spans;     // sequences as row ranges
  std::vector<int32_t> seq_of_row;     // index into spans
  std::vector<int32_t> cat_of_row;     // index into the scan's sorted categories
  std::vector<const RopeTable*> rope;  // per sequence, per rope table: [seq * tables + table]
  int rope_tables = 1;
};

// h: the residual stream [tokens, hidden], updated in place.
void decoder_layer_forward(const LayerContext& ctx, int layer, LayerWeights& w,
                           const WindowRows& win, std::vector<float>& h);

}  // namespace maxact::engine
