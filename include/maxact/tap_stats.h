// Statistics of one tap (one named activation tensor) over a corpus: docs/NUMERICS.md §11.
// Every piece merges associatively and commutatively (exact sums, integer counts, maxima and
// top-K under a total order of values and locations), so any split of the corpus into windows,
// threads or shards gives bitwise identical results.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "maxact/channel_sums.h"
#include "maxact/exact_sum.h"

namespace maxact {

struct StateAccess;

// Where a value sits: sample (document) index, position in it, the token there, channel.
struct Location {
  int64_t sample = -1;
  int32_t position = -1;
  int32_t token = -1;
  int32_t channel = -1;
  bool valid() const { return sample >= 0; }
  // Total order used to break ties: earlier sample, then position, then channel.
  bool before(const Location& o) const;
  bool operator==(const Location& o) const = default;
};

struct Located {
  float value = 0;
  Location loc;
  // Bitwise on the value: -0 and +0 are different results, as a report prints them.
  bool operator==(const Located& o) const;
};

// Fixed-edge histogram of |x|: 16 linear sub-bins per octave from 2^-40 to 2^40, plus zero,
// underflow and overflow bins. Bin edges are exact float values, so a value's bin is exact.
class LogHistogram {
  // The scan state file (maxact/scan_state.h) saves and restores the accumulators.
  friend struct StateAccess;

 public:
  static constexpr int kMinExp = -40, kMaxExp = 40, kSub = 16;
  static constexpr int kBins = (kMaxExp - kMinExp) * kSub;

  // Inline: it runs once per activation value.
  void add(float abs_value) {
    const int b = bin_of(abs_value);
    if (b >= 0 && b < kBins) {
      ++bins_[static_cast<std::size_t>(b)];
    } else if (b == -1) {
      ++zero_;
    } else if (b == -2) {
      ++under_;
    } else {
      ++over_;
    }
  }
  // n values in abs_value's bin.
  void add(float abs_value, uint64_t n) {
    const int b = bin_of(abs_value);
    if (b >= 0 && b < kBins) {
      bins_[static_cast<std::size_t>(b)] += n;
    } else if (b == -1) {
      zero_ += n;
    } else if (b == -2) {
      under_ += n;
    } else {
      over_ += n;
    }
  }
  void merge(const LogHistogram& o);
  uint64_t total() const;
  // The value below which a fraction q of the samples lie, as the bracketing bin's edges: the
  // true quantile lies in [lower, upper], and upper / lower <= 1 + 1/16 inside the range.
  struct Bracket {
    double lower, upper;
  };
  Bracket quantile(double q) const;
  // The study's reading of a histogram (analyze_model.py): where the cumulative count reaches
  // q * total, interpolated linearly inside the bin holding it; zeros count below every bin.
  // It lies inside quantile(q)'s bracket, as the exact quantile does.
  double quantile_estimate(double q) const;
  // The bin holding the value of 1-based rank `rank` (ascending |x|) as the |x| bit patterns
  // [lo_bits, hi_bits) it covers (both 0: the value is zero), with the counts below and inside.
  struct Slot {
    uint32_t lo_bits = 0, hi_bits = 0;
    uint64_t below = 0, inside = 0;
  };
  Slot slot_of_rank(uint64_t rank) const;
  bool operator==(const LogHistogram& o) const = default;
  uint64_t zeros() const { return zero_; }
  uint64_t underflow() const { return under_; }  // below 2^kMinExp
  uint64_t overflow() const { return over_; }    // 2^kMaxExp and above
  uint64_t bin_count(int bin) const { return bins_[static_cast<std::size_t>(bin)]; }
  static double lower_edge(int bin);

 private:
  // -1 zero, -2 underflow, kBins overflow.
  static int bin_of(float a) {
    if (a == 0.0f) return -1;
    uint32_t bits;
    std::memcpy(&bits, &a, 4);
    const int e = static_cast<int>((bits >> 23) & 0xFF) - 127;  // a in [2^e, 2^(e+1)) if normal
    if (e < kMinExp) return -2;
    if (e >= kMaxExp) return kBins;
    const int sub = static_cast<int>((bits >> (23 - 4)) & (kSub - 1));  // top 4 mantissa bits
    return (e - kMinExp) * kSub + sub;
  }
  std::vector<uint64_t> bins_ = std::vector<uint64_t>(kBins, 0);
  uint64_t zero_ = 0, under_ = 0, over_ = 0;
};

// The K largest |x| with locations; ties broken by location so the set is unique.
class TopK {
  // The scan state file (maxact/scan_state.h) saves and restores the accumulators.
  friend struct StateAccess;

