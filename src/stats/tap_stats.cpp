#include "maxact/tap_stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace maxact {
using nlohmann::json;

bool Location::before(const Location& o) const {
  if (sample != o.sample) return sample < o.sample;
  if (position != o.position) return position < o.position;
  return channel < o.channel;
}

// ---- LogHistogram ----------------------------------------------------------------------------

int LogHistogram::bin_of(float a) {
  if (a == 0.0f) return -1;
  uint32_t bits;
  std::memcpy(&bits, &a, 4);
  const int e = static_cast<int>((bits >> 23) & 0xFF) - 127;  // a in [2^e, 2^(e+1)) for normals
  if (e < kMinExp) return -2;
  if (e >= kMaxExp) return kBins;
  const int sub = static_cast<int>((bits >> (23 - 4)) & (kSub - 1));  // top 4 mantissa bits
  return (e - kMinExp) * kSub + sub;
}

double LogHistogram::lower_edge(int bin) {
  const int e = bin / kSub + kMinExp, sub = bin % kSub;
  return std::ldexp(1.0 + static_cast<double>(sub) / kSub, e);
}

void LogHistogram::add(float a) {
  const int b = bin_of(a);
  if (b == -1) {
    ++zero_;
  } else if (b == -2) {
    ++under_;
  } else if (b == kBins) {
    ++over_;
  } else {
    ++bins_[static_cast<std::size_t>(b)];
  }
}

void LogHistogram::merge(const LogHistogram& o) {
  for (int i = 0; i < kBins; ++i)
    bins_[static_cast<std::size_t>(i)] += o.bins_[static_cast<std::size_t>(i)];
  zero_ += o.zero_;
  under_ += o.under_;
  over_ += o.over_;
}

uint64_t LogHistogram::total() const {
  uint64_t t = zero_ + under_ + over_;
  for (uint64_t c : bins_) t += c;
  return t;
}

LogHistogram::Bracket LogHistogram::quantile(double q) const {
  const uint64_t n = total();
  if (n == 0) return {std::nan(""), std::nan("")};
  // Rank of the q-quantile (nearest-rank definition, 1-based).
  const auto rank = static_cast<uint64_t>(std::max(1.0, std::ceil(q * static_cast<double>(n))));
  uint64_t seen = zero_;
  if (rank <= seen) return {0.0, 0.0};
  seen += under_;
  if (rank <= seen) return {0.0, std::ldexp(1.0, kMinExp)};
  for (int i = 0; i < kBins; ++i) {
    seen += bins_[static_cast<std::size_t>(i)];
    if (rank <= seen) return {lower_edge(i), lower_edge(i + 1)};
  }
  return {std::ldexp(1.0, kMaxExp), std::numeric_limits<double>::infinity()};
}

LogHistogram::Slot LogHistogram::slot_of_rank(uint64_t rank) const {
  auto bits_of = [](double v) {
    const auto f = static_cast<float>(v);
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
  };
  Slot s;
  if (rank <= zero_) {
    s.inside = zero_;
    return s;
  }
  s.below = zero_;
  // Underflow: every positive float below 2^kMinExp, subnormals included.
  if (rank <= s.below + under_) return {1, bits_of(std::ldexp(1.0, kMinExp)), s.below, under_};
  s.below += under_;
  for (int i = 0; i < kBins; ++i) {
    const uint64_t c = bins_[static_cast<std::size_t>(i)];
    if (rank <= s.below + c)
      return {bits_of(lower_edge(i)), bits_of(lower_edge(i + 1)), s.below, c};
    s.below += c;
  }
  return {bits_of(std::ldexp(1.0, kMaxExp)), 0x7F800000u, s.below, over_};  // finite only
}

json LogHistogram::to_json() const {
  json bins = json::array();
  if (under_ > 0) bins.push_back({0.0, under_});
  for (int i = 0; i < kBins; ++i) {
    if (bins_[static_cast<std::size_t>(i)] > 0)
      bins.push_back({lower_edge(i), bins_[static_cast<std::size_t>(i)]});
  }
  if (over_ > 0) bins.push_back({std::ldexp(1.0, kMaxExp), over_});
  return {{"zero", zero_}, {"sub_bins_per_octave", kSub}, {"bins", bins}};
}

// ---- TopK ------------------------------------------------------------------------------------

bool TopK::better(const Located& a, const Located& b) {
  const float x = std::fabs(a.value), y = std::fabs(b.value);
  if (x != y) return x > y;
  if (a.loc.sample != b.loc.sample || a.loc.position != b.loc.position ||
      a.loc.channel != b.loc.channel) {
    return a.loc.before(b.loc);
  }
  return a.value > b.value;
}

