#include "maxact/tap_stats.h"

#include "maxact/dtype.h"
#include "stats/extremes.h"
#include "stats/finite_values.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace maxact {
using stats::keep_extreme;

bool Located::operator==(const Located& o) const {
  return std::memcmp(&value, &o.value, sizeof value) == 0 && loc == o.loc;
}

bool Location::before(const Location& o) const {
  if (sample != o.sample) return sample < o.sample;
  if (position != o.position) return position < o.position;
  return channel < o.channel;
}

// ---- TapStats --------------------------------------------------------------------------------

namespace {

constexpr std::size_t kValuesPerPass = 65536;

void keep_first(Location& cur, const Location& loc) {
  if (!cur.valid() || loc.before(cur)) cur = loc;
}

}  // namespace

TapStats::TapStats(int64_t channels, const TapStatsOptions& options)
    : channels_(channels), opt_(options) {
  a_.top = TopK(options.topk);
  a_.massive = TopK(options.massive_tokens_kept);
  a_.chan = ChannelSums(channels);
}

void TapStats::add_rows(const float* data, int64_t rows, const Location* rows_at, int64_t ld,
                        RowExtremes* extremes) {
  const auto C = static_cast<std::size_t>(channels_);
  const auto stride = ld > 0 ? static_cast<std::size_t>(ld) : C;
  scratch_.resize(C);
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = data + static_cast<std::size_t>(r) * stride;
    // A first pass decides the path: rows of finite values (nearly all) take the fast one, which
    // leaves exactly the state the general one would.
    const stats::RowRange range = stats::row_range(x, C, stats::default_value_kernel());
    const float hi = range.max, lo = range.min, amax = range.absmax;
    const bool special = range.special;
    if (extremes != nullptr) extremes[r] = {hi, lo, amax, !special && C != 0};
    if (special || C == 0) {
      add_row_general(x, rows_at[r]);
    } else {
      add_row_finite(x, rows_at[r], hi, lo, amax);
      finite_rows_.push_back(x);
      // The value pass over rows still in cache from the row pass (a few hundred KB).
      if (finite_rows_.size() * C >= kValuesPerPass) {
        add_values_finite(finite_rows_.data(), finite_rows_.size());
        finite_rows_.clear();
      }
    }
  }
  add_values_finite(finite_rows_.data(), finite_rows_.size());
  finite_rows_.clear();
}

void TapStats::add_row_general(const float* x, Location loc) {
  const auto C = static_cast<std::size_t>(channels_);
  float row_absmax = 0.0f;
  std::size_t finite = 0;
  for (std::size_t c = 0; c < C; ++c) {
    const float v = x[c];
    loc.channel = static_cast<int32_t>(c);
    if (!std::isfinite(v)) {
      if (std::isnan(v)) {
        ++a_.nan;
        keep_first(a_.first_nan, loc);
      } else {
        ++a_.inf;
        keep_first(a_.first_inf, loc);
      }
      continue;
    }
    const float a = std::fabs(v);
    ++a_.count;
    a_.sum.add(v);
    a_.sumabs.add_abs(v);
    a_.sumsq.add_square(v);
    keep_extreme(a_.max, v, loc, true);
    keep_extreme(a_.min, v, loc, false);
    a_.hist.add(a);
    a_.top.add(v, loc);
    a_.chan.add(c, v);
    if (a > kFp16Max) ++a_.over_fp16;
    if (a > kE4m3Max) ++a_.over_fp8;
    if (a > row_absmax) row_absmax = a;
    scratch_[finite++] = a;
  }
  ++a_.tokens;
  if (finite == 0) return;
  a_.token_max_hist.add(row_absmax);
  token_ratio(x, scratch_.data(), finite, loc, row_absmax);
}

void TapStats::add_row_finite(const float* x, Location loc, float row_max, float row_min,
                              float row_absmax) {
  const auto C = static_cast<std::size_t>(channels_);
  stats::keep_row_extreme(a_.max, x, row_max, loc, true);
  stats::keep_row_extreme(a_.min, x, row_min, loc, false);
  if (a_.top.could_take(row_absmax)) {
    for (std::size_t c = 0; c < C; ++c) {
      if (!a_.top.could_take(std::fabs(x[c]))) continue;
      loc.channel = static_cast<int32_t>(c);
      a_.top.add(x[c], loc);
    }
  }
  if (row_absmax > kE4m3Max) {
    for (std::size_t c = 0; c < C; ++c) {
      const float a = std::fabs(x[c]);
      a_.over_fp16 += a > kFp16Max;
      a_.over_fp8 += a > kE4m3Max;
    }
  }
  ++a_.tokens;
  a_.token_max_hist.add(row_absmax);
  token_ratio(x, x, C, loc, row_absmax);
}

void TapStats::add_values_finite(const float* const* rows, std::size_t n) {
  if (n == 0) return;
  a_.count += n * static_cast<std::size_t>(channels_);
  stats::add_finite_values(rows, n, static_cast<std::size_t>(channels_),
                           {a_.sum, a_.sumabs, a_.sumsq, a_.hist, a_.chan},
                           stats::default_value_kernel());
}

