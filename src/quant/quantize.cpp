#include "maxact/quantize.h"

#include <cmath>
#include <limits>

#include "maxact/dtype.h"
#include "quant/rounding.h"

namespace maxact {

float quantize_int8(float x, float scale) {
  if (std::isnan(x)) return x;
  if (scale == 0.0f) return 0.0f;
  return quant::int8_value(quant::int8_code(x, scale), scale);
}

float round_to_e4m3(float x) {
  return quant::e4m3(x);
}
float round_to_e5m2(float x) {
  return quant::e5m2(x);
}
bool e4m3_clips(float y) {
  return quant::e4m3_clips(y);
}
bool e5m2_clips(float y) {
  return quant::e5m2_clips(y);
}

std::string_view policy_name(QuantPolicy p) {
  switch (p) {
    case QuantPolicy::kInt8MaxAbs:
      return "int8_max_abs";
    case QuantPolicy::kInt8ClipQuantile:
      return "int8_clip_q";
    case QuantPolicy::kInt8Mse:
      return "int8_mse";
    case QuantPolicy::kInt8PerToken:
      return "int8_per_token";
    case QuantPolicy::kInt8PerChannel:
      return "int8_per_channel";
    case QuantPolicy::kE4m3MaxAbs:
      return "fp8_e4m3_max_abs";
    case QuantPolicy::kE4m3PerToken:
      return "fp8_e4m3_per_token";
    case QuantPolicy::kE5m2MaxAbs:
      return "fp8_e5m2_max_abs";
    case QuantPolicy::kFp16:
      return "fp16";
    case QuantPolicy::kBf16:
      return "bf16";
    case QuantPolicy::kCount:
      break;
  }
  return "?";
}

bool policy_is_static_tensor(QuantPolicy p) {
  return p == QuantPolicy::kInt8MaxAbs || p == QuantPolicy::kInt8ClipQuantile ||
         p == QuantPolicy::kInt8Mse || p == QuantPolicy::kE4m3MaxAbs ||
         p == QuantPolicy::kE5m2MaxAbs;
}

void ErrorStats::add(float x, float xq) {
  if (!std::isfinite(x)) return;
  ErrorRow r;
  r.add(x, xq);
  add_row(r);
}

void ErrorStats::add_row(const ErrorRow& r) {
  count_ += r.count;
  nonfinite_ += r.nonfinite;
  clipped_ += r.clipped;
  exceeded_ += r.exceeded;
  sum_sq_x_.add(r.sum_sq_x);
  sum_abs_x_.add(r.sum_abs_x);
  sum_sq_e_.add(r.sum_sq_e);
  sum_abs_e_.add(r.sum_abs_e);
}

void ErrorStats::merge(const ErrorStats& o) {
  count_ += o.count_;
  nonfinite_ += o.nonfinite_;
  clipped_ += o.clipped_;
  exceeded_ += o.exceeded_;
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
