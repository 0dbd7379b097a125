#include "quant/row_kernels.h"

#include "maxact/dtype.h"
#include "maxact/quantize.h"
#include "quant/rounding.h"

#include <cpuid.h>
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

Int8Counts int8_errors_scalar(const float* x, std::size_t n, const float* s, const float* t,
                              bool per_channel, float* e) {
  Int8Counts k;
  for (std::size_t i = 0; i < n; ++i) {
    const float si = per_channel ? s[i] : s[0], ti = per_channel ? t[i] : t[0], v = x[i];
    if (si == 0.0f) {
      k.clipped += v != 0.0f;
      k.exceeded += v != 0.0f;
      e[i] = v;
      continue;
    }
    const float code = int8_code(v, si);
    k.clipped += std::fabs(code) > kInt8Max;
    k.exceeded += std::fabs(v) > ti;
    e[i] = v - int8_value(code, si);
  }
  return k;
}

namespace {

// The same eight values at a time: one division, one rounding, one product and one difference
// per value, each an IEEE fp32 operation as in the scalar loop, so e is bit for bit the same.
__attribute__((target("avx2"))) Int8Counts int8_avx2(const float* x, std::size_t n, const float* s,
                                                     const float* t, bool per_channel, float* e) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
  const __m256 lo = _mm256_set1_ps(-kInt8Max), hi = _mm256_set1_ps(kInt8Max);
  Int8Counts k;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 vs = per_channel ? _mm256_loadu_ps(s + i) : _mm256_set1_ps(s[0]);
    const __m256 vt = per_channel ? _mm256_loadu_ps(t + i) : _mm256_set1_ps(t[0]);
    const __m256 no_scale = _mm256_cmp_ps(vs, zero, _CMP_EQ_OQ);
    const __m256 safe = _mm256_blendv_ps(vs, one, no_scale);
    const __m256 code =
        _mm256_round_ps(_mm256_div_ps(v, safe), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 q = _mm256_min_ps(_mm256_max_ps(code, lo), hi);
    const __m256 xq = _mm256_andnot_ps(no_scale, _mm256_mul_ps(q, safe));
    _mm256_storeu_ps(e + i, _mm256_sub_ps(v, xq));
    const __m256 nonzero = _mm256_cmp_ps(v, zero, _CMP_NEQ_UQ);
    const __m256 clip = _mm256_blendv_ps(
        _mm256_cmp_ps(_mm256_and_ps(code, abs_mask), hi, _CMP_GT_OQ), nonzero, no_scale);
    const __m256 exceed = _mm256_blendv_ps(
        _mm256_cmp_ps(_mm256_and_ps(v, abs_mask), vt, _CMP_GT_OQ), nonzero, no_scale);
    k.clipped += static_cast<uint64_t>(__builtin_popcount(_mm256_movemask_ps(clip)));
    k.exceeded += static_cast<uint64_t>(__builtin_popcount(_mm256_movemask_ps(exceed)));
  }
  const Int8Counts tail = int8_errors_scalar(x + i, n - i, per_channel ? s + i : s,
                                             per_channel ? t + i : t, per_channel, e + i);
  k.clipped += tail.clipped;
  k.exceeded += tail.exceeded;
  return k;
}

bool has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}
bool has_f16c() {
  // CPUID leaf 1, ECX bit 29: clang (the fuzz build) has no "f16c" for __builtin_cpu_supports.
  unsigned a = 0, b = 0, c = 0, d = 0;
  return has_avx2() && __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & bit_F16C) != 0;
}

// round_minifloat (rounding.h) on eight non-negative values: drop mantissa bits with ties to
// even above 2^emin, a fixed quantum below it.
template <int kMant, int kEmin>
__attribute__((target("avx2"))) __m256 round_minifloat_abs(__m256 a) {
  constexpr int kDrop = 23 - kMant;
  const __m256i b = _mm256_castps_si256(a);
  const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(b, kDrop), _mm256_set1_epi32(1));
  const __m256i up = _mm256_add_epi32(
      b, _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>((1u << (kDrop - 1)) - 1u)), odd));
  const __m256 normal = _mm256_castsi256_ps(
      _mm256_and_si256(up, _mm256_set1_epi32(static_cast<int>(~((1u << kDrop) - 1u)))));
  const __m256 scale_up = _mm256_set1_ps(std::ldexp(1.0f, kMant - kEmin));
  const __m256 scale_down = _mm256_set1_ps(std::ldexp(1.0f, kEmin - kMant));
  const __m256 sub = _mm256_mul_ps(
      _mm256_round_ps(_mm256_mul_ps(a, scale_up), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
      scale_down);
  const __m256 small = _mm256_cmp_ps(a, _mm256_set1_ps(std::ldexp(1.0f, kEmin)), _CMP_LT_OQ);
  return _mm256_blendv_ps(normal, sub, small);
}

