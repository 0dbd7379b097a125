// One decoder layer's weights, converted from the mapped checkpoint to fp32 for one window and
// dropped after it: memory holds one layer, never the model.
#pragma once

#include <string>
#include <vector>

#include "compute/linear.h"
#include "engine/kernels.h"
#include "maxact/model.h"

namespace maxact::engine {

// A tensor widened to fp32 (FP8 block weights dequantized); rounded to bf16 in bf16 mode unless
// keep_fp32 (gpt-oss norm weights). Throws kTensorMismatch naming the tensor if it is absent.
std::vector<float> load_tensor(const Model& m, const std::string& name, const Rounding& rd,
                               bool keep_fp32 = false);
bool has_tensor(const Model& m, const std::string& name);

// A dense SwiGLU MLP (or a shared expert): gate_up rows are gate | up.
struct MlpWeights {
  PackedWeight gate_up;
  std::vector<float> gate_up_bias;
  PackedWeight down;
  std::vector<float> down_bias;
};

// A routed-expert MLP: the router is loaded with the layer, each expert only when a token of the
// window is routed to it (MXFP4 experts are dequantized then, one expert at a time).
struct MoeWeights {
  std::string experts;  // the experts' tensor prefix: "model.layers.3.mlp.experts"
  PackedWeight router;
  std::vector<float> router_bias;  // gpt-oss: added to the logits
  std::vector<float> expert_bias;  // bailing v2: added to the scores for selection only
  MlpWeights shared;               // the shared expert, empty when none
  PackedWeight shared_gate;        // qwen: its sigmoid gate [1, hidden]; empty for Ling
  // Per expert; empty until used. gate_up rows are gate | up (gpt-oss's interleaved columns
  // reordered so), as are the gate_up biases.
  std::vector<PackedWeight> gate_up, down;
  std::vector<std::vector<float>> gate_up_bias, down_bias;  // gpt-oss only
};
void ensure_expert(const Model& m, MoeWeights& w, int expert, const Rounding& rd);

// A Gated DeltaNet mixer. in_proj rows: qwen3_next in_proj_qkvz | in_proj_ba, qwen3.5
// in_proj_qkv | in_proj_z | in_proj_b | in_proj_a (the same width either way).
struct LinearAttnWeights {
  PackedWeight in_proj;
  std::vector<float> conv;  // [conv_dim, kernel]
  std::vector<float> dt_bias, A_log, norm;
  PackedWeight out;
};

// One decoder layer: its token mixer (attention or Gated DeltaNet) and MLP (dense or routed).
struct LayerWeights {
  std::vector<float> input_norm, post_attn_norm, pre_ff_norm, post_ff_norm;
  PackedWeight qkv;  // rows q | k | v (separate projections concatenated)
  std::vector<float> qkv_bias;
  std::vector<float> q_norm, k_norm;
  std::vector<float> sinks;  // gpt-oss: per query head
  PackedWeight o;
  std::vector<float> o_bias;
  LinearAttnWeights linear;  // Gated DeltaNet layers (then the attention fields stay empty)
  MlpWeights mlp;            // dense layers
  MoeWeights moe;            // MoE layers
};

LayerWeights load_layer_weights(const Model& m, int layer, const Rounding& rd);

}  // namespace maxact::engine
