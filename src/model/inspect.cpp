#include "maxact/inspect.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace maxact {
using nlohmann::json;

ParamCounts count_params(const ModelSpec& s) {
  ParamCounts c;
  // Routed-expert parameters per layer, to scale by top_k / num_experts.
  std::map<int, int64_t> expert_by_layer;
  for (const TensorReq& t : s.tensors) {
    int64_t n = t.params_per_element;
    for (int64_t d : t.shape) n *= d;
    c.total += n;
    if (t.role == TensorReq::Role::kExpert) {
      expert_by_layer[t.layer] += n;
      c.routed_experts += n;
    } else {
      c.active += n;
    }
    if (t.role == TensorReq::Role::kEmbedding || t.role == TensorReq::Role::kLmHead) {
      c.embedding += n;
    }
  }
  // Every expert of a layer has the same size, so the layer total is a multiple of num_experts.
  for (const auto& [layer, n] : expert_by_layer) {
    c.active += n / s.moe.num_experts * s.moe.top_k;
  }
  return c;
}

namespace {

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", b) : fmt::format("{:.2f} {}", v, units[u]);
}

std::string human_count(int64_t n) {
  const double v = static_cast<double>(n);
  if (n >= 1'000'000'000) return fmt::format("{:.2f} B", v / 1e9);
  if (n >= 1'000'000) return fmt::format("{:.2f} M", v / 1e6);
  if (n >= 1'000) return fmt::format("{:.1f} K", v / 1e3);
  return std::to_string(n);
}

json rope_json(const RopeSpec& r) {
  json j = {{"type", rope_kind_name(r.kind)}, {"theta", r.theta}, {"rotary_dim", r.rotary_dim}};
  if (r.kind == RopeKind::kLinear || r.kind == RopeKind::kDynamic || r.kind == RopeKind::kLlama3 ||
      r.kind == RopeKind::kYarn) {
    j["factor"] = r.factor;
  }
  if (r.kind == RopeKind::kLlama3) {
    j["low_freq_factor"] = r.low_freq_factor;
    j["high_freq_factor"] = r.high_freq_factor;
  }
  if (r.kind == RopeKind::kLlama3 || r.kind == RopeKind::kYarn || r.kind == RopeKind::kLongRope) {
    j["original_max_position_embeddings"] = r.original_max_position;
  }
  if (r.kind == RopeKind::kYarn) {
    j["beta_fast"] = r.beta_fast;
    j["beta_slow"] = r.beta_slow;
    j["truncate"] = r.truncate;
    if (r.attention_factor) j["attention_factor"] = *r.attention_factor;
    if (r.mscale) j["mscale"] = *r.mscale;
    if (r.mscale_all_dim) j["mscale_all_dim"] = *r.mscale_all_dim;
  }
  if (r.kind == RopeKind::kLongRope) {
    j["short_factor"] = r.short_factor;
    j["long_factor"] = r.long_factor;
    if (r.attention_factor) j["attention_factor"] = *r.attention_factor;
  }
  j["max_position_embeddings"] = r.max_position;
  return j;
}

std::string rope_text(const RopeSpec& r) {
  std::string s =
      fmt::format("{} theta={:g} rotary_dim={}", rope_kind_name(r.kind), r.theta, r.rotary_dim);
  if (r.kind != RopeKind::kDefault && r.kind != RopeKind::kLongRope) {
    s += fmt::format(" factor={:g}", r.factor);
  }
  if (r.original_max_position > 0 && r.kind != RopeKind::kDefault && r.kind != RopeKind::kLinear) {
    s += fmt::format(" original_max_pos={}", r.original_max_position);
  }
  return s;
}

std::string layer_desc(const ModelSpec& s, const LayerSpec& L) {
  std::string d;
  if (L.mixer == MixerKind::kGatedDeltaNet) {
    d = "gated_deltanet";
  } else {
    d = L.sliding_window > 0 ? fmt::format("attention(window {})", L.sliding_window)
                             : std::string("attention(full)");
    if (s.rope.size() > 1) d += L.rope_table == 0 ? " rope:global" : " rope:local";
  }
  if (L.mlp == MlpKind::kMoe) {
    d += fmt::format(" + moe({} experts, top {})", s.moe.num_experts, s.moe.top_k);
  } else {
    d += fmt::format(" + {}({})", mlp_kind_name(L.mlp), L.intermediate);
  }
  return d;
}

// "0-4,6-10,12" for a sorted index list.
std::string ranges(const std::vector<int>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size();) {
    std::size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += j == i ? std::to_string(v[i]) : fmt::format("{}-{}", v[i], v[j]);
    i = j + 1;
  }
  return out;
}

struct StorageRow {
  int64_t tensors = 0;
  uint64_t bytes = 0;
};

std::map<std::string, StorageRow> storage_by_dtype(const Model& m) {
  std::map<std::string, StorageRow> rows;
  for (const auto& [name, t] : m.checkpoint().tensors()) {
    auto& r = rows[std::string(dtype_name(t->dtype))];
    ++r.tensors;
    r.bytes += t->nbytes;
  }
  return rows;
}

json attention_json(const AttentionSpec& a) {
  json j = {{"num_heads", a.num_heads},
            {"num_kv_heads", a.num_kv_heads},
            {"head_dim", a.head_dim},
            {"scale", a.scale},
            {"qkv_bias", a.q_bias},
            {"o_bias", a.o_bias},
            {"fused_qkv", a.fused_qkv},
            {"qk_norm", a.qk_norm},
            {"output_gate", a.output_gate},
            {"sinks", a.sinks},
            {"logit_softcap", a.logit_softcap}};
  return j;
}

// One entry per layer; `has_gdn` is set when any layer is a gated DeltaNet.
json layers_json(const ModelSpec& s, bool& has_gdn) {
  json layers = json::array();
  for (std::size_t i = 0; i < s.layers.size(); ++i) {
    const LayerSpec& L = s.layers[i];
    json lj = {{"index", i}, {"mixer", mixer_kind_name(L.mixer)}, {"mlp", mlp_kind_name(L.mlp)}};
    if (L.mixer == MixerKind::kAttention) {
      lj["sliding_window"] = L.sliding_window;
      lj["rope_table"] = L.rope_table;
    } else {
      has_gdn = true;
    }
    if (L.mlp != MlpKind::kMoe) lj["intermediate_size"] = L.intermediate;
    layers.push_back(lj);
  }
  return layers;
}

json moe_json(const MoeSpec& e) {
  json j = {{"num_experts", e.num_experts},
            {"top_k", e.top_k},
            {"expert_intermediate_size", e.intermediate},
            {"router", router_kind_name(e.router)},
            {"norm_topk_prob", e.norm_topk_prob},
            {"shared_expert_intermediate_size", e.shared_intermediate},
            {"shared_expert_gate", e.shared_gate},
            {"storage", expert_storage_name(e.storage)}};
  if (e.swiglu_limit > 0) j["swiglu_limit"] = e.swiglu_limit;
  if (e.router == RouterKind::kSigmoidGroupLimited) {
    j["n_group"] = e.num_groups;
    j["topk_group"] = e.topk_groups;
    j["routed_scaling_factor"] = e.routed_scaling;
  }
  return j;
}

json storage_json(const Model& m) {
  json st = json::object();
  for (const auto& [dt, r] : storage_by_dtype(m))
    st[dt] = {{"tensors", r.tensors}, {"bytes", r.bytes}};
  json j = {{"quantization", quantization_name(m.spec().quantization)},
            {"by_dtype", st},
            {"bytes", m.checkpoint().tensor_bytes()},
            {"files", m.checkpoint().shards().size()},
            {"tensors", m.checkpoint().tensors().size()},
            {"ignored_tensors", m.ignored_tensors().size()},
            {"unused_tensors", m.unused_tensors()}};
  return j;
}

// "attention ..." with the optional features, one line.
std::string attention_text(const AttentionSpec& a) {
  std::string o = fmt::format("attention    {} heads / {} kv heads, head_dim {}, scale {:.6g}",
                              a.num_heads, a.num_kv_heads, a.head_dim, a.scale);
  std::string extras;
  if (a.q_bias) extras += " qkv-bias";
  if (a.o_bias) extras += " o-bias";
  if (a.fused_qkv) extras += " fused-qkv";
  if (a.qk_norm) extras += " qk-norm";
  if (a.output_gate) extras += " output-gate";
  if (a.sinks) extras += " sinks";
  if (a.logit_softcap > 0) extras += fmt::format(" softcap={:g}", a.logit_softcap);
  return o + extras + "\n";
}

// The rope table(s), norm and activation lines.
std::string rope_norm_text(const ModelSpec& s) {
  std::string o;
  for (std::size_t i = 0; i < s.rope.size(); ++i) {
    // Two tables only with local/global attention (gemma3): table 0 global, table 1 local.
    const char* label = s.rope.size() == 1 ? "rope        "
                        : i == 0           ? "rope global "
                                           : "rope local  ";
    o += fmt::format("{} {}\n", label, rope_text(s.rope[i]));
  }
  o += fmt::format("norm         {} eps={:g}{}{}, activation {}{}\n", norm_kind_name(s.norm),
                   s.rms_norm_eps, s.sandwich_norms ? ", sandwich" : "",
                   s.embed_scale ? ", scaled embeddings" : "", activation_name(s.activation),
                   s.moe.swiglu_limit > 0
                       ? fmt::format(" (clamped SwiGLU, limit {:g})", s.moe.swiglu_limit)
                       : "");
  return o;
}

// The DeltaNet line (when a layer uses it) and the experts line (MoE models).
std::string deltanet_experts_text(const ModelSpec& s) {
  std::string o;
  if (s.linear_attn.num_k_heads > 0 &&
      std::any_of(s.layers.begin(), s.layers.end(),
                  [](const LayerSpec& L) { return L.mixer == MixerKind::kGatedDeltaNet; })) {
    const auto& g = s.linear_attn;
    o += fmt::format("deltanet     {} k heads x {}, {} v heads x {}, conv {}\n", g.num_k_heads,
                     g.k_head_dim, g.num_v_heads, g.v_head_dim, g.conv_kernel);
  }
  if (s.moe.num_experts > 0) {
    const auto& e = s.moe;
    o += fmt::format("experts      {} total, {} active, width {}, router {}{}{}, storage {}\n",
                     e.num_experts, e.top_k, e.intermediate, router_kind_name(e.router),
                     e.norm_topk_prob ? " (renormalised)" : "",
                     e.shared_intermediate > 0
                         ? fmt::format(", shared expert {}{}", e.shared_intermediate,
                                       e.shared_gate ? " gated" : "")
                         : "",
                     expert_storage_name(e.storage));
  }
  return o;
}

// Layers grouped by identical description, groups in order of first appearance.
std::string layers_text(const ModelSpec& s) {
  std::vector<std::pair<std::string, std::vector<int>>> groups;
  for (std::size_t i = 0; i < s.layers.size(); ++i) {
    const std::string d = layer_desc(s, s.layers[i]);
    auto it =
        std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == d; });
    if (it == groups.end()) {
      groups.push_back({d, {}});
      it = groups.end() - 1;
    }
    it->second.push_back(static_cast<int>(i));
  }
  std::string o = "layers\n";
  for (const auto& [d, idx] : groups) o += fmt::format("  {:<14} {}\n", ranges(idx), d);
  return o;
}