template <int kMant, int kEmin>
__attribute__((target("avx2"))) CastCounts fp8_avx2(const float* x, std::size_t n, float s, float t,
                                                    float top, float* e) {
  const __m256 sign = _mm256_set1_ps(-0.0f), vs = _mm256_set1_ps(s), vt = _mm256_set1_ps(t);
  const __m256 vtop = _mm256_set1_ps(top);
  CastCounts k;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 y = _mm256_div_ps(v, vs);
    const __m256 r = round_minifloat_abs<kMant, kEmin>(_mm256_andnot_ps(sign, y));
    const __m256 clip = _mm256_cmp_ps(r, vtop, _CMP_GT_OQ);
    const __m256 sat = _mm256_or_ps(_mm256_min_ps(r, vtop), _mm256_and_ps(sign, y));
    _mm256_storeu_ps(e + i, _mm256_sub_ps(v, _mm256_mul_ps(sat, vs)));
    const __m256 exceed = _mm256_cmp_ps(_mm256_andnot_ps(sign, v), vt, _CMP_GT_OQ);
    k.clipped += static_cast<uint64_t>(__builtin_popcount(_mm256_movemask_ps(clip)));
    k.exceeded += static_cast<uint64_t>(__builtin_popcount(_mm256_movemask_ps(exceed)));
  }
  const CastCounts tail =
      fp8_errors_scalar(x + i, n - i, s, t, kMant == 3 ? Fp8::kE4m3 : Fp8::kE5m2, e + i);
  k.clipped += tail.clipped;
  k.exceeded += tail.exceeded;
  return k;
}

__attribute__((target("avx2,f16c"))) CastCounts f16_avx2(const float* x, std::size_t n, float* e) {
  const __m256 sign = _mm256_set1_ps(-0.0f), inf = _mm256_set1_ps(INFINITY);
  CastCounts k;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 xq = _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    const __m256 over = _mm256_cmp_ps(_mm256_andnot_ps(sign, xq), inf, _CMP_EQ_OQ);
    _mm256_storeu_ps(e + i, _mm256_andnot_ps(over, _mm256_sub_ps(v, xq)));
    k.overflow += static_cast<uint64_t>(__builtin_popcount(_mm256_movemask_ps(over)));
  }
  k.overflow += f16_errors_scalar(x + i, n - i, e + i).overflow;
  return k;
}

__attribute__((target("avx2"))) CastCounts bf16_avx2(const float* x, std::size_t n, float* e) {
  CastCounts k;
  std::size_t i = 0;
  const __m256i low = _mm256_set1_epi32(0x7FFF), one = _mm256_set1_epi32(1);
  const __m256i keep = _mm256_set1_epi32(static_cast<int>(0xFFFF0000u));
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256i b = _mm256_castps_si256(v);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(b, 16), one);
    const __m256i r = _mm256_and_si256(_mm256_add_epi32(b, _mm256_add_epi32(low, odd)), keep);
    const __m256 xq = _mm256_castsi256_ps(r);
    const __m256 fin = _mm256_cmp_ps(_mm256_sub_ps(xq, xq), _mm256_setzero_ps(), _CMP_EQ_OQ);
    _mm256_storeu_ps(e + i, _mm256_and_ps(fin, _mm256_sub_ps(v, xq)));
    k.overflow += static_cast<uint64_t>(8 - __builtin_popcount(_mm256_movemask_ps(fin)));
  }
  k.overflow += bf16_errors_scalar(x + i, n - i, e + i).overflow;
  return k;
}

}  // namespace

Int8Counts int8_errors(const float* x, std::size_t n, const float* s, const float* t,
                       bool per_channel, float* e) {
  static const auto fn = has_avx2() ? &int8_avx2 : &int8_errors_scalar;
  return fn(x, n, s, t, per_channel, e);
}

CastCounts fp8_errors_scalar(const float* x, std::size_t n, float s, float t, Fp8 fmt, float* e) {
  CastCounts k;
  const bool e4 = fmt == Fp8::kE4m3;
  for (std::size_t i = 0; i < n; ++i) {
    const float y = x[i] / s;
    k.clipped += e4 ? e4m3_clips(y) : e5m2_clips(y);
    k.exceeded += std::fabs(x[i]) > t;
    e[i] = x[i] - (e4 ? e4m3(y) : e5m2(y)) * s;
  }
  return k;
}

namespace {
template <float (*kRound)(float)>
CastCounts cast_scalar(const float* x, std::size_t n, float* e) {
  CastCounts k;
  for (std::size_t i = 0; i < n; ++i) {
    const float xq = kRound(x[i]);
    const bool finite = xq - xq == 0.0f;
    k.overflow += !finite;
    e[i] = finite ? x[i] - xq : 0.0f;
  }
  return k;
}
}  // namespace

// The public IEEE conversions (dtype.cpp): only CPUs without AVX2 / F16C take these loops.
CastCounts f16_errors_scalar(const float* x, std::size_t n, float* e) {
  return cast_scalar<&round_to_f16>(x, n, e);
}
CastCounts bf16_errors_scalar(const float* x, std::size_t n, float* e) {
  return cast_scalar<&round_to_bf16>(x, n, e);
}

CastCounts fp8_errors(const float* x, std::size_t n, float s, float t, Fp8 fmt, float* e) {
  static const bool avx2 = has_avx2();
  if (!avx2) return fp8_errors_scalar(x, n, s, t, fmt, e);
  return fmt == Fp8::kE4m3 ? fp8_avx2<3, -6>(x, n, s, t, kE4m3Max, e)
                           : fp8_avx2<2, -14>(x, n, s, t, kE5m2Max, e);
}
CastCounts f16_errors(const float* x, std::size_t n, float* e) {
  static const bool f16c = has_f16c();
  return f16c ? f16_avx2(x, n, e) : f16_errors_scalar(x, n, e);
}
CastCounts bf16_errors(const float* x, std::size_t n, float* e) {
  static const bool avx2 = has_avx2();
  return avx2 ? bf16_avx2(x, n, e) : bf16_errors_scalar(x, n, e);
}

RowSums row_sums(const float* v, std::size_t n) {
  static const auto fn = has_avx2() ? &sums_avx2 : &sums_scalar;
  return fn(v, n);
}

}  // namespace maxact::quant
