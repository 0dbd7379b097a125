// The per-token median runs once per token of every tap, so it must cost about one pass over
// the row, not a sort. Consecutive tokens of a tap have medians of similar size: one pass counts
// the values under a bracket around the previous token's median and gathers those inside it
// (on the benchmark model the bracket holds the rank for 96 % of tokens, with a tenth of the
// row inside), and then only those few are selected from. Otherwise a radix step
// on the exponent narrows the candidates. Either way the result is the exact order statistic,
// so it never depends on the guess.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include <immintrin.h>

#include "maxact/tap_stats.h"
#include "stats/finite_values.h"

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

// Gathers the |x| bit patterns in [lo, hi] into keep (n slots); returns how many, and in
// `below` how many lie under lo.
std::size_t gather_scalar(const float* x, std::size_t n, uint32_t lo, uint32_t hi, uint32_t* keep,
                          std::size_t& below) {
  std::size_t m = 0, under = 0;
  const uint32_t width = hi - lo;
  for (std::size_t i = 0; i < n; ++i) {
    const uint32_t b = abs_bits(x[i]);
    under += b < lo;
    keep[m] = b;
    m += b - lo <= width;  // unsigned: false under lo too
  }
  below = under;
  return m;
}

// gather() 16 lanes at a time: each vector's matches compressed in a register and stored whole
// (keep needs 16 slots of slack), as compressing straight to memory is slow on some CPUs.
__attribute__((target("avx512f"))) std::size_t gather_avx512(const float* x, std::size_t n,
                                                             uint32_t lo, uint32_t hi,
                                                             uint32_t* keep, std::size_t& below) {
  const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF),
                vlo = _mm512_set1_epi32(static_cast<int>(lo)),
                vwidth = _mm512_set1_epi32(static_cast<int>(hi - lo));
  std::size_t m = 0, under = 0;
  for (std::size_t i = 0; i < n; i += 16) {
    const auto lanes = static_cast<__mmask16>(n - i >= 16 ? 0xFFFFu : (1u << (n - i)) - 1u);
    const __m512i b = _mm512_and_si512(_mm512_maskz_loadu_epi32(lanes, x + i), abs_mask);
    under += static_cast<std::size_t>(
        std::popcount(static_cast<unsigned>(_mm512_mask_cmplt_epu32_mask(lanes, b, vlo))));
    const __mmask16 in = _mm512_mask_cmple_epu32_mask(lanes, _mm512_sub_epi32(b, vlo), vwidth);
    _mm512_storeu_si512(keep + m, _mm512_maskz_compress_epi32(in, b));
    m += static_cast<std::size_t>(std::popcount(static_cast<unsigned>(in)));
  }
  below = under;
  return m;
}

// The k-th smallest of keep[0..m), all within [lo, lo + width]: a 64-bucket count over the
// slice leaves a few candidates for nth_element (a selection over all m costs far more).
float select(uint32_t* keep, std::size_t m, std::size_t k, uint32_t lo, uint32_t width) {
  if (m > 32) {
    int shift = 0;
    while ((width >> shift) >= 64) ++shift;
    uint32_t count[64] = {};
    for (std::size_t i = 0; i < m; ++i) ++count[(keep[i] - lo) >> shift];
    uint32_t bucket = 0;
    while (k >= count[bucket]) k -= count[bucket++];
    std::size_t n = 0;
    for (std::size_t i = 0; i < m; ++i) {
      const uint32_t b = keep[i];
      keep[n] = b;
      n += ((b - lo) >> shift) == bucket;
    }
    m = n;
  }
  std::nth_element(keep, keep + k, keep + m);
  return from_bits(keep[k]);
}

}  // namespace

float lower_median_abs(const float* x, std::size_t n, float guess) {
  return stats::lower_median_abs(x, n, guess, stats::default_value_kernel());
}

namespace stats {

float lower_median_abs(const float* x, std::size_t n, float guess, ValueKernel kernel) {
  if (n == 0) return 0.0f;
  // Per thread: taps of one scan and the quantization check call this from every worker.
  thread_local std::vector<uint32_t> buffer;
  if (buffer.size() < n + 16) buffer.resize(n + 16);
  uint32_t* keep = buffer.data();
  const auto gather = kernel == ValueKernel::kAvx512 ? gather_avx512 : gather_scalar;
  const std::size_t rank = (n - 1) / 2;
  std::size_t below = 0;
  if (guess > 0.0f && guess < 1e30f) {
    const uint32_t lo = abs_bits(guess * 0.875f), hi = abs_bits(guess * 1.125f);
    const std::size_t m = gather(x, n, lo, hi, keep, below);
    if (below <= rank && rank < below + m) return select(keep, m, rank - below, lo, hi - lo);
  }
  uint32_t hist[256] = {};
  for (std::size_t i = 0; i < n; ++i) ++hist[abs_bits(x[i]) >> 23];
  uint32_t e = 0;
  below = 0;
  while (below + hist[e] <= rank) below += hist[e++];
  const std::size_t m = gather(x, n, e << 23, ((e + 1) << 23) - 1, keep, below);
  return select(keep, m, rank - below, e << 23, (1u << 23) - 1);
}

}  // namespace stats

}  // namespace maxact