 public:
  explicit TopK(std::size_t k = 100) : k_(k) {}
  void add(float value, const Location& loc);
  // False when no value with this |x| could enter (the heap is full of larger ones).
  bool could_take(float abs_value) const {
    return heap_.size() < k_ || (k_ > 0 && abs_value >= std::fabs(heap_.front().value));
  }
  void merge(const TopK& o);
  // Largest first.
  std::vector<Located> sorted() const;
  bool operator==(const TopK& o) const;

 private:
  static bool better(const Located& a, const Located& b);
  void push(const Located& e);
  std::size_t k_;
  std::vector<Located> heap_;  // min-heap under better(): worst kept entry on top
};

struct TapStatsOptions {
  std::size_t topk = 100;
  std::size_t massive_tokens_kept = 64;  // locations of massive activations listed
  double massive_abs = 100.0;            // Sun et al.: |a| > 100 ...
  double massive_ratio = 1000.0;         // ... and > 1000 x the token's median |a|
};

// What TapStats::add_rows learns of each row in its first pass: its max, min and max |x| when
// every value is finite. A category's statistics of the row follow from it without a second
// pass over the values.
struct RowExtremes {
  float max = 0, min = 0, absmax = 0;
  bool finite = false;  // false: a NaN / Inf in the row (or no channel); the fields are unset
};

// A tap's extremes on one slice of the corpus (a category): located max and min, counts over the
// fp16 / FP8 limits. Mergeable like TapStats; the full statistics stay per tap.
struct CategoryStats {
  uint64_t tokens = 0, count = 0, over_fp16 = 0, over_fp8 = 0, nonfinite = 0;
  Located max{-std::numeric_limits<float>::infinity(), {}};
  Located min{std::numeric_limits<float>::infinity(), {}};

  void add_row(const float* x, int64_t channels, Location loc);
  // The same, from the row's extremes as add_rows found them: the values are read again only
  // where an extreme's channel or a count over the FP8 limit is needed.
  void add_row(const float* x, int64_t channels, Location loc, const RowExtremes& e);
  void merge(const CategoryStats& o);
  Located absmax() const;
  bool operator==(const CategoryStats& o) const = default;
};

// Sun et al.'s per-token criterion (docs/NUMERICS.md §11). A token's median is the lower median
// of |x| over its finite channels (rank (n-1)/2, torch.median's choice); its ratio is its largest
// |x| over that median, divided in fp32 with the median clamped to the smallest normal float, as
// the study computes it (a zero median gives a huge or infinite ratio, not a division by zero).
// `guess` (e.g. the previous token's median) only speeds it up.
float lower_median_abs(const float* x, std::size_t n, float guess = 0.0f);
inline float sun_ratio(float abs_value, float median) {
  return abs_value / std::max(median, std::numeric_limits<float>::min());
}
// A value is massive when |x| > massive_abs and its ratio to its token's median > massive_ratio.
inline bool is_massive(float abs_value, float median, const TapStatsOptions& o) {
  return abs_value > o.massive_abs && sun_ratio(abs_value, median) > o.massive_ratio;
}

// One token (row) of a tap under the criterion: its largest |x| (located: the channel is where
// it is), its median |x| and their ratio.
struct TokenRatio {
  float absmax = 0, median = 0, ratio = 0;
  Location loc;
  bool operator==(const TokenRatio& o) const = default;
};

class TapStats {
  // The scan state file (maxact/scan_state.h) saves and restores the accumulators.
  friend struct StateAccess;

 public:
  TapStats(int64_t channels, const TapStatsOptions& options = {});

  // rows x channels values, row r starting at data + r * ld (ld = 0: channels) and belonging to
  // rows_at[r] (sample, position, token; channel ignored). Each row is one token's activation
  // vector. `extremes`, when given, receives each row's (rows entries).
  void add_rows(const float* data, int64_t rows, const Location* rows_at, int64_t ld = 0,
                RowExtremes* extremes = nullptr);
  void merge(const TapStats& o);