void TopK::push(const Located& e) {
  // heap_ is a min-heap under better(): the top is the worst kept entry.
  auto worse_first = [](const Located& a, const Located& b) { return better(a, b); };
  if (heap_.size() < k_) {
    heap_.push_back(e);
    std::push_heap(heap_.begin(), heap_.end(), worse_first);
  } else if (k_ > 0 && better(e, heap_.front())) {
    std::pop_heap(heap_.begin(), heap_.end(), worse_first);
    heap_.back() = e;
    std::push_heap(heap_.begin(), heap_.end(), worse_first);
  }
}

void TopK::add(float value, const Location& loc) {
  if (heap_.size() == k_ && k_ > 0 && std::fabs(value) < std::fabs(heap_.front().value)) return;
  push({value, loc});
}

void TopK::merge(const TopK& o) {
  for (const Located& e : o.heap_) push(e);
}

std::vector<Located> TopK::sorted() const {
  std::vector<Located> v = heap_;
  std::sort(v.begin(), v.end(), better);
  return v;
}

bool TopK::operator==(const TopK& o) const {
  const auto a = sorted(), b = o.sorted();
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i].value, &b[i].value, 4) != 0 || a[i].loc.sample != b[i].loc.sample ||
        a[i].loc.position != b[i].loc.position || a[i].loc.channel != b[i].loc.channel) {
      return false;
    }
  }
  return true;
}

// ---- TapStats --------------------------------------------------------------------------------

namespace {

constexpr double kFixedScale = 281474976710656.0;  // 2^48
constexpr double kFixedLimit = 1.7e38;             // per-element cap: sums stay below 2^127

// a before b as "the larger value wins, earlier location on ties" (max) or smaller (min).
void keep_extreme(Located& cur, float v, const Location& loc, bool want_max) {
  const bool take = !cur.loc.valid() || (want_max ? v > cur.value : v < cur.value) ||
                    (v == cur.value && loc.before(cur.loc));
  if (take) cur = {v, loc};
}

// Per-channel Σx² in fixed point: terms are non-negative, so a total beyond 2^127 overflows in
// every summation order; -1 marks it (sticky), keeping merges order-independent.
inline void add_fixed(int128& acc, int128 v) {
  if (acc < 0) return;
  if (v < 0 || __builtin_add_overflow(acc, v, &acc)) acc = -1;
}

void keep_first(Location& cur, const Location& loc) {
  if (!cur.valid() || loc.before(cur)) cur = loc;
}

}  // namespace

TapStats::TapStats(int64_t channels, const TapStatsOptions& options)
    : channels_(channels),
      opt_(options),
      top_(options.topk),
      chan_absmax_(static_cast<std::size_t>(channels), 0.0f),
      chan_sumsq_(static_cast<std::size_t>(channels), 0),
      massive_(options.massive_tokens_kept) {}

namespace {

// nearbyint for 0 <= x < 2^52 without a libm call: adding 2^52 leaves no fraction bits, and the
// addition rounds to nearest, ties to even, exactly as nearbyint does in the default mode.
inline double round_nonneg(double x) {
  constexpr double k = 4503599627370496.0;  // 2^52
  return x < k ? (x + k) - k : x;
}
}  // namespace

// Per-channel Σx² in 2^-48 units: v² (exact in double) scaled, rounded to the nearest integer.
void TapStats::add_channel_square(std::size_t c, float v) {
  const double sq = static_cast<double>(v) * v * kFixedScale;
  if (sq < kFixedLimit) {
    const double q = round_nonneg(sq);
    add_fixed(chan_sumsq_[c],
              q < 9.2e18 ? static_cast<int128>(static_cast<int64_t>(q)) : static_cast<int128>(q));
  } else {
    ++chan_sumsq_saturated_;
  }
}

