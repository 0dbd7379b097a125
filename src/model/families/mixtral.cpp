// mixtral: mistral attention + softmax-top-k routed SwiGLU experts (transformers' models/mixtral;
// docs/NUMERICS.md §7).
#include "model/families/families.h"
#include "model/family_common.h"

namespace maxact::families {

ModelSpec mixtral(const ConfigReader& c) {
  ModelSpec s;
  s.family = "mixtral";
  ConfigDefaults d;
  d.intermediate_size = 14336;
  d.num_kv_heads = 8;
  d.rms_norm_eps = 1e-5;
  d.rope_theta = 1e6;
  const int64_t inter = read_basic_dims(c, s, d);
  s.rope.push_back(read_rope(c, s, d.rope_theta, 1.0));
  const int window = c.get_window("sliding_window", 0);
  auto& m = s.moe;
  m.num_experts = static_cast<int>(c.get_int("num_local_experts", 8));
  m.top_k = static_cast<int>(c.get_int("num_experts_per_tok", 2));
  m.intermediate = static_cast<int>(inter);
  m.router = RouterKind::kSoftmaxTopK;
  m.norm_topk_prob = true;  // Mixtral always renormalises the top-k weights
  m.combine = CombineKind::kExpertOrderInDtype;
  m.storage = ExpertStorage::kPerExpert;
  if (m.num_experts <= 0) c.fail("num_local_experts", "must be positive");
  if (m.top_k <= 0 || m.top_k > m.num_experts) {
    c.fail("num_experts_per_tok", "must be in [1, num_local_experts]");
  }
  // The MoE module is block_sparse_moe in Mixtral's checkpoints (and transformers v4), its
  // experts' projections w1 / w3 / w2.
  s.names.moe = "block_sparse_moe";
  s.names.expert_gate = "w1";
  s.names.expert_up = "w3";
  s.names.expert_down = "w2";
  add_embedding_and_head(s);
  for (int i = 0; i < s.num_layers; ++i) {
    s.layers.push_back({MixerKind::kAttention, window, 0, MlpKind::kMoe, 0});
    add_layer_norm(s, i, s.names.input_norm);
    add_attention(s, i);
    add_layer_norm(s, i, s.names.post_attn_norm);
    add_per_expert_moe(s, i);
  }
  return s;
}

}  // namespace maxact::families
