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

}  // namespace maxact::quant
