// The per-token median runs once per token of every tap, so it must cost a few passes over the
// row, not a sort. Consecutive tokens of a tap have medians of similar size: a bracket around the
// previous token's median usually holds the rank, and then only the few values inside the
// bracket are selected from. Otherwise a radix step on the exponent narrows the candidates.
// Either way the result is the exact order statistic, so it never depends on the guess.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "maxact/tap_stats.h"

namespace maxact {
namespace {

inline uint32_t abs_bits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  return b & 0x7FFFFFFFu;  // |v|: for non-negative floats the bit pattern orders as the value
}

inline float from_bits(uint32_t b) {
  float v;
  std::memcpy(&v, &b, 4);
  return v;
}

// The value of 0-based `rank` among the |x| whose bits lie in [lo, hi], `below` of the row
// lying under lo.
float select_in(const float* x, std::size_t n, uint32_t lo, uint32_t hi, std::size_t rank,
                std::size_t below, uint32_t* keep) {
  std::size_t m = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const uint32_t b = abs_bits(x[i]);
    keep[m] = b;
    m += static_cast<std::size_t>(b >= lo && b <= hi);
  }
  uint32_t* at = keep + (rank - below);
  std::nth_element(keep, at, keep + m);
  return from_bits(*at);
}

}  // namespace

float lower_median_abs(const float* x, std::size_t n, float guess) {
  if (n == 0) return 0.0f;
  // Per thread: taps of one scan and the quantization check call this from every worker.
  thread_local std::vector<uint32_t> buffer;
  if (buffer.size() < n) buffer.resize(n);
  uint32_t* scratch = buffer.data();
  const std::size_t rank = (n - 1) / 2;
  if (guess > 0.0f && std::isfinite(guess)) {
    const uint32_t lo = abs_bits(guess * 0.875f), hi = abs_bits(guess * 1.125f);
    uint32_t below = 0, upto = 0;  // |x| < lo, |x| <= hi: one vectorisable pass
    for (std::size_t i = 0; i < n; ++i) {
      const uint32_t b = abs_bits(x[i]);
      below += static_cast<uint32_t>(b < lo);
      upto += static_cast<uint32_t>(b <= hi);
    }
    if (below <= rank && rank < upto) return select_in(x, n, lo, hi, rank, below, scratch);
  }
  uint32_t hist[256] = {};
  for (std::size_t i = 0; i < n; ++i) ++hist[abs_bits(x[i]) >> 23];
  std::size_t below = 0;
  uint32_t e = 0;
  while (below + hist[e] <= rank) below += hist[e++];
  return select_in(x, n, e << 23, ((e + 1) << 23) - 1, rank, below, scratch);
}

}  // namespace maxact