void TapStats::add_rows(const float* data, int64_t rows, const Location* rows_at, int64_t ld) {
  const auto C = static_cast<std::size_t>(channels_);
  const auto stride = ld > 0 ? static_cast<std::size_t>(ld) : C;
  scratch_.resize(C);
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = data + static_cast<std::size_t>(r) * stride;
    // A first pass decides the path: rows of finite values (nearly all) take the fast one, which
    // leaves exactly the state the general one would.
    float hi = -std::numeric_limits<float>::infinity(), lo = -hi, amax = 0.0f;
    uint32_t special = 0;
    for (std::size_t c = 0; c < C; ++c) {
      const float v = x[c];
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      special |= static_cast<uint32_t>((bits & 0x7F800000u) == 0x7F800000u);
      hi = v > hi ? v : hi;
      lo = v < lo ? v : lo;
      const float a = std::fabs(v);
      amax = a > amax ? a : amax;
    }
    if (special != 0 || C == 0) {
      add_row_general(x, rows_at[r]);
    } else {
      add_row_finite(x, rows_at[r], hi, lo, amax);
      finite_rows_.push_back(x);
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
        ++nan_;
        keep_first(first_nan_, loc);
      } else {
        ++inf_;
        keep_first(first_inf_, loc);
      }
      continue;
    }
    const float a = std::fabs(v);
    ++count_;
    sum_.add(v);
    sumabs_.add_abs(v);
    sumsq_.add_square(v);
    keep_extreme(max_, v, loc, true);
    keep_extreme(min_, v, loc, false);
    hist_.add(a);
    top_.add(v, loc);
    if (a > chan_absmax_[c]) chan_absmax_[c] = a;
    add_channel_square(c, v);
    if (a > 65504.0f) ++over_fp16_;
    if (a > 448.0f) ++over_fp8_;
    if (a > row_absmax) row_absmax = a;
    scratch_[finite++] = a;
  }
  ++tokens_;
  if (finite == 0) return;
  token_max_hist_.add(row_absmax);
  massive_check(x, loc, row_absmax, finite);
}

void TapStats::add_row_finite(const float* x, Location loc, float row_max, float row_min,
                              float row_absmax) {
  const auto C = static_cast<std::size_t>(channels_);
  // Extremes: only rows that can change them look for the first position of their extreme.
  if (!max_.loc.valid() || row_max >= max_.value) {
    std::size_t c = 0;
    while (x[c] != row_max) ++c;
    loc.channel = static_cast<int32_t>(c);
    keep_extreme(max_, row_max, loc, true);
  }
  if (!min_.loc.valid() || row_min <= min_.value) {
    std::size_t c = 0;
    while (x[c] != row_min) ++c;
    loc.channel = static_cast<int32_t>(c);
    keep_extreme(min_, row_min, loc, false);
  }
  if (top_.could_take(row_absmax)) {
    for (std::size_t c = 0; c < C; ++c) {
      if (!top_.could_take(std::fabs(x[c]))) continue;
      loc.channel = static_cast<int32_t>(c);
      top_.add(x[c], loc);
    }
  }
  if (row_absmax > 448.0f) {
    for (std::size_t c = 0; c < C; ++c) {
      const float a = std::fabs(x[c]);
      over_fp16_ += a > 65504.0f;
      over_fp8_ += a > 448.0f;
    }
  }
  ++tokens_;
  token_max_hist_.add(row_absmax);
  if (row_absmax > opt_.massive_abs) {
    for (std::size_t c = 0; c < C; ++c) scratch_[c] = std::fabs(x[c]);
    massive_check(x, loc, row_absmax, C);
  }
}

void TapStats::add_values_finite(const float* const* rows, std::size_t n) {
  if (n == 0) return;
  const auto C = static_cast<std::size_t>(channels_);
  count_ += n * C;
  constexpr std::size_t kTile = 256;  // channels whose state (20 bytes each) stays in L1
  for (std::size_t c0 = 0; c0 < C; c0 += kTile) {
    const std::size_t c1 = std::min(C, c0 + kTile);
    for (std::size_t r = 0; r < n; ++r) {
      const float* x = rows[r];
      for (std::size_t c = c0; c < c1; ++c) {
        const float v = x[c];
        sum_.add(v);
        sumabs_.add_abs(v);
        sumsq_.add_square(v);
        const float a = std::fabs(v);
        hist_.add(a);
        if (a > chan_absmax_[c]) chan_absmax_[c] = a;
        add_channel_square(c, v);
      }
    }
  }
}

// Per-token median |a| over the finite channels (the upper median for even counts), then Sun et
// al.'s criterion. scratch_ holds the row's finite |a| values.
float upper_median(float* values, std::size_t n) {
  float* mid = values + n / 2;
  std::nth_element(values, mid, values + n);
  return *mid;
}

void TapStats::massive_check(const float* x, Location loc, float row_absmax, std::size_t finite) {
  const auto C = static_cast<std::size_t>(channels_);
  if (row_absmax <= opt_.massive_abs) return;
  const double median = upper_median(scratch_.data(), finite);
  bool any = false;
  for (std::size_t c = 0; c < C; ++c) {
    const float a = std::fabs(x[c]);
    if (std::isfinite(a) && a > opt_.massive_abs && a > opt_.massive_ratio * median) {
      ++massive_values_;
      any = true;
      loc.channel = static_cast<int32_t>(c);
      massive_.add(x[c], loc);
    }
  }
  massive_tokens_ += any;
}