namespace {

// A total order, so the kept token never depends on arrival order: the larger key, then the
// earlier location, then the larger other key. MoE expert rows repeat a location (one row per
// expert routed to) with the same largest |x| where gpt-oss clamps, but different medians.
bool better(float key, float other, const Location& at, float cur_key, float cur_other,
            const Location& cur_at) {
  if (key != cur_key) return key > cur_key;
  if (!(at == cur_at)) return at.before(cur_at);
  return other > cur_other;
}
void keep_peak(TokenRatio& cur, const TokenRatio& t) {
  if (!cur.loc.valid() || better(t.absmax, t.ratio, t.loc, cur.absmax, cur.ratio, cur.loc)) cur = t;
}
void keep_ratio(TokenRatio& cur, const TokenRatio& t) {
  if (!cur.loc.valid() || better(t.ratio, t.absmax, t.loc, cur.ratio, cur.absmax, cur.loc)) cur = t;
}

}  // namespace

void TapStats::token_ratio(const float* x, const float* abs, std::size_t finite, Location loc,
                           float row_absmax) {
  const auto C = static_cast<std::size_t>(channels_);
  const float median = lower_median_abs(abs, finite, median_guess_);
  median_guess_ = median;
  const TokenRatio t{row_absmax, median, sun_ratio(row_absmax, median), loc};
  ++a_.ratio_tokens;
  if (std::isinf(t.ratio)) {
    ++a_.ratio_infinite;
  } else {
    a_.ratio_sum.add(t.ratio);
    a_.ratio_sumsq.add_square(t.ratio);
  }
  // Only a token that can displace a kept one needs the channel of its largest |x|.
  const bool peak = !a_.peak_token.loc.valid() || t.absmax >= a_.peak_token.absmax;
  const bool ratio = !a_.max_ratio_token.loc.valid() || t.ratio >= a_.max_ratio_token.ratio;
  if (peak || ratio) {
    TokenRatio located = t;
    std::size_t c = 0;
    while (c + 1 < C && !(std::fabs(x[c]) == row_absmax)) ++c;
    located.loc.channel = static_cast<int32_t>(c);
    if (peak) keep_peak(a_.peak_token, located);
    if (ratio) keep_ratio(a_.max_ratio_token, located);
  }
  if (!is_massive(row_absmax, median, opt_)) return;
  ++a_.massive_tokens;
  for (std::size_t c = 0; c < C; ++c) {
    const float a = std::fabs(x[c]);
    if (std::isfinite(a) && is_massive(a, median, opt_)) {
      ++a_.massive_values;
      loc.channel = static_cast<int32_t>(c);
      a_.massive.add(x[c], loc);
    }
  }
}

void TapStats::merge(const TapStats& o) {
  a_.count += o.a_.count;
  a_.sum.merge(o.a_.sum);
  a_.sumsq.merge(o.a_.sumsq);
  a_.sumabs.merge(o.a_.sumabs);
  if (o.a_.max.loc.valid()) keep_extreme(a_.max, o.a_.max.value, o.a_.max.loc, true);
  if (o.a_.min.loc.valid()) keep_extreme(a_.min, o.a_.min.value, o.a_.min.loc, false);
  a_.hist.merge(o.a_.hist);
  a_.top.merge(o.a_.top);
  a_.chan.merge(o.a_.chan);
  a_.tokens += o.a_.tokens;
  a_.massive_values += o.a_.massive_values;
  a_.massive_tokens += o.a_.massive_tokens;
  a_.token_max_hist.merge(o.a_.token_max_hist);
  a_.massive.merge(o.a_.massive);
  a_.ratio_tokens += o.a_.ratio_tokens;
  a_.ratio_infinite += o.a_.ratio_infinite;
  a_.ratio_sum.merge(o.a_.ratio_sum);
  a_.ratio_sumsq.merge(o.a_.ratio_sumsq);
  if (o.a_.peak_token.loc.valid()) keep_peak(a_.peak_token, o.a_.peak_token);
  if (o.a_.max_ratio_token.loc.valid()) keep_ratio(a_.max_ratio_token, o.a_.max_ratio_token);
  a_.over_fp16 += o.a_.over_fp16;
  a_.over_fp8 += o.a_.over_fp8;
  a_.nan += o.a_.nan;
  a_.inf += o.a_.inf;
  if (o.a_.first_nan.valid()) keep_first(a_.first_nan, o.a_.first_nan);
  if (o.a_.first_inf.valid()) keep_first(a_.first_inf, o.a_.first_inf);
}

double TapStats::mean() const {
  return a_.count ? a_.sum.value() / static_cast<double>(a_.count) : std::nan("");
}
double TapStats::rms() const {
  return a_.count ? std::sqrt(a_.sumsq.value() / static_cast<double>(a_.count)) : std::nan("");
}

double TapStats::ratio_mean() const {
  if (a_.ratio_tokens == 0) return std::nan("");
  if (a_.ratio_infinite > 0) return std::numeric_limits<double>::infinity();
  return a_.ratio_sum.value() / static_cast<double>(a_.ratio_tokens);
}

// Population std from the exact sums, as the study computes it: sqrt(max(0, E[r^2] - E[r]^2)).
double TapStats::ratio_std() const {
  const double mean = ratio_mean();
  if (!std::isfinite(mean)) return mean;
  const double mean_sq = a_.ratio_sumsq.value() / static_cast<double>(a_.ratio_tokens);
  return std::sqrt(std::max(0.0, mean_sq - mean * mean));
}

Located TapStats::absmax() const {
  if (!a_.max.loc.valid()) return a_.max;
  if (std::fabs(a_.min.value) > std::fabs(a_.max.value)) return a_.min;
  if (std::fabs(a_.min.value) == std::fabs(a_.max.value) && a_.min.loc.before(a_.max.loc))
    return a_.min;
  return a_.max;
}

}  // namespace maxact
