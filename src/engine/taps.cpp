#include <fmt/format.h>

#include "engine/tap_points.h"
#include "maxact/error.h"

namespace maxact {

std::string_view precision_name(Precision p) {
  return p == Precision::kFp32 ? "fp32" : "bf16";
}

std::string_view component_name(Component c) {
  switch (c) {
    case Component::kEmbedding:
      return "embedding";
    case Component::kNorm:
      return "norm";
    case Component::kProjection:
      return "projection";
    case Component::kKvCache:
      return "kv_cache";
    case Component::kLinearInput:
      return "linear_input";
    case Component::kAttention:
      return "attention";
    case Component::kResidMid:
      return "resid_mid";
    case Component::kMlp:
      return "mlp";
    case Component::kHidden:
      return "hidden";
    case Component::kFinalNorm:
      return "final_norm";
    case Component::kRouter:
      return "router";
  }
  return "?";
}

bool component_in_study_max(Component c) {
  return c == Component::kEmbedding || c == Component::kHidden || c == Component::kAttention ||
         c == Component::kMlp || c == Component::kFinalNorm;
}

bool glob_match(std::string_view p, std::string_view s) {
  // Iterative matcher with one backtrack point for '*' (linear in practice).
  std::size_t pi = 0, si = 0, star = std::string_view::npos, mark = 0;
  auto class_match = [&](std::size_t& i, char ch) {
    // p[i] == '['; on return i is past ']'. Unterminated classes match '[' literally.
    std::size_t j = i + 1;
    bool neg = j < p.size() && (p[j] == '!' || p[j] == '^');
    if (neg) ++j;
    bool hit = false, first = true;
    for (; j < p.size() && (p[j] != ']' || first); ++j, first = false) {
      if (j + 2 < p.size() && p[j + 1] == '-' && p[j + 2] != ']') {
        if (ch >= p[j] && ch <= p[j + 2]) hit = true;
        j += 2;
      } else if (p[j] == ch) {
        hit = true;
      }
    }
    if (j >= p.size()) {
      const bool lit = ch == '[';
      ++i;
      return lit;
    }
    i = j + 1;
    return hit != neg;
  };
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = si;
      continue;
    }
    if (pi < p.size()) {
      std::size_t next = pi;
      bool ok;
      if (p[pi] == '?') {
        ok = true;
        next = pi + 1;
      } else if (p[pi] == '[') {
        ok = class_match(next, s[si]);
      } else {
        ok = p[pi] == s[si];
        next = pi + 1;
      }
      if (ok) {
        pi = next;
        ++si;
        continue;
      }
    }
    if (star == std::string_view::npos) return false;
    pi = star + 1;
    si = ++mark;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

namespace engine {
namespace {
TapInfo tap(std::string name, std::string study, Component c, int layer, int64_t channels) {
  TapInfo t;
  t.name = std::move(name);
  t.study_name = std::move(study);
  t.component = c;
  t.layer = layer;
  t.channels = channels;
  return t;
}
}  // namespace

TapInfo layer_tap(const ModelSpec& s, int layer, Point p) {
  const std::string P = fmt::format("{}.layers.{}", s.module_prefix, layer);
  const auto& a = s.attention;
  const int64_t H = s.hidden_size, I = s.layers[static_cast<std::size_t>(layer)].intermediate;
  const int64_t q = int64_t{a.num_heads} * a.head_dim, kv = int64_t{a.num_kv_heads} * a.head_dim;
  const bool fused_qkv = a.fused_qkv,
             fused_gu = s.layers[static_cast<std::size_t>(layer)].mlp == MlpKind::kDenseFusedGateUp;
  const bool moe = s.layers[static_cast<std::size_t>(layer)].mlp == MlpKind::kMoe;
  // Mixtral's MoE module is block_sparse_moe in its checkpoints and in transformers v4; gpt-oss
  // calls its router `router`.
  const std::string M = P + (s.family == Family::kMixtral ? ".block_sparse_moe" : ".mlp");
  const std::string R = M + (s.family == Family::kGptOss ? ".router" : ".gate");
  const std::string L = std::to_string(layer);
  const ModuleNames& nm = s.names;
  const std::string A = P + "." + nm.attn;
  const bool shared = moe && s.moe.shared_intermediate > 0;
  // Ling's shared expert is `shared_experts` (ungated), Qwen's `shared_expert` (gated).
  const std::string SH = M + (s.moe.shared_gate ? ".shared_expert" : ".shared_experts");
  const bool linear = s.layers[static_cast<std::size_t>(layer)].mixer == MixerKind::kGatedDeltaNet;
  const LinearAttnSpec& la = s.linear_attn;
  const std::string LA = P + ".linear_attn";
  const int64_t lk = int64_t{la.num_k_heads} * la.k_head_dim,
                lv = int64_t{la.num_v_heads} * la.v_head_dim;
  auto t = [&](std::string name, Component c, int64_t ch, std::string study = "") {
    return tap(std::move(name), std::move(study), c, layer, ch);
  };
  // The input of linear layers: what feeds q/k/v, o_proj, the MLP's gate/up (or the router and
  // experts) and down_proj. Gemma's post_attention_layernorm is a sandwich norm, not an input.
  auto in = [](TapInfo info) {
    info.linear_input = true;
    return info;
  };
  // A Gated DeltaNet layer has none of the attention points but its output and out_proj input.
  if (linear &&
      (p == Point::kQ || p == Point::kK || p == Point::kV || p == Point::kQkv ||
       p == Point::kQNorm || p == Point::kKNorm || p == Point::kKCache || p == Point::kVCache)) {
    return TapInfo{};
  }
  switch (p) {
    case Point::kInputNorm:
      return in(t(P + ".input_layernorm", Component::kNorm, H));
    case Point::kQ:  // with an output gate: [q_h | gate_h] per head, as q_proj returns them
      return fused_qkv ? TapInfo{}
                       : t(A + ".q_proj", Component::kProjection, a.output_gate ? 2 * q : q);
    case Point::kK:
      return fused_qkv ? TapInfo{} : t(A + ".k_proj", Component::kProjection, kv);
    case Point::kV:
      return fused_qkv ? TapInfo{} : t(A + ".v_proj", Component::kProjection, kv);
    case Point::kQkv:
      return fused_qkv ? t(A + "." + nm.qkv, Component::kProjection, q + 2 * kv) : TapInfo{};
    case Point::kQNorm:
      return a.qk_norm ? t(A + "." + nm.q_norm, Component::kNorm, q) : TapInfo{};
    case Point::kKNorm:
      return a.qk_norm ? t(A + "." + nm.k_norm, Component::kNorm, kv) : TapInfo{};
    case Point::kKCache:
      return t(A + ":k_cache", Component::kKvCache, kv);
    case Point::kVCache:
      return t(A + ":v_cache", Component::kKvCache, kv);
    case Point::kOProjIn:
      return linear ? in(t(LA + ".out_proj:in", Component::kLinearInput, lv))
                    : in(t(A + "." + nm.o + ":in", Component::kLinearInput, q));
    case Point::kAttn:
      return t(linear ? LA : A, Component::kAttention, H, "layer_" + L + "_attn_output");
    case Point::kPostAttnNorm:
      return s.sandwich_norms ? t(P + ".post_attention_layernorm", Component::kNorm, H)
                              : in(t(P + ".post_attention_layernorm", Component::kNorm, H));
    case Point::kResidMid:
      return t(P + ":resid_mid", Component::kResidMid, H);
    case Point::kPreFfNorm:
      return s.sandwich_norms ? in(t(P + ".pre_feedforward_layernorm", Component::kNorm, H))
                              : TapInfo{};
    case Point::kGate:
      return fused_gu || moe
                 ? TapInfo{}
                 : t(P + ".mlp.gate_proj", Component::kProjection, I, "layer_" + L + "_mlp_gate");
    case Point::kUp:
      return fused_gu || moe ? TapInfo{} : t(P + ".mlp.up_proj", Component::kProjection, I);
    case Point::kGateUp:
      return fused_gu ? t(P + ".mlp.gate_up_proj", Component::kProjection, 2 * I) : TapInfo{};
    case Point::kDownIn:
      return moe ? TapInfo{} : in(t(P + ".mlp.down_proj:in", Component::kLinearInput, I));
    case Point::kMlp:
      return t(moe ? M : P + ".mlp", Component::kMlp, H, "layer_" + L + "_mlp_output");
    case Point::kRouter: {
      // The study names MoE routers both layer_{i}_router_logits and layer_{i}_moe_gate.
      if (!moe) return TapInfo{};
      TapInfo r = t(R, Component::kRouter, s.moe.num_experts, "layer_" + L + "_router_logits");
      r.study_alias = "layer_" + L + "_moe_gate";
      return r;
    }
    case Point::kRouterWeights:
      return moe ? t(R + ":weights", Component::kRouter, s.moe.top_k) : TapInfo{};
    case Point::kExpertDownIn:
      return moe ? in(t(M + ".experts:down_proj:in", Component::kLinearInput, s.moe.intermediate))
                 : TapInfo{};
    case Point::kSharedDownIn:
      return shared
                 ? in(t(SH + ".down_proj:in", Component::kLinearInput, s.moe.shared_intermediate))
                 : TapInfo{};
    case Point::kSharedOut:
      return shared ? t(SH, Component::kProjection, H) : TapInfo{};
    case Point::kSharedGate:
      return shared && s.moe.shared_gate ? t(M + ".shared_expert_gate", Component::kRouter, 1)
                                         : TapInfo{};
    case Point::kLinQkvz:
      return linear && la.fused_qkvz
                 ? t(LA + ".in_proj_qkvz", Component::kProjection, 2 * lk + 2 * lv)
                 : TapInfo{};
    case Point::kLinBa:
      return linear && la.fused_qkvz
                 ? t(LA + ".in_proj_ba", Component::kProjection, 2 * int64_t{la.num_v_heads})
                 : TapInfo{};
    case Point::kLinQkv:
      return linear && !la.fused_qkvz ? t(LA + ".in_proj_qkv", Component::kProjection, 2 * lk + lv)
                                      : TapInfo{};
    case Point::kLinZ:
      return linear && !la.fused_qkvz ? t(LA + ".in_proj_z", Component::kProjection, lv)
                                      : TapInfo{};
    case Point::kLinB:
      return linear && !la.fused_qkvz ? t(LA + ".in_proj_b", Component::kProjection, la.num_v_heads)
                                      : TapInfo{};
    case Point::kLinA:
      return linear && !la.fused_qkvz ? t(LA + ".in_proj_a", Component::kProjection, la.num_v_heads)
                                      : TapInfo{};
    case Point::kLinConv:
      return linear ? t(LA + ":conv_out", Component::kProjection, 2 * lk + lv) : TapInfo{};
    case Point::kLinState:
      return linear ? t(LA + ":state_absmax", Component::kProjection, la.num_v_heads) : TapInfo{};
    case Point::kPostFfNorm:
      return s.sandwich_norms ? t(P + ".post_feedforward_layernorm", Component::kNorm, H)
                              : TapInfo{};
    case Point::kLayer:
      return t(P, Component::kHidden, H, "layer_" + L + "_hidden");
    case Point::kCount:
      break;
  }
  return TapInfo{};
}

TapInfo embedding_tap(const ModelSpec& s) {
  return tap(s.module_prefix + "." + s.names.embed, "embedding_output", Component::kEmbedding, -1,
             s.hidden_size);
}

TapInfo final_norm_tap(const ModelSpec& s) {
  return tap(s.module_prefix + ".norm", "final_layernorm", Component::kFinalNorm, -1,
             s.hidden_size);
}

}  // namespace engine

std::vector<TapInfo> model_taps(const ModelSpec& spec) {
  std::vector<TapInfo> out;
  out.push_back(engine::embedding_tap(spec));
  for (int l = 0; l < spec.num_layers; ++l) {
    for (int p = 0; p < engine::kPoints; ++p) {
      TapInfo t = engine::layer_tap(spec, l, static_cast<engine::Point>(p));
      if (!t.name.empty()) out.push_back(std::move(t));
    }
  }
  out.push_back(engine::final_norm_tap(spec));
  return out;
}

}  // namespace maxact
