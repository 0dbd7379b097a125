// phi3 (transformers' models/phi3): fused qkv_proj and gate_up_proj, partial rotary, longrope.
#include "model/families/families.h"
#include "model/family_common.h"

namespace maxact::families {

ModelSpec phi3(const ConfigReader& c) {
  ModelSpec s;
  s.family = "phi3";
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
  for (int i = 0; i < s.num_layers; ++i) {
    s.layers.push_back(
        {MixerKind::kAttention, window, 0, MlpKind::kDenseFusedGateUp, static_cast<int>(inter)});
    add_layer_norm(s, i, s.names.input_norm);
    add_attention(s, i);
    add_layer_norm(s, i, s.names.post_attn_norm);
    add_gated_mlp(s, s.names.mlp, inter, i, false, /*fused_gate_up=*/true);
  }
  return s;
}

}  // namespace maxact::families
