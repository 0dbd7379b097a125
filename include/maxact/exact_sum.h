// Order-independent summation: sums of fp32 values and of their squares accumulated exactly, so
// statistics merged in any order or grouping (threads, windows, shards) are bitwise identical.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "maxact/int128.h"

namespace maxact {

struct StateAccess;

// Exact sum of fp32 values (or of their squares / absolute values): every finite float is
// m * 2^e with |m| < 2^24 and e in [-149, 104]; the integer mantissas are added into one
// 128-bit bucket per exponent, which cannot overflow before 2^79 additions. Integer addition
// is associative, so merge order does not matter; value() rounds the exact total once.
// Non-finite inputs must be filtered by the caller (they are counted separately).
class ExactSum {
  // The scan state file (maxact/scan_state.h) saves and restores the accumulators.
  friend struct StateAccess;

 public:
  static constexpr int kMinExp = -149;
  static constexpr int kBuckets = 254;  // e in [-149, 104]

  // Inline: these run once per activation value.
  void add(float x) {  // += x
    int32_t m;
    const int b = decompose(x, m);
    b_[static_cast<std::size_t>(b)] += m;
  }
  void add_abs(float x) {  // += |x|
    int32_t m;
    const int b = decompose(x, m);
    b_[static_cast<std::size_t>(b)] += m < 0 ? -m : m;
  }
  void add_square(float x) {  // += x * x (exact: the square of an fp32 fits in 48 bits)
    squares_ = true;
    int32_t m;
    const int b = decompose(x, m);
    b_[static_cast<std::size_t>(b)] += static_cast<int64_t>(m) * m;
  }
  // The sum of the signed mantissas of values with `like`'s exponent (|m| < 2^24 each, as
  // decompose() reads them), or of their squares: the same state as adding those values one by
  // one. The vectorised value pass (stats/finite_values) collects them per exponent.
  void add_mantissa_sum(float like, int128 sum) {
    int32_t m;
    b_[static_cast<std::size_t>(decompose(like, m))] += sum;
  }
  void add_square_mantissa_sum(float like, int128 sum) {
    squares_ = true;
    int32_t m;
    b_[static_cast<std::size_t>(decompose(like, m))] += sum;
  }
  void merge(const ExactSum& o);
  // The exact total rounded to the nearest double (ties to even); +-inf if out of range.
  double value() const;
  bool operator==(const ExactSum& o) const;

 private:
  // x = m * 2^(bucket + kMinExp) with integer m, |m| < 2^24 (x finite); returns the bucket.
  static int decompose(float x, int32_t& m) {
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    const int biased = static_cast<int>((bits >> 23) & 0xFF);
    auto mant = static_cast<int32_t>(bits & 0x7FFFFF);
    if (biased != 0) mant |= 0x800000;  // normal: (1.f) * 2^(biased-127) = mant * 2^(biased-150)
    m = (bits >> 31) != 0 ? -mant : mant;
    return biased != 0 ? biased - 1 : 0;  // subnormals share the lowest bucket, 2^-149
  }

  // bucket b holds mantissa sums at scale 2^(b + kMinExp) (linear) or 2^(2(b + kMinExp))
  // (squares); `squares_` records which.
  std::array<int128, kBuckets> b_{};
  bool squares_ = false;
};

// Exact sum of doubles, for partial sums that are themselves deterministic (one row's sum in
// channel order): each double is m * 2^e with |m| < 2^53, the mantissas added into a 128-bit
// bucket per exponent. Buckets are sparse (few exponents occur), so this is cheap per added
// value but meant for one value per row, not per activation.
class ExactDoubleSum {
  // The scan state file (maxact/scan_state.h) saves and restores the accumulators.
  friend struct StateAccess;

 public:
  void add(double x);  // finite x
  void merge(const ExactDoubleSum& o);
  double value() const;  // the exact total rounded once (ties to even)
  bool operator==(const ExactDoubleSum& o) const = default;

 private:
  void add_bucket(int exp, int128 m);
  std::vector<std::pair<int, int128>> b_;  // sorted by exponent
};

}  // namespace maxact
