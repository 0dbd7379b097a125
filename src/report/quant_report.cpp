#include "maxact/quant_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace maxact {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

json num(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

double rate(uint64_t part, uint64_t whole) {
  return whole > 0 ? static_cast<double>(part) / static_cast<double>(whole)
                   : std::numeric_limits<double>::quiet_NaN();
}

json metrics_json(const ErrorStats& e) {
  return {{"count", e.count()},
          {"mae", num(e.mae())},
          {"rmse", num(e.rmse())},
          {"rel_mae", num(e.relative_mae())},
          {"rel_rmse", num(e.relative_rmse())},
          {"sqnr_db", num(e.sqnr_db())},
          {"clipped", e.clipped()},
          {"clip_rate", num(rate(e.clipped(), e.count()))},
          {"exceeded", e.exceeded()},
          {"exceedance_rate", num(rate(e.exceeded(), e.count()))},
          {"overflow", e.nonfinite()}};
}

std::string tap_label(const TapInfo& t, TapNames names) {
  const std::string n = reported_name(t, names);
  return n.empty() ? t.name : n;
}

// Every tap's errors of policy i merged exactly: the energy-weighted (pooled) error.
std::pair<ErrorStats, ErrorStats> pooled(const QuantResult& q, std::size_t i) {
  std::pair<ErrorStats, ErrorStats> out;
  for (const auto& t : q.taps) {
    out.first.merge(t.policies[i].all);
    out.second.merge(t.policies[i].clean);
  }
  return out;
}

std::string db(double v) {
  return std::isfinite(v) ? fmt::format("{:.2f}", v) : (std::isnan(v) ? "-" : "lossless");
}

}  // namespace

json quant_report_json(const QuantResult& q, const json& calibration, TapNames names) {
  json policies = json::array();
  for (QuantPolicy p : q.options.policies) policies.push_back(policy_name(p));
  json taps = json::array();
  for (const TapQuant& t : q.taps) {
    json per = json::object();
    for (const PolicyErrors& pe : t.policies) {
      per[std::string(policy_name(pe.policy))] = {{"threshold", num(pe.threshold)},
                                                  {"all", metrics_json(pe.all)},
                                                  {"clean", metrics_json(pe.clean)}};
    }
    const TapCalibration& c = t.calibration;
    taps.push_back({{"tap", tap_label(t.tap, names)},
                    {"hf_name", t.tap.name},
                    {"component", component_name(t.tap.component)},
                    {"layer", t.tap.layer < 0 ? json() : json(t.tap.layer)},
                    {"channels", t.tap.channels},
                    {"calibration",
                     {{"count", c.count},
                      {"max_abs", c.max_abs},
                      {"quantile", c.has_quantile ? json(c.quantile) : json(nullptr)},
                      {"mse_threshold", c.has_mse ? json(c.mse_threshold) : json(nullptr)},
                      {"mse", c.has_mse ? json(c.mse) : json(nullptr)}}},
                    {"tokens", t.tokens},
                    {"outlier_tokens", t.outlier_tokens},
                    {"policies", per}});
  }
  json summary = json::object();
  for (std::size_t i = 0; i < q.options.policies.size(); ++i) {
    const auto [all, clean] = pooled(q, i);
    summary[std::string(policy_name(q.options.policies[i]))] = {{"all", metrics_json(all)},
                                                                {"clean", metrics_json(clean)}};
  }
  return {{"calibration", calibration},
          {"calibration_tokens", q.calib_tokens},
          {"calibration_seconds", q.calib_seconds},
          {"clip_quantile", q.options.clip_quantile},
          {"mse_grid", {{"per_octave", kMseGridPerOctave}, {"thresholds", kMseGrid}}},
          {"peak_only", q.options.peak_only},
          {"policies", policies},
          {"pooled", summary},
          {"taps", taps}};
}

std::string quant_summary_text(const QuantResult& q, TapNames names) {
  std::string s = fmt::format(
      "quantization {} taps; calibration {} sequences ({} tokens); clip quantile {:g}\n",
      q.taps.size(), q.calib_sequences, q.calib_tokens, q.options.clip_quantile);
  uint64_t tokens = 0, outliers = 0;
  for (const auto& t : q.taps) {
    tokens += t.tokens;
    outliers += t.outlier_tokens;
  }
  s += fmt::format(
      "  pooled over taps; 'clean' leaves out the {} of {} tap-tokens that meet the "
      "massive-activation criterion\n",
      outliers, tokens);
  s += fmt::format("  {:<20} {:>9} {:>9} {:>10} {:>10} {:>10} {:>9}  {}\n", "policy", "SQNR dB",
                   "clean dB", "rel RMSE", "clip rate", "exceed", "overflow", "worst tap (dB)");
  for (std::size_t i = 0; i < q.options.policies.size(); ++i) {
    const auto [all, clean] = pooled(q, i);
    const TapQuant* worst = nullptr;
    for (const auto& t : q.taps) {
      if (worst == nullptr || t.policies[i].all.sqnr_db() < worst->policies[i].all.sqnr_db()) {
        worst = &t;
      }
    }
    s += fmt::format("  {:<20} {:>9} {:>9} {:>10.3g} {:>10.3g} {:>10.3g} {:>9}  {} ({})\n",
                     policy_name(q.options.policies[i]), db(all.sqnr_db()), db(clean.sqnr_db()),
                     all.relative_rmse(), rate(all.clipped(), all.count()),
                     rate(all.exceeded(), all.count()), all.nonfinite(),
                     worst ? tap_label(worst->tap, names) : "-",
                     worst ? db(worst->policies[i].all.sqnr_db()) : "-");
  }
  return s;
}

