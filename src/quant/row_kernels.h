// The quantization check's per-row loops, with AVX2 versions where the CPU has it (results
// identical to the scalar ones for the INT8 errors; the sums' order is fixed by n and the CPU).
#pragma once

#include <cstddef>
#include <cstdint>

namespace maxact::quant {

struct RowSums {
  double sq = 0, abs = 0;
};
// Sums of squares and of absolute values of one row, in double: the per-row partial sums the
// exact accumulators take.
RowSums row_sums(const float* v, std::size_t n);

// e[i] = x[i] - x'[i] for INT8 with scale s and threshold t (s[i], t[i] when per_channel, else
// s[0], t[0]); counts codes the clamp changed and |x| > t. s = 0 maps to 0 and counts every
// non-zero x as clipped and exceeded.
struct Int8Counts {
  uint64_t clipped = 0, exceeded = 0;
};
Int8Counts int8_errors(const float* x, std::size_t n, const float* s, const float* t,
                       bool per_channel, float* e);
// The scalar loop int8_errors dispatches to without AVX2 (tests compare the two).
Int8Counts int8_errors_scalar(const float* x, std::size_t n, const float* s, const float* t,
                              bool per_channel, float* e);

// The float formats: e[i] = x[i] - x'[i]. FP8: x' = fmt(x / s) * s, saturating, s != 0;
// clipped when saturation decided the value, exceeded when |x| > t. FP16 / BF16: plain casts;
// overflowed values (FP16 beyond 65504) get e = 0 and are counted.
enum class Fp8 { kE4m3, kE5m2 };
struct CastCounts {
  uint64_t clipped = 0, exceeded = 0, overflow = 0;
};
CastCounts fp8_errors(const float* x, std::size_t n, float s, float t, Fp8 fmt, float* e);
CastCounts f16_errors(const float* x, std::size_t n, float* e);
CastCounts bf16_errors(const float* x, std::size_t n, float* e);
// Their scalar loops (tests compare).
CastCounts fp8_errors_scalar(const float* x, std::size_t n, float s, float t, Fp8 fmt, float* e);
CastCounts f16_errors_scalar(const float* x, std::size_t n, float* e);
CastCounts bf16_errors_scalar(const float* x, std::size_t n, float* e);

}  // namespace maxact::quant
