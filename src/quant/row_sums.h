// Sums of squares and of absolute values of one row, in double, in an order fixed by n alone
// (AVX2 where the CPU has it): the per-row partial sums the exact accumulators take.
#pragma once

#include <cstddef>

namespace maxact::quant {

struct RowSums {
  double sq = 0, abs = 0;
};
RowSums row_sums(const float* v, std::size_t n);

}  // namespace maxact::quant
