#include "quant/row_sums.h"

#include <immintrin.h>

#include <cmath>

namespace maxact::quant {
namespace {

RowSums sums_scalar(const float* v, std::size_t n) {
  RowSums s;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = v[i];
    s.sq += d * d;
    s.abs += std::fabs(d);
  }
  return s;
}

// No FMA in the target: d * d is exact in double anyway, and the adds stay separate roundings.
__attribute__((target("avx2"))) RowSums sums_avx2(const float* v, std::size_t n) {
  const __m256d sign = _mm256_set1_pd(-0.0);
  __m256d q0 = _mm256_setzero_pd(), q1 = q0, a0 = q0, a1 = q0;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(v + i);
    const __m256d d0 = _mm256_cvtps_pd(_mm256_castps256_ps128(x));
    const __m256d d1 = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
    q0 = _mm256_add_pd(q0, _mm256_mul_pd(d0, d0));
    q1 = _mm256_add_pd(q1, _mm256_mul_pd(d1, d1));
    a0 = _mm256_add_pd(a0, _mm256_andnot_pd(sign, d0));
    a1 = _mm256_add_pd(a1, _mm256_andnot_pd(sign, d1));
  }
  alignas(32) double q[8], a[8];
  _mm256_store_pd(q, _mm256_add_pd(q0, q1));
  _mm256_store_pd(a, _mm256_add_pd(a0, a1));
  const RowSums tail = sums_scalar(v + i, n - i);
  return {((q[0] + q[1]) + (q[2] + q[3])) + tail.sq, ((a[0] + a[1]) + (a[2] + a[3])) + tail.abs};
}

}  // namespace

RowSums row_sums(const float* v, std::size_t n) {
  static const auto fn = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? &sums_avx2 : &sums_scalar;
  }();
  return fn(v, n);
}

}  // namespace maxact::quant
