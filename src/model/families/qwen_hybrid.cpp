// qwen3_next, qwen3_5, qwen3_5_moe: Gated DeltaNet linear-attention layers interleaved with gated
// full attention, N2 ("1 + w") norms (transformers' models/qwen3_next, qwen3_5, qwen3_5_moe;
// docs/NUMERICS.md §8).
#include <algorithm>

#include "model/families/families.h"
#include "model/family_common.h"

namespace maxact::families {
namespace {

enum class HybridMlp { kNextMoe, kDense, kFusedMoe };

// A Gated DeltaNet mixer's tensors: its input projections as stored (fused qkvz / ba or four),
// the causal conv, dt_bias, A_log, the gated output norm and out_proj.
void add_gated_deltanet(ModelSpec& s, int i) {
  const ModuleNames& n = s.names;
  const LinearAttnSpec& g = s.linear_attn;
  const std::string la = layer_tensor_prefix(i) + n.linear_attn + ".";
  const int64_t H = s.hidden_size, key_dim = int64_t{g.num_k_heads} * g.k_head_dim;
  const int64_t value_dim = int64_t{g.num_v_heads} * g.v_head_dim;
  const int64_t conv_dim = 2 * key_dim + value_dim;
  if (g.fused_qkvz) {
    add_linear(s, la + n.lin_qkvz, 2 * key_dim + 2 * value_dim, H, i);
    add_linear(s, la + n.lin_ba, 2 * int64_t{g.num_v_heads}, H, i);
  } else {
    add_linear(s, la + n.lin_qkv, conv_dim, H, i);
    add_linear(s, la + n.lin_z, value_dim, H, i);
    add_linear(s, la + n.lin_b, g.num_v_heads, H, i);
    add_linear(s, la + n.lin_a, g.num_v_heads, H, i);
  }
  const auto kOther = TensorReq::Role::kOther;
  add_tensor(s, la + n.lin_conv + ".weight", {conv_dim, 1, g.conv_kernel}, kOther, i);
  add_tensor(s, la + n.lin_dt_bias, {g.num_v_heads}, kOther, i);
  add_tensor(s, la + n.lin_a_log, {g.num_v_heads}, kOther, i);
  add_norm(s, la + n.lin_norm, g.v_head_dim, i);
  add_linear(s, la + n.lin_out, H, value_dim, i);
}

// Qwen3.5-MoE's fused expert storage: experts.gate_up_proj [E, 2I, H] and down_proj [E, H, I].
void add_fused_moe(ModelSpec& s, int i) {
  const ModuleNames& n = s.names;
  const MoeSpec& m = s.moe;
  const std::string p = layer_tensor_prefix(i);
  const int64_t E = m.num_experts, I = m.intermediate, H = s.hidden_size;
  const auto kExpert = TensorReq::Role::kExpert;
  add_linear(s, p + n.moe_part(n.router), E, H, i);
  const std::string ex = p + n.moe_part(n.experts) + ".";
  add_tensor(s, ex + n.expert_gate_up, {E, 2 * I, H}, kExpert, i, false, m.num_experts);
  add_tensor(s, ex + n.expert_down, {E, H, I}, kExpert, i, false, m.num_experts);
}

void read_gated_deltanet(const ConfigReader& c, bool fused_qkvz, LinearAttnSpec& g) {
  g.num_k_heads = static_cast<int>(c.get_int("linear_num_key_heads", 16));
  g.num_v_heads = static_cast<int>(c.get_int("linear_num_value_heads", 32));
  g.k_head_dim = static_cast<int>(c.get_int("linear_key_head_dim", 128));
  g.v_head_dim = static_cast<int>(c.get_int("linear_value_head_dim", 128));
  g.conv_kernel = static_cast<int>(c.get_int("linear_conv_kernel_dim", 4));
  g.fused_qkvz = fused_qkvz;
  if (g.num_k_heads <= 0 || g.num_v_heads % g.num_k_heads != 0) {
    c.fail("linear_num_value_heads", "must be a positive multiple of linear_num_key_heads");
  }
  if (g.k_head_dim <= 0 || g.v_head_dim <= 0 || g.conv_kernel <= 0) {
    c.fail("linear_key_head_dim",
           "and linear_value_head_dim / linear_conv_kernel_dim must be positive");
  }
}

// The routed and shared experts; qwen3_next also reads its sparse step and dense-only layers.
void read_hybrid_moe(const ConfigReader& c, HybridMlp mlp, MoeSpec& m, int& step,
                     std::vector<int64_t>& mlp_only) {
  m.num_experts =
      static_cast<int>(c.get_int("num_experts", mlp == HybridMlp::kNextMoe ? 512 : 256));
  m.top_k = static_cast<int>(c.get_int("num_experts_per_tok", mlp == HybridMlp::kNextMoe ? 10 : 8));
  m.intermediate = static_cast<int>(c.get_int("moe_intermediate_size", 512));
  m.shared_intermediate = static_cast<int>(c.get_int("shared_expert_intermediate_size", 512));
  m.shared_gate = m.shared_intermediate > 0;
  m.router = RouterKind::kSoftmaxTopK;
  m.combine = CombineKind::kExpertOrderInDtype;
  // Qwen3.5-MoE always renormalises; Qwen3-Next follows norm_topk_prob.
  m.norm_topk_prob = mlp == HybridMlp::kFusedMoe ? true : c.get_bool("norm_topk_prob", true);
  m.storage = mlp == HybridMlp::kFusedMoe ? ExpertStorage::kFusedGateUp : ExpertStorage::kPerExpert;
  if (m.num_experts <= 0) c.fail("num_experts", "must be positive");
  if (m.top_k <= 0 || m.top_k > m.num_experts)
    c.fail("num_experts_per_tok", "must be in [1, num_experts]");
  if (mlp == HybridMlp::kNextMoe) {
    step = static_cast<int>(c.get_int("decoder_sparse_step", 1));
    if (step <= 0) c.fail("decoder_sparse_step", "must be positive");
    mlp_only = c.get_int_list("mlp_only_layers");
  }
}

ModelSpec hybrid(const ConfigReader& c, const char* family, const ConfigDefaults& d,
                 bool fused_qkvz, HybridMlp mlp) {
  ModelSpec s;
  s.family = family;
  s.norm = NormKind::kOnePlus;
  const int64_t inter = read_basic_dims(c, s, d);
  auto& a = s.attention;
  a.qk_norm = true;
  a.output_gate = c.get_bool("attn_output_gate", true);
  a.q_bias = a.k_bias = a.v_bias = a.o_bias = c.get_bool("attention_bias", false);
  s.rope.push_back(read_rope(c, s, 10000.0, 0.25));

  read_gated_deltanet(c, fused_qkvz, s.linear_attn);

  const int interval = static_cast<int>(c.get_int("full_attention_interval", 4));
  if (interval <= 0) c.fail("full_attention_interval", "must be positive");
  const auto types = read_layer_types(c, s.num_layers, {"linear_attention", "full_attention"});

  // Which layers are MoE: qwen3_next every decoder_sparse_step-th unless in mlp_only_layers.
  int step = 1;
  std::vector<int64_t> mlp_only;
  if (mlp != HybridMlp::kDense) read_hybrid_moe(c, mlp, s.moe, step, mlp_only);

  add_embedding_and_head(s);
  for (int i = 0; i < s.num_layers; ++i) {
    const bool full = types.empty() ? (i + 1) % interval == 0
                                    : types[static_cast<std::size_t>(i)] == "full_attention";
    LayerSpec L{full ? MixerKind::kAttention : MixerKind::kGatedDeltaNet, 0, 0, MlpKind::kDense,
                static_cast<int>(inter)};
    add_layer_norm(s, i, s.names.input_norm);
    if (full) {
      add_attention(s, i, a.output_gate ? 2 : 1);
    } else {
      add_gated_deltanet(s, i);
    }
    add_layer_norm(s, i, s.names.post_attn_norm);
    const bool dense_only = std::find(mlp_only.begin(), mlp_only.end(), i) != mlp_only.end();
    if (mlp == HybridMlp::kDense || dense_only || (i + 1) % step != 0) {
      add_gated_mlp(s, s.names.mlp, inter, i, false);
    } else {
      L.mlp = MlpKind::kMoe;
      L.intermediate = 0;
      if (mlp == HybridMlp::kFusedMoe) {
        add_fused_moe(s, i);
      } else {
        add_per_expert_moe(s, i);
      }
      add_shared_expert(s, i);
    }
    s.layers.push_back(L);
  }
  return s;
}

}  // namespace

ModelSpec qwen3_next(const ConfigReader& c) {
  ConfigDefaults d;
  d.vocab_size = 151936;
  d.hidden_size = 2048;
  d.intermediate_size = 5632;
  d.num_layers = 48;
  d.num_heads = 16;
  d.num_kv_heads = 2;
  d.head_dim = 256;
  return hybrid(c, "qwen3_next", d, true, HybridMlp::kNextMoe);
}

ModelSpec qwen3_5(const ConfigReader& c) {
  ConfigDefaults d;
  d.vocab_size = 248320;
  d.hidden_size = 4096;
  d.intermediate_size = 12288;
  d.num_layers = 32;
  d.num_heads = 16;
  d.num_kv_heads = 4;
  d.head_dim = 256;
  return hybrid(c, "qwen3_5", d, false, HybridMlp::kDense);
}

ModelSpec qwen3_5_moe(const ConfigReader& c) {
  ConfigDefaults d;
  d.vocab_size = 248320;
  d.hidden_size = 2048;
  d.intermediate_size = 0;  // removed from the MoE config: every layer is MoE
  d.num_layers = 40;
  d.num_heads = 16;
  d.num_kv_heads = 2;
  d.head_dim = 256;
  return hybrid(c, "qwen3_5_moe", d, false, HybridMlp::kFusedMoe);
}

}  // namespace maxact::families