std::string quant_report_csv(const QuantResult& q, TapNames names) {
  std::string s =
      "tap,component,layer,channels,policy,threshold,calib_max_abs,tokens,outlier_tokens";
  for (const char* part : {"", "clean_"}) {
    for (const char* k : {"count", "mae", "rmse", "rel_mae", "rel_rmse", "sqnr_db", "clip_rate",
                          "exceedance_rate", "overflow"}) {
      s += fmt::format(",{}{}", part, k);
    }
  }
  s += "\n";
  auto cell = [](double v) { return std::isfinite(v) ? fmt::format("{:.9g}", v) : std::string(); };
  for (const TapQuant& t : q.taps) {
    std::string label = tap_label(t.tap, names);
    if (label.find_first_of(",\"") != std::string::npos) label = "\"" + label + "\"";
    for (const PolicyErrors& pe : t.policies) {
      s += fmt::format("{},{},{},{},{},{},{},{},{}", label, component_name(t.tap.component),
                       t.tap.layer < 0 ? std::string() : std::to_string(t.tap.layer),
                       t.tap.channels, policy_name(pe.policy), cell(pe.threshold),
                       cell(t.calibration.max_abs), t.tokens, t.outlier_tokens);
      for (const ErrorStats* e : {&pe.all, &pe.clean}) {
        s += fmt::format(",{},{},{},{},{},{},{},{},{}", e->count(), cell(e->mae()), cell(e->rmse()),
                         cell(e->relative_mae()), cell(e->relative_rmse()), cell(e->sqnr_db()),
                         cell(rate(e->clipped(), e->count())),
                         cell(rate(e->exceeded(), e->count())), e->nonfinite());
      }
      s += "\n";
    }
  }
  return s;
}

std::string study_policy_name(QuantPolicy p, double clip_quantile) {
  switch (p) {
    case QuantPolicy::kInt8MaxAbs:
      return "max_abs";
    case QuantPolicy::kInt8ClipQuantile:
      return fmt::format("clip_q{:g}", clip_quantile);
    default:
      return "";
  }
}

ojson study_quant_sanity(const QuantResult& q, const ScanResult& eval, const ScanMeta& meta,
                         int64_t calib_samples, int64_t eval_samples) {
  ojson j;
  j["model_name"] = meta.model_name;
  j["family"] = meta.model_type;
  j["role"] = meta.options.role.empty() ? ojson() : ojson(meta.options.role);
  j["model_path"] = meta.model_dir;
  j["data_path"] = meta.data_path;
  j["bits"] = 8;
  j["clip_quantile"] = q.options.clip_quantile;
  j["calibration_samples"] = calib_samples;
  j["eval_samples"] = eval_samples;
  j["max_seq_len"] = meta.max_seq_len;
  bool hidden_only = true;
  for (const TapQuant& t : q.taps) {
    hidden_only = hidden_only && (t.tap.component == Component::kHidden ||
                                  t.tap.component == Component::kFinalNorm);
  }
  j["layer_policy"] = q.options.peak_only ? "peak" : (hidden_only ? "all_hidden" : "custom");
  const std::string max_abs = study_policy_name(QuantPolicy::kInt8MaxAbs, 0),
                    clip =
                        study_policy_name(QuantPolicy::kInt8ClipQuantile, q.options.clip_quantile);
  struct Row {
    std::string layer, policy;
    const ErrorStats* e;
  };
  std::vector<Row> rows;
  std::vector<std::string> layers;
  ojson max_t = ojson::object(), clip_t = ojson::object();
  for (const TapQuant& t : q.taps) {
    const std::string name = t.tap.study_name.empty() ? t.tap.name : t.tap.study_name;
    layers.push_back(name);
    for (const PolicyErrors& pe : t.policies) {
      if (pe.policy == QuantPolicy::kInt8MaxAbs) {
        max_t[name] = pe.threshold;
        rows.push_back({name, max_abs, &pe.all});
      } else if (pe.policy == QuantPolicy::kInt8ClipQuantile) {
        clip_t[name] = pe.threshold;
        rows.push_back({name, clip, &pe.all});
      }
    }
  }
  std::sort(layers.begin(), layers.end());
  j["selected_layers"] = layers;
  const GlobalMax g = study_global_max(eval);
  if (g.tap >= 0) {
    const TapInfo& t = eval.taps[static_cast<std::size_t>(g.tap)];
    j["reference_global_max_abs"] = std::fabs(g.value.value);
    j["reference_global_max_location"] =
        fmt::format("{} ({})", t.study_name, g.value.value < 0 ? "min" : "max");
  } else {
    j["reference_global_max_abs"] = nullptr;
    j["reference_global_max_location"] = nullptr;
  }
  j["thresholds"] = {{max_abs, max_t}, {clip, clip_t}};
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.layer != b.layer ? a.layer < b.layer : a.policy < b.policy;
  });
  ojson metrics = ojson::array();
  for (const Row& r : rows) {
    ojson m;
    m["layer"] = r.layer;
    m["policy"] = r.policy;
    m["count"] = r.e->count();
    m["mae"] = r.e->mae();
    m["rmse"] = r.e->rmse();
    m["rel_mae"] = r.e->relative_mae();
    m["rel_rmse"] = r.e->relative_rmse();
    const double sq = r.e->sqnr_db();
    if (std::isfinite(sq)) {
      m["sqnr_db"] = sq;
    } else {
      m["sqnr_db"] = nullptr;
    }
    m["clip_rate"] = rate(r.e->exceeded(), r.e->count());
    metrics.push_back(m);
  }
  j["metrics"] = metrics;
  return j;
}

}  // namespace maxact