void TapStats::merge(const TapStats& o) {
  count_ += o.count_;
  sum_.merge(o.sum_);
  sumsq_.merge(o.sumsq_);
  sumabs_.merge(o.sumabs_);
  if (o.max_.loc.valid()) keep_extreme(max_, o.max_.value, o.max_.loc, true);
  if (o.min_.loc.valid()) keep_extreme(min_, o.min_.value, o.min_.loc, false);
  hist_.merge(o.hist_);
  top_.merge(o.top_);
  for (std::size_t c = 0; c < chan_absmax_.size(); ++c) {
    chan_absmax_[c] = std::max(chan_absmax_[c], o.chan_absmax_[c]);
    add_fixed(chan_sumsq_[c], o.chan_sumsq_[c]);
  }
  chan_sumsq_saturated_ += o.chan_sumsq_saturated_;
  tokens_ += o.tokens_;
  massive_values_ += o.massive_values_;
  massive_tokens_ += o.massive_tokens_;
  token_max_hist_.merge(o.token_max_hist_);
  massive_.merge(o.massive_);
  over_fp16_ += o.over_fp16_;
  over_fp8_ += o.over_fp8_;
  nan_ += o.nan_;
  inf_ += o.inf_;
  if (o.first_nan_.valid()) keep_first(first_nan_, o.first_nan_);
  if (o.first_inf_.valid()) keep_first(first_inf_, o.first_inf_);
}

double TapStats::mean() const {
  return count_ ? sum_.value() / static_cast<double>(count_) : std::nan("");
}
double TapStats::rms() const {
  return count_ ? std::sqrt(sumsq_.value() / static_cast<double>(count_)) : std::nan("");
}

Located TapStats::absmax() const {
  if (!max_.loc.valid()) return max_;
  if (std::fabs(min_.value) > std::fabs(max_.value)) return min_;
  if (std::fabs(min_.value) == std::fabs(max_.value) && min_.loc.before(max_.loc)) return min_;
  return max_;
}

std::vector<double> TapStats::channel_sumsq() const {
  std::vector<double> out(chan_sumsq_.size());
  for (std::size_t c = 0; c < out.size(); ++c)
    out[c] = chan_sumsq_[c] < 0 ? std::numeric_limits<double>::quiet_NaN()  // overflowed: null
                                : static_cast<double>(chan_sumsq_[c]) / kFixedScale;
  return out;
}

bool TapStats::operator==(const TapStats& o) const {
  auto same = [](const Located& a, const Located& b) {
    return std::memcmp(&a.value, &b.value, 4) == 0 && a.loc.sample == b.loc.sample &&
           a.loc.position == b.loc.position && a.loc.channel == b.loc.channel &&
           a.loc.token == b.loc.token;
  };
  return channels_ == o.channels_ && count_ == o.count_ && sum_ == o.sum_ && sumsq_ == o.sumsq_ &&
         sumabs_ == o.sumabs_ && same(max_, o.max_) && same(min_, o.min_) && hist_ == o.hist_ &&
         top_ == o.top_ && chan_absmax_ == o.chan_absmax_ && chan_sumsq_ == o.chan_sumsq_ &&
         chan_sumsq_saturated_ == o.chan_sumsq_saturated_ && tokens_ == o.tokens_ &&
         massive_values_ == o.massive_values_ && massive_tokens_ == o.massive_tokens_ &&
         token_max_hist_ == o.token_max_hist_ && massive_ == o.massive_ &&
         over_fp16_ == o.over_fp16_ && over_fp8_ == o.over_fp8_ && nan_ == o.nan_ &&
         inf_ == o.inf_ && first_nan_.sample == o.first_nan_.sample &&
         first_nan_.position == o.first_nan_.position &&
         first_nan_.channel == o.first_nan_.channel && first_inf_.sample == o.first_inf_.sample &&
         first_inf_.position == o.first_inf_.position && first_inf_.channel == o.first_inf_.channel;
}

namespace {

json loc_json(const Location& l) {
  if (!l.valid()) return nullptr;
  return {
      {"sample", l.sample}, {"position", l.position}, {"token", l.token}, {"channel", l.channel}};
}

json located_json(const Located& e) {
  if (!e.loc.valid()) return nullptr;
  json j = loc_json(e.loc);
  j["value"] = e.value;
  return j;
}

}  // namespace

