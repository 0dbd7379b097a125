#include "maxact/taps.h"

#include <fmt/format.h>

#include "model/gguf_names.h"

namespace maxact {

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

bool tap_matches(std::string_view pattern, const TapInfo& t) {
  return glob_match(pattern, t.name) ||
         (!t.study_name.empty() && glob_match(pattern, t.study_name)) ||
         (!t.study_alias.empty() && glob_match(pattern, t.study_alias));
}

namespace {

// Appends the taps of one decoder layer, naming them from the family's name table.
class LayerTapList {
 public:
  LayerTapList(const ModelSpec& s, int layer)
      : s_(s),
        n_(s.names),
        layer_(layer),
        path_(fmt::format("{}.layers.{}.", s.module_prefix, layer)),
        L_(s.layers[static_cast<std::size_t>(layer)]) {}

  // `module` relative to the layer ("" = the layer itself), `suffix` after it (":in", ...).
  TapInfo& add(TapPoint p, const std::string& module, Component c, int64_t channels,
               const char* suffix = "") {
    TapInfo t;
    t.name = (module.empty() ? path_.substr(0, path_.size() - 1) : path_ + module) + suffix;
    t.component = c;
    t.layer = layer_;
    t.channels = channels;
    t.point = p;
    taps_.push_back(std::move(t));
    return taps_.back();
  }
  // The input of linear layers: what feeds q/k/v, o_proj, the MLP's gate/up (or the router and
  // experts) and down_proj. Gemma's post_attention_layernorm is a sandwich norm, not an input.
  TapInfo& input(TapPoint p, const std::string& module, Component c, int64_t channels,
                 const char* suffix = "") {
    TapInfo& t = add(p, module, c, channels, suffix);
    t.linear_input = true;
    return t;
  }
  // The Linear at `module` (relative to the layer) reads t's rows.
  void feeds(TapInfo& t, const std::string& module, GgufLinear w,
             LinearUse::Experts experts = LinearUse::Experts::kNone) {
    GgufLinearNames g = gguf_linear_names(s_, layer_, w);
    t.feeds.push_back({path_ + module, std::move(g.names), g.input_order, experts, {}});
  }
  TapInfo& study(TapInfo& t, const char* what) {
    t.study_name = fmt::format("layer_{}_{}", layer_, what);
    return t;
  }

  // The layer's taps in forward order.
  std::vector<TapInfo> build();

 private:
  void attention(std::size_t in);       // in: the index of the tap it reads
  void gated_deltanet(std::size_t in);  // in: the index of the tap it reads
  void dense_mlp(std::size_t in);       // in: the index of the tap it reads
  void moe(std::size_t in);             // in: the index of the tap it reads

