// The forward pass of one attention + MLP decoder layer over a whole window (llama, mistral,
// qwen2, qwen2.5-vl, qwen3, gemma 1/2/3, phi3; routed-expert MLPs of mixtral, qwen3_moe and
// gpt-oss), publishing every tap.
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
void dense_layer_forward(const LayerContext& ctx, int layer, DenseLayerWeights& w,
                         const WindowRows& win, std::vector<float>& h);

}  // namespace maxact::engine
