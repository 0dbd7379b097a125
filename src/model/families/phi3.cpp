// phi3 (ARCHITECTURES.md §17): fused qkv_proj and gate_up_proj, partial rotary, longrope.
#include "model/families/families.h"
#include "model/family_common.h"

namespace maxact::families {

ModelSpec phi3(const ConfigReader& c) {
  ModelSpec s;
  s.family = Family::kPhi3;
  ConfigDefaults d;
  d.vocab_size = 32064;
  d.hidden_size = 3072;
  d.intermediate_size = 8192;
  d.rms_norm_eps = 1e-5;
  d.max_position_embeddings = 4096;
  const int64_t inter = read_basic_dims(c, s, d);
  auto& a = s.attention;
  a.fused_qkv = true;
  // Old Phi-3 configs name longrope "su" or "yarn".
  s.rope.push_back(read_rope(c, s, d.rope_theta, 1.0, /*legacy_yarn_is_longrope=*/true));
  const int window = c.get_window("sliding_window", 0);
  add_embedding_and_head(s);
  const int64_t H = s.hidden_size, hd = a.head_dim;
  for (int i = 0; i < s.num_layers; ++i) {
    s.layers.push_back(
        {MixerKind::kAttention, window, 0, MlpKind::kDenseFusedGateUp, static_cast<int>(inter)});
    const std::string p = layer_prefix(i);
    add_norm(s, p + "input_layernorm", H, i);
    add_linear(s, p + "self_attn.qkv_proj", (a.num_heads + 2 * int64_t{a.num_kv_heads}) * hd, H, i);
    add_linear(s, p + "self_attn.o_proj", H, a.num_heads * hd, i);
    add_norm(s, p + "post_attention_layernorm", H, i);
    add_linear(s, p + "mlp.gate_up_proj", 2 * inter, H, i);
    add_linear(s, p + "mlp.down_proj", H, inter, i);
  }
  return s;
}

}  // namespace maxact::families