// Storage by dtype, then the ignored and unused tensors when there are any.
std::string storage_text(const Model& m) {
  std::string st;
  for (const auto& [dt, r] : storage_by_dtype(m)) {
    st += fmt::format("{}{} {} tensors {}", st.empty() ? "" : "; ", dt, r.tensors,
                      human_bytes(r.bytes));
  }
  std::string o =
      fmt::format("storage      {} in {} file(s): {}; quantization {}\n",
                  human_bytes(m.checkpoint().tensor_bytes()), m.checkpoint().shards().size(), st,
                  quantization_name(m.spec().quantization));
  if (!m.ignored_tensors().empty()) {
    o += fmt::format("ignored      {} tensors of other towers and MTP layers\n",
                     m.ignored_tensors().size());
  }
  if (!m.unused_tensors().empty()) {
    o += fmt::format("unused       {} tensors not read by the {} forward pass (first: {})\n",
                     m.unused_tensors().size(), m.spec().family, m.unused_tensors().front());
  }
  return o;
}

}  // namespace

json inspect_json(const Model& m) {
  const ModelSpec& s = m.spec();
  const ParamCounts pc = count_params(s);
  const ScanSupport sup = scan_support(s);
  json j;
  j["maxact_inspect_version"] = 1;
  j["model"] = {{"path", m.dir().string()}, {"origin", m.origin()}};
  j["family"] = s.family;
  j["model_type"] = s.model_type;
  j["architecture"] = s.architecture;
  j["module_prefix"] = s.module_prefix;
  j["vocab_size"] = s.vocab_size;
  j["hidden_size"] = s.hidden_size;
  j["num_layers"] = s.num_layers;
  j["norm"] = {
      {"kind", norm_kind_name(s.norm)}, {"eps", s.rms_norm_eps}, {"sandwich", s.sandwich_norms}};
  j["activation"] = activation_name(s.activation);
  j["embedding_scaled"] = s.embed_scale;
  j["tie_word_embeddings"] = s.tie_word_embeddings;
  if (s.final_logit_softcap > 0) j["final_logit_softcap"] = s.final_logit_softcap;
  j["attention"] = attention_json(s.attention);
  j["rope"] = json::array();
  for (const auto& r : s.rope) j["rope"].push_back(rope_json(r));
  bool has_gdn = false;
  j["layers"] = layers_json(s, has_gdn);
  if (has_gdn) {
    const auto& g = s.linear_attn;
    j["linear_attention"] = {{"num_k_heads", g.num_k_heads}, {"num_v_heads", g.num_v_heads},
                             {"k_head_dim", g.k_head_dim},   {"v_head_dim", g.v_head_dim},
                             {"conv_kernel", g.conv_kernel}, {"fused_qkvz", g.fused_qkvz}};
  }
  if (s.moe.num_experts > 0) j["moe"] = moe_json(s.moe);
  j["parameters"] = {{"total", pc.total},
                     {"active_per_token", pc.active},
                     {"embedding_and_head", pc.embedding},
                     {"routed_experts", pc.routed_experts}};
  j["storage"] = storage_json(m);
  j["tokenizer"] = m.has_tokenizer();
  j["scan"] = {{"supported", sup.supported}, {"reason", sup.reason}};
  return j;
}

