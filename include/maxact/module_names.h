// The one table of a family's module names, as its checkpoints and its Hugging Face modeling code
// spell them (tensor names and hook paths are the same paths). Family adapters set what differs
// from the llama spelling below; the tensor table, weight loading and tap naming all read it, so
// a name is written once. Paths are relative to a decoder layer ("model.layers.{i}") unless said.
#pragma once

#include <string>

namespace maxact {

struct ModuleNames {
  // Relative to the decoder stack ("model"): the embedding and the final norm.
  std::string embed = "embed_tokens";
  std::string final_norm = "norm";

  std::string input_norm = "input_layernorm";
  // Gemma 2/3 normalise the attention output with it (a sandwich norm); elsewhere it is the MLP's
  // input norm.
  std::string post_attn_norm = "post_attention_layernorm";
  std::string pre_ff_norm = "pre_feedforward_layernorm";
  std::string post_ff_norm = "post_feedforward_layernorm";

  // Attention; its parts are relative to `attn`.
  std::string attn = "self_attn";
  std::string q = "q_proj", k = "k_proj", v = "v_proj";
  std::string qkv = "qkv_proj";  // the fused projection (AttentionSpec::fused_qkv)
  std::string o = "o_proj";
  std::string q_norm = "q_norm", k_norm = "k_norm";
  std::string sinks = "sinks";  // a parameter, not a module (gpt-oss)

  // Gated DeltaNet (qwen3_next, qwen3.5); parts relative to `linear_attn`. qwen3_next stores the
  // fused in_proj_qkvz / in_proj_ba, qwen3.5 the four separate projections.
  std::string linear_attn = "linear_attn";
  std::string lin_qkvz = "in_proj_qkvz", lin_ba = "in_proj_ba";
  std::string lin_qkv = "in_proj_qkv", lin_z = "in_proj_z", lin_b = "in_proj_b",
              lin_a = "in_proj_a";
  std::string lin_conv = "conv1d", lin_dt_bias = "dt_bias", lin_a_log = "A_log";
  std::string lin_norm = "norm", lin_out = "out_proj";

  // A gated MLP's projections, relative to its module: the dense `mlp` and the shared expert.
  std::string mlp = "mlp";
  std::string gate_proj = "gate_proj", up_proj = "up_proj", down_proj = "down_proj";
  std::string gate_up_proj = "gate_up_proj";  // the fused projection (MlpKind::kDenseFusedGateUp)

  // Routed experts; parts relative to `moe`. How the experts are stored is MoeSpec::storage:
  // per expert `experts.{e}.{expert_gate,expert_up,expert_down}`, or fused
  // `experts.{expert_gate_up,expert_down}` holding every expert.
  std::string moe = "mlp";
  std::string router = "gate";
  std::string router_expert_bias = "gate.expert_bias";  // Ling 2.0's selection bias (a parameter)
  std::string experts = "experts";
  std::string expert_gate = "gate_proj", expert_up = "up_proj", expert_down = "down_proj";
  std::string expert_gate_up = "gate_up_proj";
  std::string shared_expert = "shared_expert";
  std::string shared_expert_gate = "shared_expert_gate";

  // Tensor names of the stack-level weights, wrapper prefixes removed.
  std::string embed_weight() const { return "model." + embed + ".weight"; }
  std::string final_norm_weight() const { return "model." + final_norm + ".weight"; }

  // Joined paths relative to the decoder layer.
  std::string attn_part(const std::string& part) const { return attn + "." + part; }
  std::string linear_part(const std::string& part) const { return linear_attn + "." + part; }
  std::string moe_part(const std::string& part) const { return moe + "." + part; }
};

// "model.layers.{i}.": a decoder layer's tensor names once wrapper prefixes are removed.
std::string layer_tensor_prefix(int layer);

}  // namespace maxact
