// qwen2, qwen2_5_vl (text backbone), qwen3, qwen3_moe (transformers' models/ of those names).
#include <algorithm>

#include "model/families/families.h"
#include "model/family_common.h"

namespace maxact::families {
namespace {

// Qwen sliding windows: only with use_sliding_window, on layers >= max_window_layers, unless
// `layer_types` says otherwise (v4.5x+ configs write it).
std::vector<int> qwen_windows(const ConfigReader& c, int num_layers) {
  const bool use = c.get_bool("use_sliding_window", false);
  const int window = use ? c.get_window("sliding_window", 4096) : 0;
  const int max_window_layers = static_cast<int>(c.get_int("max_window_layers", 28));
  const auto types = read_layer_types(c, num_layers, {"full_attention", "sliding_attention"});
  std::vector<int> out(static_cast<std::size_t>(num_layers), 0);
  for (int i = 0; i < num_layers; ++i) {
    const bool sliding = types.empty() ? (i >= max_window_layers)
                                       : types[static_cast<std::size_t>(i)] == "sliding_attention";
    out[static_cast<std::size_t>(i)] = sliding ? window : 0;
  }
  return out;
}

ModelSpec qwen_dense(const ConfigReader& c, const char* family, const ConfigDefaults& d,
                     bool qkv_bias, bool qk_norm) {
  ModelSpec s;
  s.family = family;
  const int64_t inter = read_basic_dims(c, s, d);
  auto& a = s.attention;
  if (qkv_bias) {  // qwen2: q/k/v always biased, o_proj never
    a.q_bias = a.k_bias = a.v_bias = true;
  } else {  // qwen3: attention_bias switches all four
    a.q_bias = a.k_bias = a.v_bias = a.o_bias = c.get_bool("attention_bias", false);
  }
  a.qk_norm = qk_norm;
  s.rope.push_back(read_rope(c, s, d.rope_theta, 1.0));
  const auto windows = qwen_windows(c, s.num_layers);
  add_embedding_and_head(s);
  for (int i = 0; i < s.num_layers; ++i) {
    s.layers.push_back({MixerKind::kAttention, windows[static_cast<std::size_t>(i)], 0,
                        MlpKind::kDense, static_cast<int>(inter)});
    add_layer_norm(s, i, s.names.input_norm);
    add_attention(s, i);
    add_layer_norm(s, i, s.names.post_attn_norm);
  }
  return s;
}

ConfigDefaults qwen2_defaults() {
  ConfigDefaults d;
  d.vocab_size = 151936;
  d.intermediate_size = 22016;
  d.max_position_embeddings = 32768;
  return d;
}

void add_dense_mlps(ModelSpec& s) {
  for (int i = 0; i < s.num_layers; ++i) {
    add_gated_mlp(s, s.names.mlp, s.layers[static_cast<std::size_t>(i)].intermediate, i, false);
  }
}

}  // namespace

ModelSpec qwen2(const ConfigReader& c) {
  ModelSpec s = qwen_dense(c, "qwen2", qwen2_defaults(), true, false);
  add_dense_mlps(s);
  return s;
}

ModelSpec qwen2_5_vl(const ConfigReader& c) {
  // M-RoPE with text-only input is 1-D RoPE (all three position streams equal).
  ConfigDefaults d = qwen2_defaults();
  d.vocab_size = 152064;
  d.hidden_size = 8192;
  d.intermediate_size = 29568;
  d.num_layers = 80;
  d.num_heads = 64;
  d.num_kv_heads = 8;
  d.rope_theta = 1e6;
  ModelSpec s = qwen_dense(c, "qwen2_5_vl", d, true, false);
  add_dense_mlps(s);
  return s;
}

ModelSpec qwen3(const ConfigReader& c) {
  ConfigDefaults d = qwen2_defaults();
  d.head_dim = 128;
  ModelSpec s = qwen_dense(c, "qwen3", d, false, true);
  add_dense_mlps(s);
  return s;
}

ModelSpec qwen3_moe(const ConfigReader& c) {
  ConfigDefaults d = qwen2_defaults();
  d.hidden_size = 2048;
  d.intermediate_size = 6144;
  d.num_layers = 24;
  d.num_heads = 32;
  d.num_kv_heads = 4;
  d.head_dim = 128;
  ModelSpec s = qwen_dense(c, "qwen3_moe", d, false, true);
  s.family = "qwen3_moe";
  auto& m = s.moe;
  m.num_experts = static_cast<int>(c.get_int("num_experts", 128));
  m.top_k = static_cast<int>(c.get_int("num_experts_per_tok", 8));
  m.intermediate = static_cast<int>(c.get_int("moe_intermediate_size", 768));
  m.norm_topk_prob = c.get_bool("norm_topk_prob", false);
  m.router = RouterKind::kSoftmaxTopK;
  m.combine = CombineKind::kExpertOrderInDtype;
  m.storage = ExpertStorage::kPerExpert;
  const int step = static_cast<int>(c.get_int("decoder_sparse_step", 1));
  const auto mlp_only = c.get_int_list("mlp_only_layers");
  if (step <= 0) c.fail("decoder_sparse_step", "must be positive");
  if (m.num_experts > 0 && (m.top_k <= 0 || m.top_k > m.num_experts)) {
    c.fail("num_experts_per_tok", "must be in [1, num_experts]");
  }
  for (int i = 0; i < s.num_layers; ++i) {
    auto& L = s.layers[static_cast<std::size_t>(i)];
    const bool dense_only = std::find(mlp_only.begin(), mlp_only.end(), i) != mlp_only.end();
    if (!dense_only && m.num_experts > 0 && (i + 1) % step == 0) {
      L.mlp = MlpKind::kMoe;
      L.intermediate = 0;
      add_per_expert_moe(s, i);
    } else {
      add_gated_mlp(s, s.names.mlp, L.intermediate, i, false);
    }
  }
  return s;
}

}  // namespace maxact::families
