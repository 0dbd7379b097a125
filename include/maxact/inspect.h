// `maxact inspect`: what a model is, how big, how stored, and whether maxact can scan it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "maxact/model.h"

namespace maxact {

// Parameter counts from the spec's tensor table. "Active" counts what one token touches: every
// non-expert tensor (embeddings and head included) plus top_k of num_experts routed experts per
// MoE layer. A tied head counts once. MXFP4 blocks count two parameters per byte; quantization
// scales count none.
struct ParamCounts {
  int64_t total = 0;
  int64_t active = 0;
  int64_t embedding = 0;  // embedding table + untied lm_head
  int64_t routed_experts = 0;
};
ParamCounts count_params(const ModelSpec& s);

// Whether the forward pass of this family is implemented, with the reason when not.

nlohmann::json inspect_json(const Model& m);
std::string inspect_text(const Model& m);

}  // namespace maxact