  const ModelSpec& s_;
  const ModuleNames& n_;
  const int layer_;
  const std::string path_;
  const LayerSpec& L_;
  std::vector<TapInfo> taps_;
};

void LayerTapList::attention(std::size_t in) {
  const AttentionSpec& a = s_.attention;
  const int64_t q = int64_t{a.num_heads} * a.head_dim, kv = int64_t{a.num_kv_heads} * a.head_dim;
  if (a.fused_qkv) {
    feeds(taps_[in], n_.attn_part(n_.qkv), GgufLinear::kAttnQkv);
    add(TapPoint::kQkv, n_.attn_part(n_.qkv), Component::kProjection, q + 2 * kv);
  } else {
    feeds(taps_[in], n_.attn_part(n_.q), GgufLinear::kAttnQ);
    feeds(taps_[in], n_.attn_part(n_.k), GgufLinear::kAttnK);
    feeds(taps_[in], n_.attn_part(n_.v), GgufLinear::kAttnV);
    // With an output gate: [q_h | gate_h] per head, as q_proj returns them.
    add(TapPoint::kQ, n_.attn_part(n_.q), Component::kProjection, a.output_gate ? 2 * q : q);
    add(TapPoint::kK, n_.attn_part(n_.k), Component::kProjection, kv);
    add(TapPoint::kV, n_.attn_part(n_.v), Component::kProjection, kv);
  }
  if (a.qk_norm) {
    add(TapPoint::kQNorm, n_.attn_part(n_.q_norm), Component::kNorm, q);
    add(TapPoint::kKNorm, n_.attn_part(n_.k_norm), Component::kNorm, kv);
  }
  add(TapPoint::kKCache, n_.attn, Component::kKvCache, kv, ":k_cache");
  add(TapPoint::kVCache, n_.attn, Component::kKvCache, kv, ":v_cache");
  feeds(input(TapPoint::kOProjIn, n_.attn_part(n_.o), Component::kLinearInput, q, ":in"),
        n_.attn_part(n_.o), GgufLinear::kAttnOut);
  study(add(TapPoint::kAttn, n_.attn, Component::kAttention, s_.hidden_size), "attn_output");
}

void LayerTapList::gated_deltanet(std::size_t in) {
  const LinearAttnSpec& la = s_.linear_attn;
  const int64_t k = int64_t{la.num_k_heads} * la.k_head_dim,
                v = int64_t{la.num_v_heads} * la.v_head_dim, hv = la.num_v_heads;
  const auto part = [&](const std::string& p) { return n_.linear_part(p); };
  if (la.fused_qkvz) {
    feeds(taps_[in], part(n_.lin_qkvz), GgufLinear::kLinQkvz);
    feeds(taps_[in], part(n_.lin_ba), GgufLinear::kLinBa);
    add(TapPoint::kLinQkvz, part(n_.lin_qkvz), Component::kProjection, 2 * k + 2 * v);
    add(TapPoint::kLinBa, part(n_.lin_ba), Component::kProjection, 2 * hv);
  } else {
    feeds(taps_[in], part(n_.lin_qkv), GgufLinear::kLinQkv);
    feeds(taps_[in], part(n_.lin_z), GgufLinear::kLinZ);
    feeds(taps_[in], part(n_.lin_b), GgufLinear::kLinB);
    feeds(taps_[in], part(n_.lin_a), GgufLinear::kLinA);
    add(TapPoint::kLinQkv, part(n_.lin_qkv), Component::kProjection, 2 * k + v);
    add(TapPoint::kLinZ, part(n_.lin_z), Component::kProjection, v);
    add(TapPoint::kLinB, part(n_.lin_b), Component::kProjection, hv);
    add(TapPoint::kLinA, part(n_.lin_a), Component::kProjection, hv);
  }
  add(TapPoint::kLinConv, n_.linear_attn, Component::kProjection, 2 * k + v, ":conv_out");
  add(TapPoint::kLinState, n_.linear_attn, Component::kProjection, hv, ":state_absmax");
  feeds(input(TapPoint::kOProjIn, part(n_.lin_out), Component::kLinearInput, v, ":in"),
        part(n_.lin_out), GgufLinear::kLinOut);
  study(add(TapPoint::kAttn, n_.linear_attn, Component::kAttention, s_.hidden_size), "attn_output");
}

void LayerTapList::dense_mlp(std::size_t in) {
  const int64_t I = L_.intermediate;
  const std::string m = n_.mlp + ".";
  if (L_.mlp == MlpKind::kDenseFusedGateUp) {
    feeds(taps_[in], m + n_.gate_up_proj, GgufLinear::kFfnGateUp);
    add(TapPoint::kGateUp, m + n_.gate_up_proj, Component::kProjection, 2 * I);
  } else {
    feeds(taps_[in], m + n_.gate_proj, GgufLinear::kFfnGate);
    feeds(taps_[in], m + n_.up_proj, GgufLinear::kFfnUp);
    study(add(TapPoint::kGate, m + n_.gate_proj, Component::kProjection, I), "mlp_gate");
    add(TapPoint::kUp, m + n_.up_proj, Component::kProjection, I);
  }
  feeds(input(TapPoint::kDownIn, m + n_.down_proj, Component::kLinearInput, I, ":in"),
        m + n_.down_proj, GgufLinear::kFfnDown);
}

void LayerTapList::moe(std::size_t in) {
  const MoeSpec& ms = s_.moe;
  const std::string router = n_.moe_part(n_.router);
  feeds(taps_[in], router, GgufLinear::kRouter);
  feeds(taps_[in], n_.moe_part(n_.experts), GgufLinear::kExpertsGateUp, LinearUse::Experts::kIn);
  const std::string ex = path_ + n_.moe_part(n_.experts) + ".";
  if (ms.storage == ExpertStorage::kPerExpert) {
    taps_[in].feeds.back().expert_modules = {ex + "{e}." + n_.expert_gate,
                                             ex + "{e}." + n_.expert_up};
  } else {
    taps_[in].feeds.back().expert_modules = {ex + n_.expert_gate_up};
  }
  // The study names MoE routers both layer_{i}_router_logits and layer_{i}_moe_gate.
  TapInfo& r =
      study(add(TapPoint::kRouter, router, Component::kRouter, ms.num_experts), "router_logits");
  r.study_alias = fmt::format("layer_{}_moe_gate", layer_);
  add(TapPoint::kRouterWeights, router, Component::kRouter, ms.top_k, ":weights");
  // One tap for every expert's down projection input, whatever the experts' own names.
  feeds(input(TapPoint::kExpertDownIn, n_.moe_part(n_.experts), Component::kLinearInput,
              ms.intermediate, ":down_proj:in"),
        n_.moe_part(n_.experts), GgufLinear::kExpertsDown, LinearUse::Experts::kDownIn);
  taps_.back().feeds.back().expert_modules = {
      ms.storage == ExpertStorage::kPerExpert ? ex + "{e}." + n_.expert_down : ex + n_.expert_down};
  if (ms.shared_intermediate <= 0) return;
  const std::string shared = n_.moe_part(n_.shared_expert);
  feeds(taps_[in], shared + "." + n_.gate_proj, GgufLinear::kSharedGate);
  feeds(taps_[in], shared + "." + n_.up_proj, GgufLinear::kSharedUp);
  if (ms.shared_gate)
    feeds(taps_[in], n_.moe_part(n_.shared_expert_gate), GgufLinear::kSharedRouter);
  feeds(input(TapPoint::kSharedDownIn, shared + "." + n_.down_proj, Component::kLinearInput,
              ms.shared_intermediate, ":in"),
        shared + "." + n_.down_proj, GgufLinear::kSharedDown);
  add(TapPoint::kSharedOut, shared, Component::kProjection, s_.hidden_size);
  if (ms.shared_gate) {
    add(TapPoint::kSharedGate, n_.moe_part(n_.shared_expert_gate), Component::kRouter, 1);
  }
}

std::vector<TapInfo> LayerTapList::build() {
  const int64_t H = s_.hidden_size;
  input(TapPoint::kInputNorm, n_.input_norm, Component::kNorm, H);
  const std::size_t mixer_in = taps_.size() - 1;
  if (L_.mixer == MixerKind::kGatedDeltaNet) {
    gated_deltanet(mixer_in);
  } else {
    attention(mixer_in);
  }
  if (s_.sandwich_norms) {  // Gemma 2/3: the attention output normalised before the residual add
    add(TapPoint::kPostAttnNorm, n_.post_attn_norm, Component::kNorm, H);
    add(TapPoint::kResidMid, "", Component::kResidMid, H, ":resid_mid");
    input(TapPoint::kPreFfNorm, n_.pre_ff_norm, Component::kNorm, H);
  } else {
    add(TapPoint::kResidMid, "", Component::kResidMid, H, ":resid_mid");
    input(TapPoint::kPostAttnNorm, n_.post_attn_norm, Component::kNorm, H);
  }
  const std::size_t mlp_in = taps_.size() - 1;
  const bool routed = L_.mlp == MlpKind::kMoe;
  if (routed) {
    moe(mlp_in);
  } else {
    dense_mlp(mlp_in);
  }
  study(add(TapPoint::kMlp, routed ? n_.moe : n_.mlp, Component::kMlp, H), "mlp_output");
  if (s_.sandwich_norms) add(TapPoint::kPostFfNorm, n_.post_ff_norm, Component::kNorm, H);
  study(add(TapPoint::kLayer, "", Component::kHidden, H), "hidden");
  return std::move(taps_);
}

}  // namespace

std::vector<TapInfo> layer_taps(const ModelSpec& s, int layer) {
  return LayerTapList(s, layer).build();
}

namespace {
// A tap outside the decoder stack (layer -1), of hidden-size rows.
TapInfo stack_tap(const ModelSpec& s, const std::string& module, const char* study, Component c) {
  TapInfo t;
  t.name = s.module_prefix + "." + module;
  t.study_name = study;
  t.component = c;
  t.channels = s.hidden_size;
  return t;
}
}  // namespace

TapInfo embedding_tap(const ModelSpec& s) {
  return stack_tap(s, s.names.embed, "embedding_output", Component::kEmbedding);
}

TapInfo final_norm_tap(const ModelSpec& s) {
  TapInfo t = stack_tap(s, s.names.final_norm, "final_layernorm", Component::kFinalNorm);
  t.feeds.push_back({"lm_head",
                     gguf_linear_names(s, -1, GgufLinear::kOutput).names,
                     {},
                     LinearUse::Experts::kNone,
                     {}});
  return t;
}

std::vector<TapInfo> model_taps(const ModelSpec& spec) {
  std::vector<TapInfo> out{embedding_tap(spec)};
  for (int l = 0; l < spec.num_layers; ++l) {
    for (TapInfo& t : layer_taps(spec, l)) out.push_back(std::move(t));
  }
  out.push_back(final_norm_tap(spec));
  return out;
}

}  // namespace maxact
