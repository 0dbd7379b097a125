#include "maxact/scan_report.h"

#include "maxact/stats_json.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

namespace maxact {
using nlohmann::json;
using ojson = nlohmann::ordered_json;

std::string reported_name(const TapInfo& t, TapNames names) {
  return names == TapNames::kStudy ? t.study_name : t.name;
}

namespace {

json with_text(json loc, const ScanMeta& meta) {
  if (loc.is_object() && meta.token_text && loc.contains("token")) {
    loc["token_text"] = meta.token_text(loc["token"].get<int32_t>());
  }
  return loc;
}

// A global maximum as the report gives it (top level and per category); null when none.
json global_max_json(const ScanResult& r, const GlobalMax& g, const ScanMeta& meta) {
  if (g.tap < 0) return nullptr;
  const TapInfo& t = r.taps[static_cast<std::size_t>(g.tap)];
  const std::string name = reported_name(t, meta.names);
  return {{"value", g.value.value},
          {"abs", std::fabs(g.value.value)},
          {"tap", name.empty() ? t.name : name},
          {"hf_name", t.name},
          {"component", component_name(t.component)},
          {"layer", t.layer < 0 ? json() : json(t.layer)},
          {"location", with_text(location_json(g.value.loc), meta)}};
}

json feeds_json(const std::vector<LinearUse>& feeds) {
  json out = json::array();
  for (const LinearUse& u : feeds) {
    // Which of the experts' inputs (the "inputs" of the layer's "experts" entry) it reads.
    const json experts = u.experts == LinearUse::Experts::kIn       ? json("in")
                         : u.experts == LinearUse::Experts::kDownIn ? json("down_proj_in")
                                                                    : json();
    json f = {{"module", u.module}, {"gguf", u.gguf}, {"experts", experts}};
    if (!u.expert_modules.empty()) f["expert_modules"] = u.expert_modules;
    if (u.gguf_input_order.key_heads > 0) {
      f["gguf_input_order"] = {{"key_heads", u.gguf_input_order.key_heads},
                               {"value_heads", u.gguf_input_order.value_heads},
                               {"head_dim", u.gguf_input_order.head_dim}};
    }
    out.push_back(std::move(f));
  }
  return out;
}

// Per expert: its inputs' per-channel statistics (ScanOptions::expert_inputs).
json expert_inputs_json(const std::vector<ExpertInputs>& experts) {
  json in = json::array(), down = json::array();
  for (const ExpertInputs& e : experts) {
    in.push_back(channel_sums_json(e.in, false));
    down.push_back(channel_sums_json(e.down_in, false));
  }
  return {{"in", in}, {"down_proj_in", down}};
}

void add_token_text(json& j, const ScanMeta& meta) {
  if (!meta.token_text) return;
  for (const char* k : {"max", "min", "absmax"}) j[k] = with_text(j[k], meta);
  for (auto& e : j["top"]) e = with_text(e, meta);
  for (auto& e : j["massive"]["largest"]) e = with_text(e, meta);
}

// Every location the report's top lists, tap / category / expert maxima and global max name,
// with its neighbours decoded: what the HTML report shows them in. Keyed "sample:position".
json token_contexts_json(const ScanResult& r, const ScanMeta& meta, const json& taps) {
  json out = json::object();
  if (!meta.token_context) return out;
  const auto add = [&](const json& loc) {
    if (!loc.is_object() || !loc.contains("sample")) return;
    const auto sample = loc["sample"].get<int64_t>();
    const auto position = loc["position"].get<int32_t>();
    const std::string key = fmt::format("{}:{}", sample, position);
    if (out.contains(key)) return;
    if (const auto c = meta.token_context(sample, position, kContextRadius)) {
      out[key] = {{"before", c->before}, {"token", c->token}, {"after", c->after}};
    }
  };
  for (const json& t : taps) {
    for (const json& e : t["stats"]["top"]) add(e);
    add(t["stats"]["absmax"]);
  }
  if (const GlobalMax g = study_global_max(r); g.tap >= 0) add(location_json(g.value.loc));
  for (std::size_t k = 0; k < r.categories.size(); ++k) {
    const GlobalMax g = category_global_max(r, k);
    if (g.tap >= 0) add(location_json(g.value.loc));
  }
  for (const auto& layer : r.expert_down_in_max) {
    for (const Located& v : layer) add(location_json(v.loc));
  }
  return out;
}

}  // namespace

json scan_report_json(const ScanResult& r, const ScanMeta& meta) {
  json taps = json::array();
  for (std::size_t i = 0; i < r.taps.size(); ++i) {
    const TapInfo& t = r.taps[i];
    const std::string name = reported_name(t, meta.names);
    if (name.empty()) continue;
    json s = stats_json(r.stats[i], !t.feeds.empty());
    add_token_text(s, meta);
    json cats = json::object();
    if (i < r.by_category.size()) {
      for (std::size_t k = 0; k < r.categories.size(); ++k) {
        json c = category_json(r.by_category[i][k]);
        for (const char* key : {"max", "min", "absmax"}) c[key] = with_text(c[key], meta);
        cats[r.categories[k].empty() ? "(none)" : r.categories[k]] = std::move(c);
      }
    }
    taps.push_back({{"name", name},
                    {"hf_name", t.name},
                    {"study_name", t.study_name.empty() ? json() : json(t.study_name)},
                    {"component", component_name(t.component)},
                    {"layer", t.layer < 0 ? json() : json(t.layer)},
                    {"channels", t.channels},
                    {"stats", std::move(s)},
                    {"by_category", std::move(cats)}});
    if (!t.feeds.empty()) taps.back()["feeds"] = feeds_json(t.feeds);
  }
  const json gmax = global_max_json(r, study_global_max(r), meta);
  // Where each domain peaks: the study's global maximum restricted to one category.
  json by_cat = json::object();
  for (std::size_t k = 0; k < r.categories.size(); ++k) {
    by_cat[r.categories[k].empty() ? "(none)" : r.categories[k]] = {
        {"global_max", global_max_json(r, category_global_max(r, k), meta)}};
  }
  // Per MoE layer: tokens routed to each expert (a token counts once per expert it reaches).
  json experts = json::array();
  for (std::size_t l = 0; l < r.expert_load.size(); ++l) {
    if (r.expert_load[l].empty()) continue;
    json maxima = json::array();
    if (l < r.expert_down_in_max.size()) {
      for (const Located& v : r.expert_down_in_max[l])
        maxima.push_back(with_text(located_json(v), meta));
    }
    experts.push_back(
        {{"layer", l}, {"tokens_per_expert", r.expert_load[l]}, {"down_proj_in_absmax", maxima}});
    if (l < r.expert_inputs.size() && !r.expert_inputs[l].empty()) {
      experts.back()["inputs"] = expert_inputs_json(r.expert_inputs[l]);
    }
  }
  return {{"schema", "maxact.scan"},
          {"schema_version", kScanSchemaVersion},
          {"maxact_version", MAXACT_VERSION},
          {"model",
           {{"argument", meta.model_arg},
            {"dir", meta.model_dir},
            {"model_type", meta.model_type},
            {"family", meta.family},
            {"architecture", meta.architecture},
            {"num_layers", meta.num_layers},
            {"hidden_size", meta.hidden_size},
            {"parameters", {{"total", meta.params_total}, {"active", meta.params_active}}}}},
          {"corpus", corpus_identity_json(meta.corpus)},
          {"options", recorded_options_json(meta.options)},
          {"names", meta.names == TapNames::kStudy ? "study" : "hf"},
          {"run",
           {{"sequences", r.sequences},
            {"tokens", r.tokens},
            {"windows", r.windows},
            {"threads", r.threads},
            {"seconds", r.seconds},
            {"tokens_per_second", r.seconds > 0 ? static_cast<double>(r.tokens) / r.seconds : 0.0},
            {"blas_core", r.blas_core},
            {"linear_kernel", r.linear_kernel},
            {"stats_kernel", r.stats_kernel},
            {"finished_at", meta.finished_at},
            {"command", meta.command.empty() ? json() : json(meta.command)}}},
          {"global_max", gmax},
          {"categories", by_cat},
          {"experts", experts},
          {"token_contexts", token_contexts_json(r, meta, taps)},
          {"taps", taps}};
}

std::string scan_report_csv(const ScanResult& r, TapNames names) {
  std::string out =
      "tap,component,layer,channels,count,max,min,absmax,mean,rms,sum,sum_sq,sum_abs,"
      "absmax_sample,absmax_position,absmax_token,absmax_channel,q50_upper,q99_upper,"
      "q999_upper,massive_values,massive_tokens,over_fp16,over_fp8_e4m3,nan,inf\n";
  for (std::size_t i = 0; i < r.taps.size(); ++i) {
    const TapInfo& t = r.taps[i];
    const std::string name = reported_name(t, names);
    if (name.empty()) continue;
    const TapStats& s = r.stats[i];
    const Located a = s.absmax();
    out += fmt::format(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", name,
        component_name(t.component), t.layer, t.channels, s.count(), s.max().value, s.min().value,
        std::fabs(a.value), s.mean(), s.rms(), s.sum(), s.sum_sq(), s.sum_abs(), a.loc.sample,
        a.loc.position, a.loc.token, a.loc.channel, s.histogram().quantile(0.5).upper,
        s.histogram().quantile(0.99).upper, s.histogram().quantile(0.999).upper, s.massive_values(),
        s.massive_tokens(), s.over_fp16(), s.over_fp8(), s.nan_count(), s.inf_count());
  }
  return out;
}

std::string scan_summary_text(const ScanResult& r, const ScanMeta& meta) {
  std::string out;
  out += fmt::format("model        {} ({})\n", meta.model_arg, meta.model_type);
  out += fmt::format(
      "scanned      {} sequences, {} tokens in {:.2f} s ({:.0f} tokens/s, {} "
      "threads, {} kernel)\n",
      r.sequences, r.tokens, r.seconds,
      r.seconds > 0 ? static_cast<double>(r.tokens) / r.seconds : 0.0, r.threads, r.linear_kernel);
  const GlobalMax g = study_global_max(r);
  if (g.tap >= 0) {
    const TapInfo& t = r.taps[static_cast<std::size_t>(g.tap)];
    const std::string tok = meta.token_text
                                ? fmt::format("{} {}", g.value.loc.token,
                                              json(meta.token_text(g.value.loc.token)).dump())
                                : fmt::format("{}", g.value.loc.token);
    out += fmt::format(
        "global max   {:.6g} at {} ({}), sample {} position {} token {} channel {}\n",
        g.value.value, reported_name(t, meta.names).empty() ? t.name : reported_name(t, meta.names),
        component_name(t.component), g.value.loc.sample, g.value.loc.position, tok,
        g.value.loc.channel);
  }
  if (r.categories.size() > 1) {
    out += "per category (study components' max |x|, signed, where)\n";
    for (std::size_t k = 0; k < r.categories.size(); ++k) {
      const GlobalMax cg = category_global_max(r, k);
      const int best = cg.tap;
      const Located& v = cg.value;
      if (best < 0) continue;
      out += fmt::format("  {:<16} {:>12.6g}  {}\n",
                         r.categories[k].empty() ? "(none)" : r.categories[k], v.value,
                         r.taps[static_cast<std::size_t>(best)].name);
    }
  }
  // Per component: the largest |x| and where.
  std::vector<std::pair<Component, int>> best;
  for (std::size_t i = 0; i < r.taps.size(); ++i) {
    if (r.stats[i].count() == 0) continue;
    auto it = std::find_if(best.begin(), best.end(),
                           [&](const auto& b) { return b.first == r.taps[i].component; });
    const float v = std::fabs(r.stats[i].absmax().value);
    if (it == best.end()) {
      best.emplace_back(r.taps[i].component, static_cast<int>(i));
    } else if (v > std::fabs(r.stats[static_cast<std::size_t>(it->second)].absmax().value)) {
      it->second = static_cast<int>(i);
    }
  }
  out += "per component (max |x|, signed, where)\n";
  for (const auto& [c, i] : best) {
    const auto& t = r.taps[static_cast<std::size_t>(i)];
    out += fmt::format("  {:<13} {:>12.6g}  {}\n", component_name(c),
                       r.stats[static_cast<std::size_t>(i)].absmax().value, t.name);
  }
  // Hottest layers by residual-stream peak.
  std::vector<std::size_t> hidden;
  for (std::size_t i = 0; i < r.taps.size(); ++i) {
    if (r.taps[i].component == Component::kHidden && r.stats[i].count() > 0) hidden.push_back(i);
  }
  std::sort(hidden.begin(), hidden.end(), [&](std::size_t a, std::size_t b) {
    const float x = std::fabs(r.stats[a].absmax().value), y = std::fabs(r.stats[b].absmax().value);
    return x != y ? x > y : a < b;
  });
  if (!hidden.empty()) out += "hottest layers (residual stream max |x|)\n";
  for (std::size_t k = 0; k < std::min<std::size_t>(5, hidden.size()); ++k) {
    const auto& s = r.stats[hidden[k]];
    // Sun et al.'s ratio of the peak token: its max |x| over its median |x|.
    out +=
        fmt::format("  layer {:<4} {:>12.6g}  rms {:.4g}  peak/median {:.4g}  massive tokens {}\n",
                    r.taps[hidden[k]].layer, s.absmax().value, s.rms(), s.peak_token().ratio,
                    s.massive_tokens());
  }
  uint64_t nan = 0, inf = 0, f16 = 0;
  for (const auto& s : r.stats) {
    nan += s.nan_count();
    inf += s.inf_count();
    f16 += s.over_fp16();
  }
  out += fmt::format("non-finite   {} NaN, {} Inf; values over fp16 max: {}\n", nan, inf, f16);
  return out;
}

}  // namespace maxact
