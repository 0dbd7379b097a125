// bailing_moe (Ling v1) and bailing_moe_v2 (Ling 2.0), remote-code families (the hub's
// inclusionAI/Ling and inclusionAI/Ling-V2): fused query_key_value, `dense` output projection,
// shared experts, first_k_dense_replace dense layers; v2 adds q/k norms, partial RoPE and a
// sigmoid group router.
#include "model/families/families.h"
#include "model/family_common.h"

namespace maxact::families {
namespace {

ConfigDefaults bailing_defaults(bool v2) {
  ConfigDefaults d;
  if (v2) {
    d.vocab_size = 157184;
    d.hidden_size = 2048;
    d.intermediate_size = 5120;
    d.num_layers = 20;
    d.num_heads = 16;
    d.num_kv_heads = 4;
    d.head_dim = 128;
    d.rope_theta = 600000.0;
  } else {
    d.vocab_size = 30592;
    d.hidden_size = 1024;
    d.intermediate_size = 0;
    d.num_layers = 24;
    d.num_heads = 16;
    d.rms_norm_eps = 1e-5;
  }
  return d;
}

// The routed experts (v1: softmax top-k; v2: sigmoid group router with a selection bias), the
// shared experts, and the MTP layers Ling 2.0 stores after the stack.
void read_bailing_moe(const ConfigReader& c, bool v2, ModelSpec& s) {
  auto& m = s.moe;
  m.num_experts = static_cast<int>(c.get_int("num_experts", v2 ? 256 : 16));
  m.top_k = static_cast<int>(c.get_int("num_experts_per_tok", v2 ? 8 : 2));
  m.intermediate = static_cast<int>(c.get_int("moe_intermediate_size", v2 ? 512 : 0));
  // v1 renormalises iff norm_topk_prob and k > 1; v2 always when k > 1 (its gate ignores the
  // flag); a single weight is then kept as is, not renormalised to 1.
  m.norm_topk_prob = (v2 || c.get_bool("norm_topk_prob", true)) && m.top_k > 1;
  m.combine = CombineKind::kFp32OverSlots;
  m.storage = ExpertStorage::kPerExpert;
  const int64_t shared = c.get_int("num_shared_experts", v2 ? 1 : 0);
  const int64_t shared_width = c.get_int("moe_shared_expert_intermediate_size", 0);
  m.shared_intermediate = static_cast<int>(shared <= 0        ? 0
                                           : shared_width > 0 ? shared_width
                                                              : m.intermediate * shared);
  if (v2) {
    m.router = RouterKind::kSigmoidGroupLimited;
    m.router_fp32 = true;
    m.expert_bias = c.get_bool("moe_router_enable_expert_bias", true);
    m.num_groups = static_cast<int>(c.get_int("n_group", 8));
    m.topk_groups = static_cast<int>(c.get_int("topk_group", 4));
    m.routed_scaling = c.get_double("routed_scaling_factor", 2.5);  // docs/DECISIONS.md
    s.mtp_layers = static_cast<int>(c.get_int("num_nextn_predict_layers", 0));
    if (s.mtp_layers < 0) c.fail("num_nextn_predict_layers", "must be non-negative");
    if (m.num_groups <= 0 || m.num_experts % m.num_groups != 0) {
      c.fail("n_group", "must divide num_experts");
    }
    if (m.topk_groups <= 0 || m.topk_groups > m.num_groups)
      c.fail("topk_group", "must be in [1, n_group]");
    if (m.top_k > m.topk_groups * (m.num_experts / m.num_groups)) {
      c.fail("num_experts_per_tok", "exceeds the experts of the topk_group groups kept");
    }
  } else {
    m.router = RouterKind::kSoftmaxTopK;
  }
  if (m.num_experts <= 0) c.fail("num_experts", "must be positive");
  if (m.top_k <= 0 || m.top_k > m.num_experts)
    c.fail("num_experts_per_tok", "must be in [1, num_experts]");
}

ModelSpec bailing(const ConfigReader& c, bool v2) {
  ModelSpec s;
  s.family = v2 ? "bailing_moe_v2" : "bailing_moe";
  const ConfigDefaults d = bailing_defaults(v2);
  const int64_t inter = read_basic_dims(c, s, d);
  auto& a = s.attention;
  a.fused_qkv = true;
  a.scale_q_first = !v2;  // v1 divides q by sqrt(head_dim) before q kᵀ; v2 divides the product
  s.names.embed = "word_embeddings";
  s.names.shared_expert = "shared_experts";  // ungated, unlike Qwen's shared_expert
  s.names.attn = "attention";
  s.names.qkv = "query_key_value";
  s.names.o = "dense";
  s.names.q_norm = "query_layernorm";
  s.names.k_norm = "key_layernorm";
  a.q_bias = a.k_bias = a.v_bias = c.get_bool("use_qkv_bias", false);
  a.o_bias = c.get_bool("use_bias", !v2);
  a.qk_norm = v2 && c.get_bool("use_qk_norm", true);
  s.norm_head = c.get_bool("norm_head", false);
  // docs/DECISIONS.md: partial rotary 0.5 in Ling 2.0 (llama.cpp's default too).
  s.rope.push_back(read_rope(c, s, d.rope_theta, v2 ? 0.5 : 1.0));

  read_bailing_moe(c, v2, s);
  const auto& m = s.moe;
  const int first_dense = static_cast<int>(c.get_int("first_k_dense_replace", v2 ? 1 : 0));
  if (first_dense > 0 && inter <= 0) c.fail("intermediate_size", "is required for dense layers");
  if (first_dense < s.num_layers && m.intermediate <= 0)
    c.fail("moe_intermediate_size", "is required");

  add_embedding_and_head(s);
  for (int i = 0; i < s.num_layers; ++i) {
    const bool moe = i >= first_dense;
    s.layers.push_back({MixerKind::kAttention, 0, 0, moe ? MlpKind::kMoe : MlpKind::kDense,
                        moe ? 0 : static_cast<int>(inter)});
    add_layer_norm(s, i, s.names.input_norm);
    add_attention(s, i);
    add_layer_norm(s, i, s.names.post_attn_norm);
    if (!moe) {
      add_gated_mlp(s, s.names.mlp, inter, i, false);
      continue;
    }
    add_per_expert_moe(s, i);
    if (m.expert_bias) {
      add_tensor(s, layer_tensor_prefix(i) + s.names.moe_part(s.names.router_expert_bias),
                 {m.num_experts}, TensorReq::Role::kOther, i);
    }
    add_shared_expert(s, i);
  }
  return s;
}

}  // namespace

ModelSpec bailing_moe(const ConfigReader& c) {
  return bailing(c, false);
}
ModelSpec bailing_moe_v2(const ConfigReader& c) {
  return bailing(c, true);
}

}  // namespace maxact::families
