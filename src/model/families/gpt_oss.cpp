// gpt_oss (transformers' models/gpt_oss): attention sinks, YaRN, alternating sliding window,
// top-k-then-softmax router with bias, clamped SwiGLU experts stored MXFP4 (or dequantized bf16).
#include "model/families/families.h"
#include "model/family_common.h"

namespace maxact::families {

ModelSpec gpt_oss(const ConfigReader& c) {
  ModelSpec s;
  s.family = "gpt_oss";
  s.norm = NormKind::kFp32Weight;
  ConfigDefaults d;
  d.silu_from_hidden_act = false;
  d.vocab_size = 201088;
  d.hidden_size = 2880;
  d.intermediate_size = 2880;
  d.num_layers = 36;
  d.num_heads = 64;
  d.num_kv_heads = 8;
  d.head_dim = 64;
  d.rms_norm_eps = 1e-5;
  d.rope_theta = 150000.0;
  d.max_position_embeddings = 131072;
  const int64_t inter = read_basic_dims(c, s, d);
  auto& a = s.attention;
  a.q_bias = a.k_bias = a.v_bias = a.o_bias = true;  // GptOssConfig forces attention_bias
  a.sinks = true;
  s.rope.push_back(read_rope(c, s, d.rope_theta, 1.0));
  read_quantization(c, s);

  auto& m = s.moe;
  m.num_experts = static_cast<int>(c.get_int("num_local_experts", 128));
  m.top_k = static_cast<int>(c.get_int("num_experts_per_tok", c.get_int("experts_per_token", 4)));
  m.intermediate = static_cast<int>(inter);
  m.router = RouterKind::kTopKSoftmax;
  m.router_bias = true;
  m.combine = CombineKind::kFp32OverAllExperts;
  m.swiglu_limit = c.get_double("swiglu_limit", 7.0);
  m.storage = s.quantization == Quantization::kMxfp4 ? ExpertStorage::kGptOssMxfp4
                                                     : ExpertStorage::kGptOssDense;
  if (m.num_experts <= 0) c.fail("num_local_experts", "must be positive");
  if (m.top_k <= 0 || m.top_k > m.num_experts)
    c.fail("num_experts_per_tok", "must be in [1, num_local_experts]");
  if (m.storage == ExpertStorage::kGptOssMxfp4 && (s.hidden_size % 32 != 0 || inter % 32 != 0)) {
    c.fail("hidden_size", "and intermediate_size must be multiples of 32 for MXFP4 experts");
  }

  const int window = c.get_window("sliding_window", 128);
  const auto types = read_layer_types(c, s.num_layers, {"sliding_attention", "full_attention"});
  s.names.router = "router";
  add_embedding_and_head(s);
  const int64_t H = s.hidden_size, I = inter, E = m.num_experts;
  for (int i = 0; i < s.num_layers; ++i) {
    const bool sliding =
        types.empty() ? i % 2 == 0 : types[static_cast<std::size_t>(i)] == "sliding_attention";
    s.layers.push_back({MixerKind::kAttention, sliding ? window : 0, 0, MlpKind::kMoe, 0});
    const ModuleNames& n = s.names;
    add_layer_norm(s, i, n.input_norm);
    add_attention(s, i);
    add_layer_norm(s, i, n.post_attn_norm);
    const std::string p = layer_tensor_prefix(i);
    add_linear(s, p + n.moe_part(n.router), E, H, i, true);
    // Fused storage of every expert: gate_up (interleaved columns) and down, with biases.
    const std::string ex = p + n.moe_part(n.experts) + ".";
    const std::string gu = n.expert_gate_up, dn = n.expert_down;
    const auto kE = TensorReq::Role::kExpert;
    const int all = m.num_experts;
    if (m.storage == ExpertStorage::kGptOssMxfp4) {
      const auto packed = [&](const std::string& name, std::vector<int64_t> shape, int per) {
        TensorReq& t = add_tensor(s, ex + name, std::move(shape), kE, i, false, all);
        t.packed_u8 = true;
        t.params_per_element = per;
      };
      packed(gu + "_blocks", {E, 2 * I, H / 32, 16}, 2);
      packed(gu + "_scales", {E, 2 * I, H / 32}, 0);
      packed(dn + "_blocks", {E, H, I / 32, 16}, 2);
      packed(dn + "_scales", {E, H, I / 32}, 0);
    } else {
      add_tensor(s, ex + gu, {E, H, 2 * I}, kE, i, false, all);
      add_tensor(s, ex + dn, {E, I, H}, kE, i, false, all);
    }
    add_tensor(s, ex + gu + "_bias", {E, 2 * I}, kE, i, false, all);
    add_tensor(s, ex + dn + "_bias", {E, H}, kE, i, false, all);
  }
  return s;
}

}  // namespace maxact::families
