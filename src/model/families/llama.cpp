// llama and mistral: the reference decoder (transformers' models/llama, models/mistral).
#include "model/families/families.h"
#include "model/family_common.h"

namespace maxact::families {
namespace {

ModelSpec llama_like(const ConfigReader& c, const char* family, const ConfigDefaults& d,
                     int64_t default_window) {
  ModelSpec s;
  s.family = family;
  const int64_t inter = read_basic_dims(c, s, d);
  const bool attn_bias = c.get_bool("attention_bias", false);
  const bool mlp_bias = c.get_bool("mlp_bias", false);
  s.attention.q_bias = s.attention.k_bias = s.attention.v_bias = s.attention.o_bias = attn_bias;
  s.rope.push_back(read_rope(c, s, d.rope_theta, 1.0));
  const int window = c.get_window("sliding_window", default_window);
  add_embedding_and_head(s);
  for (int i = 0; i < s.num_layers; ++i) {
    s.layers.push_back(
        {MixerKind::kAttention, window, 0, MlpKind::kDense, static_cast<int>(inter)});
    add_layer_norm(s, i, s.names.input_norm);
    add_attention(s, i);
    add_layer_norm(s, i, s.names.post_attn_norm);
    add_gated_mlp(s, s.names.mlp, inter, i, mlp_bias);
  }
  return s;
}

}  // namespace

ModelSpec llama(const ConfigReader& c) {
  ConfigDefaults d;  // LlamaConfig defaults
  return llama_like(c, "llama", d, 0);
}

ModelSpec mistral(const ConfigReader& c) {
  ConfigDefaults d;
  d.intermediate_size = 14336;
  d.num_kv_heads = 8;
  d.max_position_embeddings = 131072;
  // MistralConfig defaults sliding_window to 4096; v0.2+ configs write null (no window).
  return llama_like(c, "mistral", d, 4096);
}

}  // namespace maxact::families
