#include "maxact/stats_json.h"

#include <cmath>
#include <string>

namespace maxact {
using nlohmann::json;

json location_json(const Location& l) {
  if (!l.valid()) return nullptr;
  return {
      {"sample", l.sample}, {"position", l.position}, {"token", l.token}, {"channel", l.channel}};
}

json located_json(const Located& e) {
  if (!e.loc.valid()) return nullptr;
  json j = location_json(e.loc);
  j["value"] = e.value;
  return j;
}

json histogram_json(const LogHistogram& h) {
  json bins = json::array();
  if (h.underflow() > 0) bins.push_back({0.0, h.underflow()});
  for (int i = 0; i < LogHistogram::kBins; ++i) {
    if (h.bin_count(i) > 0) bins.push_back({LogHistogram::lower_edge(i), h.bin_count(i)});
  }
  if (h.overflow() > 0) bins.push_back({std::ldexp(1.0, LogHistogram::kMaxExp), h.overflow()});
  return {{"zero", h.zeros()}, {"sub_bins_per_octave", LogHistogram::kSub}, {"bins", bins}};
}

json token_ratio_json(const TokenRatio& t) {
  if (!t.loc.valid()) return nullptr;
  json j = location_json(t.loc);
  j["abs"] = t.absmax;
  j["median"] = t.median;
  j["ratio"] = t.ratio;
  return j;
}

namespace {
json located_list(const std::vector<Located>& v) {
  json out = json::array();
  for (const Located& e : v) out.push_back(located_json(e));
  return out;
}
}  // namespace

namespace {
// Per channel; null where the channel saw no finite value (±inf) or Σx² overflowed (NaN).
template <class T>
json finite_or_null(const std::vector<T>& v) {
  json out = json::array();
  for (T x : v) out.push_back(std::isfinite(x) ? json(x) : json());
  return out;
}
}  // namespace

json channel_sums_json(const ChannelSums& c, bool signed_extremes) {
  json j = {{"channel_absmax", c.absmax()},
            {"channel_sum_sq", finite_or_null(c.sum_sq())},
            {"channel_sum_sq_saturated", c.saturated()}};
  if (signed_extremes) {
    j["channel_max"] = finite_or_null(c.max());
    j["channel_min"] = finite_or_null(c.min());
  }
  return j;
}

json stats_json(const TapStats& s, bool signed_channel_extremes) {
  json quantiles = json::object(), estimates = json::object();
  for (double q : {0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999}) {
    const auto b = s.histogram().quantile(q);
    std::string key = std::to_string(q);
    key = key.substr(0, key.find_last_not_of('0') + 1);
    quantiles[key] = {b.lower, b.upper};
    estimates[key] = s.histogram().quantile_estimate(q);
  }
  const TapStatsOptions& opt = s.options();
  json j = {{"count", s.count()},
            {"mean", s.mean()},
            {"rms", s.rms()},
            {"sum", s.sum()},
            {"sum_sq", s.sum_sq()},
            {"sum_abs", s.sum_abs()},
            {"max", located_json(s.max())},
            {"min", located_json(s.min())},
            {"absmax", located_json(s.absmax())},
            {"abs_quantiles", quantiles},
            {"abs_quantile_estimates", estimates},
            {"histogram_abs", histogram_json(s.histogram())},
            {"top", located_list(s.top())},
            {"tokens", s.tokens()},
            {"token_max_histogram", histogram_json(s.token_max_histogram())},
            {"per_token",
             {{"tokens", s.ratio_tokens()},
              {"peak", token_ratio_json(s.peak_token())},
              {"max_ratio", token_ratio_json(s.max_ratio_token())},
              {"ratio_mean", s.ratio_mean()},
              {"ratio_std", s.ratio_std()},
              {"infinite_ratios", s.infinite_ratios()}}},
            {"massive",
             {{"values", s.massive_values()},
              {"tokens", s.massive_tokens()},
              {"largest", located_list(s.massive_largest())},
              {"abs_threshold", opt.massive_abs},
              {"median_ratio", opt.massive_ratio}}},
            {"over_fp16", s.over_fp16()},
            {"over_fp8_e4m3", s.over_fp8()},
            {"nan", {{"count", s.nan_count()}, {"first", location_json(s.first_nan())}}},
            {"inf", {{"count", s.inf_count()}, {"first", location_json(s.first_inf())}}}};
  j.update(channel_sums_json(s.channel_sums(), signed_channel_extremes));
  return j;
}

json category_json(const CategoryStats& c) {
  return {{"tokens", c.tokens},
          {"count", c.count},
          {"max", located_json(c.max)},
          {"min", located_json(c.min)},
          {"absmax", located_json(c.absmax())},
          {"over_fp16", c.over_fp16},
          {"over_fp8_e4m3", c.over_fp8},
          {"nonfinite", c.nonfinite}};
}

}  // namespace maxact
