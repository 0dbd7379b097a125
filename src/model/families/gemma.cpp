// gemma, gemma2, gemma3 (transformers' models/ of those names): "1 + w" norms, GeGLU, embeddings
// scaled by bf(sqrt(hidden)); gemma2/3 add sandwich norms and local/global attention.
#include <cmath>

#include "model/families/families.h"
#include "model/family_common.h"

namespace maxact::families {
namespace {

Activation gemma_activation(const ConfigReader& c) {
  // v4 Gemma uses hidden_activation and falls back to GELU-tanh, ignoring hidden_act
  // (Gemma-1 configs carry hidden_act "gelu"); docs/DECISIONS.md keeps that behaviour.
  const std::string act = c.get_string("hidden_activation", "gelu_pytorch_tanh");
  if (act == "gelu_pytorch_tanh" || act == "gelu_new" || act == "gelu_fast")
    return Activation::kGeluTanh;
  if (act == "gelu") return Activation::kGelu;
  if (act == "silu" || act == "swish") return Activation::kSilu;
  c.fail("hidden_activation", "'" + act + "' is not supported (gelu_pytorch_tanh, gelu, silu)");
}

ModelSpec gemma_base(const ConfigReader& c, const char* family, const ConfigDefaults& d,
                     int64_t& inter) {
  ModelSpec s;
  s.family = family;
  s.norm = NormKind::kOnePlus;
  s.embed_scale = true;
  s.activation = gemma_activation(c);
  inter = read_basic_dims(c, s, d);
  const bool bias = c.get_bool("attention_bias", false);
  s.attention.q_bias = s.attention.k_bias = s.attention.v_bias = s.attention.o_bias = bias;
  return s;
}

void add_gemma_layers(ModelSpec& s, int64_t inter) {
  add_embedding_and_head(s);
  for (int i = 0; i < s.num_layers; ++i) {
    add_layer_norm(s, i, s.names.input_norm);
    add_attention(s, i);
    add_layer_norm(s, i, s.names.post_attn_norm);
    if (s.sandwich_norms) {
      add_layer_norm(s, i, s.names.pre_ff_norm);
      add_layer_norm(s, i, s.names.post_ff_norm);
    }
    add_gated_mlp(s, s.names.mlp, inter, i, false);
  }
}

ConfigDefaults gemma2_defaults() {
  ConfigDefaults d;
  d.vocab_size = 256000;
  d.hidden_size = 2304;
  d.intermediate_size = 9216;
  d.num_layers = 26;
  d.num_heads = 8;
  d.num_kv_heads = 4;
  d.head_dim = 256;
  d.tie_word_embeddings = true;
  d.max_position_embeddings = 8192;
  d.silu_from_hidden_act = false;
  return d;
}

}  // namespace

ModelSpec gemma(const ConfigReader& c) {
  ConfigDefaults d;
  d.silu_from_hidden_act = false;
  d.vocab_size = 256000;
  d.hidden_size = 3072;
  d.intermediate_size = 24576;
  d.num_layers = 28;
  d.num_heads = 16;
  d.num_kv_heads = 16;
  d.head_dim = 256;
  d.tie_word_embeddings = true;
  d.max_position_embeddings = 8192;
  int64_t inter = 0;
  ModelSpec s = gemma_base(c, "gemma", d, inter);
  s.rope.push_back(read_rope(c, s, d.rope_theta, 1.0));
  for (int i = 0; i < s.num_layers; ++i) {
    s.layers.push_back({MixerKind::kAttention, 0, 0, MlpKind::kDense, static_cast<int>(inter)});
  }
  add_gemma_layers(s, inter);
  return s;
}

ModelSpec gemma2(const ConfigReader& c) {
  const ConfigDefaults d = gemma2_defaults();
  int64_t inter = 0;
  ModelSpec s = gemma_base(c, "gemma2", d, inter);
  s.sandwich_norms = true;
  s.attention.scale = 1.0 / std::sqrt(c.get_double("query_pre_attn_scalar", 256.0));
  // Gemma2Config defaults both softcaps on; a null in config.json switches one off.
  s.attention.logit_softcap =
      c.present("attn_logit_softcapping") ? c.get_double("attn_logit_softcapping", 0.0) : 50.0;
  s.final_logit_softcap =
      c.present("final_logit_softcapping") ? c.get_double("final_logit_softcapping", 0.0) : 30.0;
  s.rope.push_back(read_rope(c, s, d.rope_theta, 1.0));
  const int window = c.get_window("sliding_window", 4096);
  const auto types = read_layer_types(c, s.num_layers, {"sliding_attention", "full_attention"});
  for (int i = 0; i < s.num_layers; ++i) {
    const bool sliding =
        types.empty() ? i % 2 == 0 : types[static_cast<std::size_t>(i)] == "sliding_attention";
    s.layers.push_back(
        {MixerKind::kAttention, sliding ? window : 0, 0, MlpKind::kDense, static_cast<int>(inter)});
  }
  add_gemma_layers(s, inter);
  return s;
}

ModelSpec gemma3(const ConfigReader& c) {
  ConfigDefaults d = gemma2_defaults();
  d.vocab_size = 262208;
  d.rope_theta = 1e6;
  d.max_position_embeddings = 131072;
  int64_t inter = 0;
  ModelSpec s = gemma_base(c, "gemma3", d, inter);
  s.sandwich_norms = true;
  s.attention.qk_norm = true;
  s.attention.scale = 1.0 / std::sqrt(c.get_double("query_pre_attn_scalar", 256.0));
  s.attention.logit_softcap = c.get_double("attn_logit_softcapping", 0.0);
  s.final_logit_softcap = c.get_double("final_logit_softcapping", 0.0);
  // Table 0 = global (full-attention layers), table 1 = local (sliding layers).
  const nlohmann::json* rp = c.find("rope_parameters");
  if (rp != nullptr && rp->is_object() && rp->contains("full_attention")) {
    for (const char* kind : {"full_attention", "sliding_attention"}) {
      auto it = rp->find(kind);
      if (it == rp->end() || !it->is_object()) {
        c.fail(std::string("rope_parameters.") + kind, "must be an object");
      }
      const double theta = std::string(kind) == "full_attention" ? 1e6 : 1e4;
      s.rope.push_back(
          rope_from_object(c, *it, std::string("rope_parameters.") + kind, s, theta, 1.0, false));
    }
  } else {
    s.rope.push_back(read_rope(c, s, d.rope_theta, 1.0));  // rope_scaling: global layers only
    nlohmann::json local = {{"rope_type", "default"},
                            {"rope_theta", c.get_double("rope_local_base_freq", 10000.0)}};
    s.rope.push_back(rope_from_object(c, local, "rope_local_base_freq", s, 10000.0, 1.0, false));
  }
  const int window = c.get_window("sliding_window", 4096);
  const int pattern = static_cast<int>(c.get_int("sliding_window_pattern", 6));
  if (pattern <= 0) c.fail("sliding_window_pattern", "must be positive");
  const auto types = read_layer_types(c, s.num_layers, {"sliding_attention", "full_attention"});
  for (int i = 0; i < s.num_layers; ++i) {
    const bool sliding = types.empty() ? (i + 1) % pattern != 0
                                       : types[static_cast<std::size_t>(i)] == "sliding_attention";
    s.layers.push_back({MixerKind::kAttention, sliding ? window : 0, sliding ? 1 : 0,
                        MlpKind::kDense, static_cast<int>(inter)});
  }
  add_gemma_layers(s, inter);
  return s;
}

}  // namespace maxact::families
