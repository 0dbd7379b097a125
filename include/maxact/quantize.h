// Simulated activation quantization (groundwork for `maxact scan --quant`, issue 7): the exact
// rounding of each format, and mergeable reconstruction-error accumulators.
//
// Rounding is round-half-to-even everywhere (torch.round, IEEE casts). Saturation:
//   INT8 symmetric:  q = clamp(rne(x / s), -127, 127), x' = q * s   (x / s computed in fp32)
//   FP8 E4M3 (fn):   nearest of the 253 finite values, |x| beyond 448 saturates to +-448
//   FP8 E5M2:        nearest finite value, |x| beyond 57344 saturates to +-57344
//   FP16:            IEEE binary16, overflow to +-inf (counted as overflow by the caller)
//   BF16:            bfloat16
// NaN stays NaN in every format.
#pragma once

#include <cstdint>

#include "maxact/exact_sum.h"

namespace maxact {

float quantize_int8(float x, float scale);
float round_to_e4m3(float x);
float round_to_e5m2(float x);
float round_to_f16(float x);
float round_to_bf16(float x);

// Reconstruction error of x -> x' over many values: exact sums, so any merge order gives the
// same bits.
class ErrorStats {
 public:
  void add(float x, float xq);
  void merge(const ErrorStats& o);
  uint64_t count() const { return count_; }
  double mae() const;
  double rmse() const;
  double relative_mae() const;   // sum|e| / sum|x|
  double relative_rmse() const;  // sqrt(sum e^2 / sum x^2)
  double sqnr_db() const;        // 10 log10(sum x^2 / sum e^2); +inf when lossless
  uint64_t nonfinite() const { return nonfinite_; }  // x' not finite while x is (overflow)

 private:
  uint64_t count_ = 0, nonfinite_ = 0;
  ExactSum sum_sq_x_, sum_abs_x_, sum_sq_e_, sum_abs_e_;
};

}  // namespace maxact
