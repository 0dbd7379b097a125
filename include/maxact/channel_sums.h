// Per-channel statistics of a stream of activation rows: signed max and min (absmax follows) and
// Σx² in fixed point. What calibration tools need per Linear input channel (llama.cpp's imatrix,
// SmoothQuant's act_scales, llm-compressor's max - min), exact and mergeable in any order.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "maxact/int128.h"

namespace maxact {

struct StateAccess;

class ChannelSums {
  // The scan state file (maxact/scan_state.h) saves and restores the accumulators.
  friend struct StateAccess;

 public:
  explicit ChannelSums(int64_t channels = 0);

  // One finite value of channel c. Inline: it runs once per activation value.
  // -0 and +0 compare equal, so which zero is kept depends on the order; max() and min() report
  // either as +0, and == compares them equal, so no order shows.
  void add(std::size_t c, float v) {
    if (v > max_[c]) max_[c] = v;
    if (v < min_[c]) min_[c] = v;
    add_square(c, v);
  }
  // rows x channels finite values, row r at data + r * ld.
  void add_rows(const float* data, int64_t rows, int64_t ld);
  // Channels [c0, c1) of the same rows: disjoint channel ranges may run on different threads.
  void add_rows(const float* data, int64_t rows, int64_t ld, std::size_t c0, std::size_t c1);
  void merge(const ChannelSums& o);
  // Channel c's share of a block of values, as a vectorised pass collects it: the block's max
  // and min, its Σ of fixed-point squares (fixed_square below) as sq_hi * 2^64 + sq_lo, where
  // sq_hi >= 2^63 says the block alone reached 2^127, and its count of saturated squares.
  void add_partial(std::size_t c, float max, float min, uint64_t sq_lo, uint64_t sq_hi,
                   uint64_t saturated) {
    if (max > max_[c]) max_[c] = max;
    if (min < min_[c]) min_[c] = min;
    if (sq_hi >> 63) {
      sumsq_[c] = -1;
    } else {
      add_fixed(sumsq_[c], static_cast<int128>((static_cast<uint128>(sq_hi) << 64) | sq_lo));
    }
    saturated_ += saturated;
  }

  // v² in 2^-48 units before rounding: exact in double; at or above kFixedLimit it saturates.
  static double fixed_square(float v) { return static_cast<double>(v) * v * kFixedScale; }
  static constexpr double kFixedScale = 281474976710656.0;  // 2^48
  static constexpr double kFixedLimit = 1.7e38;  // per-element cap: sums stay below 2^127
  // Round to the nearest integer (ties to even, as nearbyint in the default mode) without a libm
  // call: below 2^52, adding 2^52 leaves no fraction bits.
  static double round_fixed(double x) {
    constexpr double k = 4503599627370496.0;  // 2^52
    return x < k ? (x + k) - k : x;
  }

  std::size_t channels() const { return max_.size(); }
  // Per channel; a channel that saw no value has max -inf, min +inf, absmax 0 and Σx² 0.
  std::vector<float> max() const;
  std::vector<float> min() const;
  std::vector<float> absmax() const;
  std::vector<double> sum_sq() const;  // NaN where Σx² overflowed 2^79
  // Squares too large for the fixed-point accumulator, left out of the sums and counted here.
  uint64_t saturated() const { return saturated_; }
  bool operator==(const ChannelSums& o) const = default;

 private:
  void add_square(std::size_t c, float v) {
    const double sq = fixed_square(v);
    if (sq < kFixedLimit) {
      add_fixed(sumsq_[c], to_fixed(sq));
    } else {
      ++saturated_;
    }
  }
  static int128 to_fixed(double x) {
    const double q = round_fixed(x);
    return q < 9.2e18 ? static_cast<int128>(static_cast<int64_t>(q)) : static_cast<int128>(q);
  }
  // Terms are non-negative, so a total beyond 2^127 overflows in every summation order; -1 marks
  // it (sticky), keeping merges order-independent.
  static void add_fixed(int128& acc, int128 v) {
    if (acc < 0) return;
    if (v < 0 || __builtin_add_overflow(acc, v, &acc)) acc = -1;
  }

  std::vector<float> max_, min_;
  // Σx² in 2^-48 units: integer addition keeps them order-independent at 16 bytes per channel;
  // absolute error <= count * 2^-49.
  std::vector<int128> sumsq_;
  uint64_t saturated_ = 0;
};

}  // namespace maxact