json TapStats::to_json() const {
  json sumsq_json = json::array();
  for (double v : channel_sumsq()) sumsq_json.push_back(std::isnan(v) ? json() : json(v));
  json top = json::array();
  for (const Located& e : top_.sorted()) top.push_back(located_json(e));
  json massive = json::array();
  for (const Located& e : massive_.sorted()) massive.push_back(located_json(e));
  json quantiles = json::object();
  for (double q : {0.5, 0.9, 0.99, 0.999, 0.9999}) {
    const auto b = hist_.quantile(q);
    quantiles[std::to_string(q).substr(0, std::to_string(q).find_last_not_of('0') + 1)] = {b.lower,
                                                                                           b.upper};
  }
  return {{"count", count_},
          {"mean", mean()},
          {"rms", rms()},
          {"sum", sum_.value()},
          {"sum_sq", sumsq_.value()},
          {"sum_abs", sumabs_.value()},
          {"max", located_json(max_)},
          {"min", located_json(min_)},
          {"absmax", located_json(absmax())},
          {"abs_quantiles", quantiles},
          {"histogram_abs", hist_.to_json()},
          {"top", top},
          {"channel_absmax", chan_absmax_},
          {"channel_sum_sq", sumsq_json},
          {"channel_sum_sq_saturated", chan_sumsq_saturated_},
          {"tokens", tokens_},
          {"token_max_histogram", token_max_hist_.to_json()},
          {"massive",
           {{"values", massive_values_},
            {"tokens", massive_tokens_},
            {"largest", massive},
            {"abs_threshold", opt_.massive_abs},
            {"median_ratio", opt_.massive_ratio}}},
          {"over_fp16", over_fp16_},
          {"over_fp8_e4m3", over_fp8_},
          {"nan", {{"count", nan_}, {"first", loc_json(first_nan_)}}},
          {"inf", {{"count", inf_}, {"first", loc_json(first_inf_)}}}};
}

// ---- CategoryStats ---------------------------------------------------------------------------

void CategoryStats::add_row(const float* x, int64_t channels, Location loc) {
  ++tokens;
  float hi = -std::numeric_limits<float>::infinity(), lo = -hi;
  int32_t ihi = -1, ilo = -1;
  for (int64_t c = 0; c < channels; ++c) {
    const float v = x[c];
    if (!std::isfinite(v)) {
      ++nonfinite;
      continue;
    }
    ++count;
    // Strict comparisons keep the first channel of a tie, as TapStats does.
    if (v > hi || ihi < 0) {
      hi = v;
      ihi = static_cast<int32_t>(c);
    }
    if (v < lo || ilo < 0) {
      lo = v;
      ilo = static_cast<int32_t>(c);
    }
    const float a = std::fabs(v);
    over_fp16 += a > 65504.0f;
    over_fp8 += a > 448.0f;
  }
  if (ihi < 0) return;
  loc.channel = ihi;
  keep_extreme(max, hi, loc, true);
  loc.channel = ilo;
  keep_extreme(min, lo, loc, false);
}

void CategoryStats::merge(const CategoryStats& o) {
  tokens += o.tokens;
  count += o.count;
  over_fp16 += o.over_fp16;
  over_fp8 += o.over_fp8;
  nonfinite += o.nonfinite;
  if (o.max.loc.valid()) keep_extreme(max, o.max.value, o.max.loc, true);
  if (o.min.loc.valid()) keep_extreme(min, o.min.value, o.min.loc, false);
}

Located CategoryStats::absmax() const {
  if (!max.loc.valid()) return min;
  if (!min.loc.valid()) return max;
  const float a = std::fabs(max.value), b = std::fabs(min.value);
  if (a != b) return a > b ? max : min;
  return min.loc.before(max.loc) ? min : max;
}

bool CategoryStats::operator==(const CategoryStats& o) const {
  auto same = [](const Located& a, const Located& b) {
    return std::memcmp(&a.value, &b.value, 4) == 0 && a.loc.sample == b.loc.sample &&
           a.loc.position == b.loc.position && a.loc.channel == b.loc.channel;
  };
  return tokens == o.tokens && count == o.count && over_fp16 == o.over_fp16 &&
         over_fp8 == o.over_fp8 && nonfinite == o.nonfinite && same(max, o.max) && same(min, o.min);
}

json CategoryStats::to_json() const {
  return {{"tokens", tokens},
          {"count", count},
          {"max", located_json(max)},
          {"min", located_json(min)},
          {"absmax", located_json(absmax())},
          {"over_fp16", over_fp16},
          {"over_fp8_e4m3", over_fp8},
          {"nonfinite", nonfinite}};
}

}  // namespace maxact
