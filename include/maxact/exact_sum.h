// Order-independent summation: sums of fp32 values and of their squares accumulated exactly, so
// statistics merged in any order or grouping (threads, windows, shards) are bitwise identical.
#pragma once

#include <array>
#include <cstdint>

#include "maxact/int128.h"

namespace maxact {

// Exact sum of fp32 values (or of their squares / absolute values): every finite float is
// m * 2^e with |m| < 2^24 and e in [-149, 104]; the integer mantissas are added into one
// 128-bit bucket per exponent, which cannot overflow before 2^79 additions. Integer addition
// is associative, so merge order does not matter; value() rounds the exact total once.
// Non-finite inputs must be filtered by the caller (they are counted separately).
class ExactSum {
 public:
  static constexpr int kMinExp = -149;
  static constexpr int kBuckets = 254;  // e in [-149, 104]

  void add(float x);         // += x
  void add_abs(float x);     // += |x|
  void add_square(float x);  // += x * x (exact: the square of an fp32 fits in 48 bits)
  void merge(const ExactSum& o);
  // For hot loops that decompose values themselves: adds v at bucket b (scale 2^(b + kMinExp),
  // or 2^(2(b + kMinExp)) for squares; call mark_squares() once for those).
  void add_to_bucket(int b, int128 v) { b_[static_cast<std::size_t>(b)] += v; }
  void mark_squares() { squares_ = true; }
  // The exact total rounded to the nearest double (ties to even); +-inf if out of range.
  double value() const;
  bool operator==(const ExactSum& o) const;

 private:
  // bucket b holds mantissa sums at scale 2^(b + kMinExp) (linear) or 2^(2(b + kMinExp))
  // (squares); `squares_` records which.
  std::array<int128, kBuckets> b_{};
  bool squares_ = false;
};

}  // namespace maxact