  int64_t channels() const { return channels_; }
  const TapStatsOptions& options() const { return opt_; }
  uint64_t count() const { return a_.count; }  // finite values
  double sum() const { return a_.sum.value(); }
  double sum_sq() const { return a_.sumsq.value(); }
  double sum_abs() const { return a_.sumabs.value(); }
  double mean() const;
  double rms() const;
  const Located& max() const { return a_.max; }
  const Located& min() const { return a_.min; }
  Located absmax() const;
  // Per channel over the finite values: max and min (signed), max |x|, Σx² (NaN, JSON null,
  // where it overflowed 2^79; squares beyond the accumulator counted as saturated).
  const ChannelSums& channel_sums() const { return a_.chan; }
  std::vector<float> channel_absmax() const { return a_.chan.absmax(); }
  std::vector<double> channel_sumsq() const { return a_.chan.sum_sq(); }
  uint64_t channel_sumsq_saturated() const { return a_.chan.saturated(); }
  uint64_t tokens() const { return a_.tokens; }
  const LogHistogram& token_max_histogram() const { return a_.token_max_hist; }
  uint64_t massive_values() const { return a_.massive_values; }
  // Tokens whose largest |x| is massive (the study's sun_n_pass).
  uint64_t massive_tokens() const { return a_.massive_tokens; }
  // The per-token criterion over the tokens with a finite value (the study's sun_* fields): the
  // peak token (largest max |x|) and the token of the largest ratio, each the earliest on ties;
  // the ratio's mean and population std over tokens from exact sums (+inf when a ratio is).
  uint64_t ratio_tokens() const { return a_.ratio_tokens; }
  const TokenRatio& peak_token() const { return a_.peak_token; }
  const TokenRatio& max_ratio_token() const { return a_.max_ratio_token; }
  uint64_t infinite_ratios() const { return a_.ratio_infinite; }
  double ratio_mean() const;
  double ratio_std() const;
  std::vector<Located> massive_largest() const { return a_.massive.sorted(); }
  std::vector<Located> top() const { return a_.top.sorted(); }
  const LogHistogram& histogram() const { return a_.hist; }
  uint64_t over_fp16() const { return a_.over_fp16; }
  uint64_t over_fp8() const { return a_.over_fp8; }
  uint64_t nan_count() const { return a_.nan; }
  uint64_t inf_count() const { return a_.inf; }
  const Location& first_nan() const { return a_.first_nan; }
  const Location& first_inf() const { return a_.first_inf; }

  bool operator==(const TapStats& o) const { return channels_ == o.channels_ && a_ == o.a_; }

 private:
  void add_row_general(const float* x, Location loc);  // any row (NaN / Inf handled)
  // Row-level statistics of a finite row (extremes, top-K, thresholds, per-token criterion).
  void add_row_finite(const float* x, Location loc, float row_max, float row_min, float row_absmax);
  // Value-level statistics (exact sums, histogram, per-channel) of finite rows, channel-tiled so
  // the per-channel state stays in cache while rows stream past.
  void add_values_finite(const float* const* rows, std::size_t n);
  // The per-token criterion for a row whose finite |x| are abs[0..finite), largest row_absmax at
  // loc.channel.
  void token_ratio(const float* x, const float* abs, std::size_t finite, Location loc,
                   float row_absmax);
  int64_t channels_;
  TapStatsOptions opt_;
  // Everything merge() combines, and nothing else: the defaulted comparison covers every field.
  struct Accumulators {
    uint64_t count = 0;  // finite values
    ExactSum sum, sumsq, sumabs;
    Located max{-std::numeric_limits<float>::infinity(), {}};
    Located min{std::numeric_limits<float>::infinity(), {}};
    LogHistogram hist;
    TopK top;
    ChannelSums chan;
    uint64_t tokens = 0, massive_values = 0, massive_tokens = 0;
    LogHistogram token_max_hist;
    TopK massive;  // the largest massive activations, located
    uint64_t ratio_tokens = 0, ratio_infinite = 0;
    ExactSum ratio_sum, ratio_sumsq;  // of the finite per-token ratios
    TokenRatio peak_token, max_ratio_token;
    uint64_t over_fp16 = 0, over_fp8 = 0;
    uint64_t nan = 0, inf = 0;
    Location first_nan, first_inf;
    bool operator==(const Accumulators& o) const = default;
  };
  Accumulators a_;
  std::vector<float> scratch_;
  float median_guess_ = 0;  // the last token's median: where the next one's is likely to be
  std::vector<const float*> finite_rows_;
};

}  // namespace maxact
