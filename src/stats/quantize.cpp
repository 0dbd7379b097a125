#include "maxact/quantize.h"

#include <cmath>
#include <limits>

#include "maxact/dtype.h"

namespace maxact {
namespace {

// Rounds a finite |x| to the nearest value of a float format with `mant` explicit mantissa bits
// and minimum normal exponent `emin` (subnormals below it), ties to even; no overflow handling.
float round_small_float(float x, int mant, int emin) {
  if (x == 0.0f || !std::isfinite(x)) return x;
  const float a = std::fabs(x);
  int e;
  std::frexp(a, &e);  // a in [2^(e-1), 2^e)
  const int exp = std::max(e - 1, emin);
  // Quantum of the format at this exponent; a / quantum is exact in float (power-of-two scale).
  const float quantum = std::ldexp(1.0f, exp - mant);
  const float r = std::nearbyint(a / quantum) * quantum;  // current mode: nearest, ties to even
  return std::copysign(r, x);
}

}  // namespace

float quantize_int8(float x, float scale) {
  if (std::isnan(x)) return x;
  const float q = std::nearbyint(x / scale);
  const float c = std::fmin(127.0f, std::fmax(-127.0f, q));
  return c * scale;
}

float round_to_e4m3(float x) {
  if (std::isnan(x)) return x;
  if (std::fabs(x) >= 448.0f) return std::copysign(448.0f, x);  // saturate (no inf in E4M3FN)
  const float r = round_small_float(x, 3, -6);
  return std::fabs(r) > 448.0f ? std::copysign(448.0f, x) : r;
}

float round_to_e5m2(float x) {
  if (std::isnan(x)) return x;
  if (std::fabs(x) >= 57344.0f) return std::copysign(57344.0f, x);
  const float r = round_small_float(x, 2, -14);
  return std::fabs(r) > 57344.0f ? std::copysign(57344.0f, x) : r;
}

float round_to_f16(float x) {
  return f16_to_f32(f32_to_f16(x));
}
float round_to_bf16(float x) {
  return bf16_to_f32(f32_to_bf16(x));
}

void ErrorStats::add(float x, float xq) {
  if (!std::isfinite(x)) return;
  ++count_;
  sum_sq_x_.add_square(x);
  sum_abs_x_.add_abs(x);
  if (!std::isfinite(xq)) {
    ++nonfinite_;
    return;
  }
  // The error x - x' is computed exactly when both are floats within a factor of 2 (Sterbenz);
  // otherwise it is rounded once to fp32, well below the precision any report shows.
  const float e = x - xq;
  sum_sq_e_.add_square(e);
  sum_abs_e_.add_abs(e);
}

void ErrorStats::merge(const ErrorStats& o) {
  count_ += o.count_;
  nonfinite_ += o.nonfinite_;
  sum_sq_x_.merge(o.sum_sq_x_);
  sum_abs_x_.merge(o.sum_abs_x_);
  sum_sq_e_.merge(o.sum_sq_e_);
  sum_abs_e_.merge(o.sum_abs_e_);
}

double ErrorStats::mae() const {
  return count_ ? sum_abs_e_.value() / static_cast<double>(count_) : std::nan("");
}
double ErrorStats::rmse() const {
  return count_ ? std::sqrt(sum_sq_e_.value() / static_cast<double>(count_)) : std::nan("");
}
double ErrorStats::relative_mae() const {
  return sum_abs_e_.value() / sum_abs_x_.value();
}
double ErrorStats::relative_rmse() const {
  return std::sqrt(sum_sq_e_.value() / sum_sq_x_.value());
}
double ErrorStats::sqnr_db() const {
  const double e = sum_sq_e_.value();
  return e == 0.0 ? std::numeric_limits<double>::infinity()
                  : 10.0 * std::log10(sum_sq_x_.value() / e);
}

}  // namespace maxact
