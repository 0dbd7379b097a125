// The study's `<model>_activation_stats.json` and `<model>_top5_stats.json`, field for field as
// its analyze_model.py writes them (docs/DECISIONS.md lists where maxact's numbers are computed
// differently). Its per-token ("sun_*"), quantile and top-K fields exist only for the
// components it records them for: embedding, attention output, MLP output, hidden state and
// final norm (component_in_study_max); the MLP gate and the router get the seven moments.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "maxact/scan_report.h"

namespace maxact {
using ojson = nlohmann::ordered_json;

namespace {

// The study keeps this many values per component, zero-initialised (analyze_model.py _TOP5_K).
constexpr std::size_t kStudyTopK = 100;

ojson study_header(const ScanMeta& m) {
  ojson j = ojson::object();
  j["model_name"] = m.model_name;
  j["model_path"] = m.model_dir;
  j["model_type"] = m.model_type;
  j["num_hidden_layers"] = m.num_layers;
  j["hidden_size"] = m.hidden_size;
  j["data_path"] = m.data_path;
  j["num_samples"] = m.num_samples;
  j["max_seq_len"] = m.max_seq_len;
  return j;
}

// The study's keys for a tap: its study name, and its alias when it has one.
std::vector<std::string> study_keys(const TapInfo& t) {
  std::vector<std::string> keys{t.study_name};
  if (!t.study_alias.empty()) keys.push_back(t.study_alias);
  return keys;
}

// The study writes every scalar through float(): counts too. A non-finite value (a token with a
// zero median makes the mean ratio infinite) is JSON null, where Python would write Infinity.
ojson number(double v) {
  return std::isfinite(v) ? ojson(v) : ojson();
}

// sun_*: the per-token criterion. Before any token the study's state is zeros.
void add_per_token(ojson& e, const TapStats& s) {
  const TokenRatio& peak = s.peak_token();
  const TokenRatio& best = s.max_ratio_token();
  const bool any = s.ratio_tokens() > 0;
  e["sun_peak_abs"] = any ? peak.absmax : 0.0;
  e["sun_peak_token_median"] = any ? peak.median : 0.0;
  // In double from the two floats, as the study divides them in Python.
  e["sun_peak_token_ratio"] =
      any && peak.median > 0 ? static_cast<double>(peak.absmax) / peak.median : 0.0;
  e["sun_max_ratio"] = number(any ? best.ratio : 0.0);
  e["sun_max_ratio_abs"] = any ? best.absmax : 0.0;
  e["sun_max_ratio_median"] = any ? best.median : 0.0;
  e["sun_mean_ratio"] = number(any ? s.ratio_mean() : 0.0);
  e["sun_std_ratio"] = number(any ? s.ratio_std() : 0.0);
  e["sun_n_tokens"] = static_cast<double>(s.ratio_tokens());
  e["sun_n_pass"] = static_cast<double>(s.massive_tokens());
  e["sun_t_val"] = s.options().massive_abs;
  e["sun_t_ratio"] = s.options().massive_ratio;
}

// abs_*: quantiles of |x| read from the histogram the study's way (interpolated inside the
// bin), on maxact's finer bins; absent, as in the study, when the tap saw no value.
void add_quantiles(ojson& e, const LogHistogram& h) {
  const uint64_t total = h.total();
  if (total == 0) return;
  for (const auto& [key, q] : {std::pair{"abs_median", 0.5},
                               {"abs_q25", 0.25},
                               {"abs_q75", 0.75},
                               {"abs_q90", 0.9},
                               {"abs_q99", 0.99},
                               {"abs_q999", 0.999}})
    e[key] = h.quantile_estimate(q);
  e["abs_hist_count"] = static_cast<double>(total);
  e["abs_hist_zero_frac"] = static_cast<double>(h.zeros()) / static_cast<double>(total);
}

ojson activation_entry(const TapInfo& t, const TapStats& s) {
  const auto n = static_cast<double>(s.count());
  const double mean = s.mean(), rms = s.rms();
  ojson e{{"mean", mean},
          {"std", std::sqrt(std::max(0.0, rms * rms - mean * mean))},
          {"abs_mean", n > 0 ? s.sum_abs() / n : 0.0},
          {"rms", rms},
          {"max", s.max().value},
          {"min", s.min().value},
          {"count", n}};
  if (component_in_study_max(t.component)) {
    add_per_token(e, s);
    add_quantiles(e, s.histogram());
  }
  return e;
}

// A component's top values as the study keeps them: K = 100 slots that start at zero, so a
// component with fewer values lists zeros after them.
std::vector<float> study_top(const TapStats& s) {
  std::vector<float> v;
  for (const Located& e : s.top()) v.push_back(e.value);
  if (s.count() < kStudyTopK && v.size() < kStudyTopK) v.resize(kStudyTopK, 0.0f);
  return v;
}

ojson top_entry(const std::vector<float>& top) {
  auto lists = [&top](std::size_t k, ojson& abs, ojson& sig, double& abs_mean, double& sig_mean) {
    abs = ojson::array();
    sig = ojson::array();
    double sa = 0, ss = 0;
    const std::size_t n = std::min(k, top.size());
    for (std::size_t i = 0; i < n; ++i) {
      abs.push_back(std::fabs(top[i]));
      sig.push_back(top[i]);
      sa += std::fabs(top[i]);
      ss += top[i];
    }
    abs_mean = n ? sa / static_cast<double>(n) : 0.0;
    sig_mean = n ? ss / static_cast<double>(n) : 0.0;
  };
  ojson e = ojson::object();
  ojson abs, sig;
  double am = 0, sm = 0;
  lists(top.size(), abs, sig, am, sm);
  e["topk_abs"] = abs;
  e["topk_signed"] = sig;
  e["top_k"] = top.size();
  e["topk_abs_mean"] = am;
  e["topk_signed_mean"] = sm;
  lists(5, abs, sig, am, sm);
  e["top5_abs"] = abs;
  e["top5_signed"] = sig;
  e["top5_abs_mean"] = am;
  e["top5_signed_mean"] = sm;
  lists(10, abs, sig, am, sm);
  e["top10_abs"] = abs;
  e["top10_signed"] = sig;
  lists(100, abs, sig, am, sm);
  e["top100_abs"] = abs;
  e["top100_signed"] = sig;
  return e;
}

}  // namespace

ojson study_activation_stats(const ScanResult& r, const ScanMeta& meta) {
  ojson j = study_header(meta);
  const GlobalMax g = study_global_max(r);
  if (g.tap >= 0) {
    const TapInfo& t = r.taps[static_cast<std::size_t>(g.tap)];
    j["global_max_activation"] = g.value.value;
    j["global_max_location"] =
        fmt::format("{} ({})", t.study_name, g.value.value < 0 ? "min" : "max");
  } else {
    j["global_max_activation"] = nullptr;
    j["global_max_location"] = nullptr;
  }
  ojson per = ojson::object();
  for (std::size_t i = 0; i < r.taps.size(); ++i) {
    const TapInfo& t = r.taps[i];
    if (t.study_name.empty()) continue;
    const ojson e = activation_entry(t, r.stats[i]);
    for (const std::string& key : study_keys(t)) per[key] = e;
  }
  j["per_layer_stats"] = per;
  return j;
}

ojson study_top5_stats(const ScanResult& r, const ScanMeta& meta) {
  ojson j = study_header(meta);
  // The global list: every entry's first five values, largest (|x|, then signed) first, K kept.
  std::vector<std::pair<float, float>> all;
  ojson per = ojson::object();
  for (std::size_t i = 0; i < r.taps.size(); ++i) {
    const TapInfo& t = r.taps[i];
    if (t.study_name.empty() || !component_in_study_max(t.component)) continue;
    const std::vector<float> top = study_top(r.stats[i]);
    const ojson e = top_entry(top);
    for (const std::string& key : study_keys(t)) {
      per[key] = e;
      for (std::size_t k = 0; k < std::min<std::size_t>(5, top.size()); ++k)
        all.emplace_back(std::fabs(top[k]), top[k]);
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a > b; });
  if (all.size() > kStudyTopK) all.resize(kStudyTopK);
  ojson gabs = ojson::array(), gsig = ojson::array();
  double ga = 0;
  for (const auto& [a, v] : all) {
    gabs.push_back(a);
    gsig.push_back(v);
    ga += a;
  }
  j["global_top5_abs"] = gabs;
  j["global_top5_signed"] = gsig;
  j["global_top5_abs_mean"] = all.empty() ? 0.0 : ga / static_cast<double>(all.size());
  j["per_layer_stats"] = per;
  return j;
}

}  // namespace maxact