std::string inspect_text(const Model& m) {
  const ModelSpec& s = m.spec();
  const ParamCounts pc = count_params(s);
  std::string o;
  o += fmt::format("model        {}\n", m.origin());
  o += fmt::format("family       {} (model_type {}{})\n", s.family, s.model_type,
                   s.architecture.empty() ? "" : ", " + s.architecture);
  o += fmt::format("dimensions   {} layers, hidden {}, vocab {}\n", s.num_layers, s.hidden_size,
                   s.vocab_size);
  o += attention_text(s.attention);
  o += rope_norm_text(s);
  o += deltanet_experts_text(s);
  o += layers_text(s);
  o += fmt::format("parameters   {} total ({}), {} active per token ({}), embeddings+head {}\n",
                   human_count(pc.total), pc.total, human_count(pc.active), pc.active,
                   human_count(pc.embedding));
  o += fmt::format("tied head    {}\n", s.tie_word_embeddings ? "yes" : "no");
  o += storage_text(m);
  o += fmt::format("tokenizer    {}\n", m.has_tokenizer() ? "tokenizer.json present" : "none");
  const ScanSupport sup = scan_support(s);
  o += fmt::format("scan         {}\n",
                   sup.supported ? "supported" : "not supported: " + sup.reason);
  return o;
}

}  // namespace maxact
