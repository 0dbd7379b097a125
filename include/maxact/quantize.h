// Simulated activation quantization: the exact rounding of each format, the policies that choose
// scales, and mergeable reconstruction-error accumulators.
//
// Rounding is round-half-to-even everywhere (torch.round, IEEE casts); every operation is one
// fp32 operation, as a deployment's fp32 fake-quantizer computes it. With scale s (fp32):
//   INT8 symmetric:  x' = clamp(rne(x / s), -127, 127) * s; s = 0 gives x' = 0
//   FP8 E4M3 (fn):   x' = e4m3(x / s) * s, nearest of the 253 finite values, |x / s| beyond 448
//                    saturates to +-448 (deployments clamp before the cast)
//   FP8 E5M2:        likewise, saturating at +-57344
//   FP16:            IEEE binary16 cast, no scale, overflow to +-inf (counted as overflow)
//   BF16:            bfloat16 cast, no scale
// NaN stays NaN in every format.
#pragma once

#include <cstdint>
#include <string_view>

#include "maxact/exact_sum.h"

namespace maxact {

struct StateAccess;

float quantize_int8(float x, float scale);
float round_to_e4m3(float x);
float round_to_e5m2(float x);
// Whether saturation decides the FP8 value of y: it would round beyond the largest finite value
// with the exponent range unbounded (INT8's analogue: |rne(y)| > 127).
bool e4m3_clips(float y);
bool e5m2_clips(float y);

// The policies `maxact scan --quant` simulates on every quantized tap.
enum class QuantPolicy {
  kInt8MaxAbs,        // per-tensor static, threshold = calibration max |x| (the study's max_abs)
  kInt8ClipQuantile,  // per-tensor static, threshold = calibration quantile of |x| (clip_q)
  kInt8Mse,           // per-tensor static, threshold minimising the calibration MSE
  kInt8PerToken,      // dynamic, scale from each token's max |x|
  kInt8PerChannel,    // static, scale from each channel's calibration max |x|
  kE4m3MaxAbs,        // FP8 E4M3 per-tensor static, calibration max |x| maps to 448
  kE4m3PerToken,      // FP8 E4M3 dynamic, each token's max |x| maps to 448
  kE5m2MaxAbs,        // FP8 E5M2 per-tensor static, calibration max |x| maps to 57344
  kFp16,              // plain cast
  kBf16,              // plain cast
  kCount,
};
constexpr int kQuantPolicies = static_cast<int>(QuantPolicy::kCount);
std::string_view policy_name(QuantPolicy p);
// True for the per-tensor static policies, which have one calibrated threshold.
bool policy_is_static_tensor(QuantPolicy p);

// One row's (one token's) error sums, accumulated in double in channel order: a function of the
// row alone, so rows added exactly into ErrorStats give the same bits in any order.
struct ErrorRow {
  uint64_t count = 0;      // finite x whose x' is finite: what every sum covers
  uint64_t nonfinite = 0;  // x' not finite while x is (FP16 overflow): left out of every sum
  uint64_t clipped = 0;    // the quantizer saturated (|x / s| beyond the format's largest value)
  uint64_t exceeded = 0;   // |x| above the calibrated threshold (static policies)
  double sum_sq_x = 0, sum_abs_x = 0, sum_sq_e = 0, sum_abs_e = 0;
  void add(float x, float xq) {  // finite x
    if (!(xq - xq == 0.0f)) {    // not finite: an infinite error, counted apart
      ++nonfinite;
      return;
    }
    ++count;
    const double xd = x;
    sum_sq_x += xd * xd;
    sum_abs_x += xd < 0 ? -xd : xd;
    // x - x' in fp32, as the fake-quantizer's error tensor; its square is exact in double.
    const double e = static_cast<double>(x - xq);
    sum_sq_e += e * e;
    sum_abs_e += e < 0 ? -e : e;
  }
};

// Reconstruction error of x -> x' over many rows: exact sums, so any merge order gives the same
// bits.
class ErrorStats {
  // The scan state file (maxact/scan_state.h) saves and restores the accumulators.
  friend struct StateAccess;

 public:
  void add(float x, float xq);  // one value (tests, small inputs)
  void add_row(const ErrorRow& r);
  void merge(const ErrorStats& o);
  uint64_t count() const { return count_; }
  double mae() const;
  double rmse() const;
  double relative_mae() const;   // sum|e| / sum|x|
  double relative_rmse() const;  // sqrt(sum e^2 / sum x^2)
  double sqnr_db() const;        // 10 log10(sum x^2 / sum e^2); +inf when lossless
  double sum_sq_x() const { return sum_sq_x_.value(); }
  double sum_sq_e() const { return sum_sq_e_.value(); }
  uint64_t nonfinite() const { return nonfinite_; }  // x' not finite while x is (overflow)
  uint64_t clipped() const { return clipped_; }
  uint64_t exceeded() const { return exceeded_; }
  bool operator==(const ErrorStats& o) const = default;

 private:
  uint64_t count_ = 0, nonfinite_ = 0, clipped_ = 0, exceeded_ = 0;
  ExactDoubleSum sum_sq_x_, sum_abs_x_, sum_sq_e_, sum_abs_e_;
};

}  // namespace maxact
