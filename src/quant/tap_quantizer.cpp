// Every policy's reconstruction error on one tap's evaluation rows (quant_check.h).
#include <cmath>
#include <limits>

#include "maxact/dtype.h"
#include "maxact/quant_check.h"
#include "quant/row_kernels.h"

namespace maxact {
namespace {

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

// The error sums of a row whose errors e the kernel wrote, and its counts.
ErrorRow with_errors(const ErrorRow& base, const float* e, int64_t C, uint64_t clipped,
                     uint64_t exceeded, uint64_t overflow) {
  ErrorRow r = base;
  r.clipped += clipped;
  r.exceeded += exceeded;
  r.nonfinite += overflow;  // their e is 0: left out of the error sums
  const quant::RowSums sums = quant::row_sums(e, static_cast<std::size_t>(C));
  r.sum_sq_e = sums.sq;
  r.sum_abs_e = sums.abs;
  return r;
}

// INT8 never overflows.
ErrorRow int8_row(const float* x, int64_t C, const ErrorRow& base, float* e, const float* s,
                  const float* t, bool per_channel) {
  const quant::Int8Counts k =
      quant::int8_errors(x, static_cast<std::size_t>(C), s, t, per_channel, e);
  return with_errors(base, e, C, k.clipped, k.exceeded, 0);
}

// FP8 with scale s; s = 0 (nothing calibrated, an all-zero token) maps every value to 0.
ErrorRow fp8_row(const float* x, int64_t C, const ErrorRow& base, float* e, float s, float t,
                 quant::Fp8 fmt) {
  if (s == 0.0f) {
    uint64_t nonzero = 0;
    for (int64_t c = 0; c < C; ++c) {
      e[c] = x[c];
      nonzero += x[c] != 0.0f;
    }
    return with_errors(base, e, C, nonzero, nonzero, 0);
  }
  const quant::CastCounts k = quant::fp8_errors(x, static_cast<std::size_t>(C), s, t, fmt, e);
  return with_errors(base, e, C, k.clipped, k.exceeded, 0);
}

// A plain cast. Overflowed values (an infinite error) leave the count and the x sums too, so
// every metric describes the values that did not overflow; rare, so recomputed here.
ErrorRow cast_row(const ErrorRow& base, const float* x, const float* e, int64_t C,
                  const quant::CastCounts& k, float (*round)(float)) {
  if (k.overflow == 0) return with_errors(base, e, C, 0, 0, 0);
  ErrorRow b = base;
  b.count -= k.overflow;
  std::vector<float> kept;
  for (int64_t c = 0; c < C; ++c) {
    const float xq = round(x[c]);
    if (xq - xq == 0.0f) kept.push_back(x[c]);
  }
  const quant::RowSums xs = quant::row_sums(kept.data(), kept.size());
  b.sum_sq_x = xs.sq;
  b.sum_abs_x = xs.abs;
  return with_errors(b, e, C, 0, 0, k.overflow);
}

}  // namespace

TapQuantizer::TapQuantizer(const TapCalibration& cal, const std::vector<QuantPolicy>& policies,
                           const TapStatsOptions& massive)
    : channel_absmax_(cal.channel_absmax), max_abs_(cal.max_abs), massive_(massive) {
  for (QuantPolicy p : policies) {
    PolicyErrors e;
    e.policy = p;
    switch (p) {
      case QuantPolicy::kInt8MaxAbs:
      case QuantPolicy::kE4m3MaxAbs:
      case QuantPolicy::kE5m2MaxAbs:
        e.threshold = cal.max_abs;
        break;
      case QuantPolicy::kInt8ClipQuantile:
        e.threshold = cal.quantile;
        break;
      case QuantPolicy::kInt8Mse:
        e.threshold = cal.mse_threshold;
        break;
      default:
        e.threshold = kNan;
    }
    errors_.push_back(e);
  }
  channel_scale_.resize(channel_absmax_.size());
  for (std::size_t c = 0; c < channel_absmax_.size(); ++c) {
    channel_scale_[c] = channel_absmax_[c] / kInt8Max;
  }
}

TapQuantizer TapQuantizer::empty_like() const {
  TapQuantizer t = *this;
  for (auto& e : t.errors_) e.all = e.clean = ErrorStats{};
  t.tokens_ = t.outlier_tokens_ = 0;
  return t;
}

void TapQuantizer::add_rows(const float* data, int64_t rows, int64_t channels, int64_t ld) {
  const auto C = static_cast<std::size_t>(channels);
  std::vector<float> buffers(3 * C);
  for (int64_t r = 0; r < rows; ++r) {
    add_row(data + r * ld, channels, buffers.data(), buffers.data() + C, buffers.data() + 2 * C);
  }
}

void TapQuantizer::add_row(const float* raw, int64_t C, float* scratch, float* x, float* e) {
  std::size_t n = 0;
  float absmax = 0;
  for (int64_t c = 0; c < C; ++c) {
    const bool finite = std::isfinite(raw[c]);
    x[c] = finite ? raw[c] : 0.0f;
    if (!finite) continue;
    const float a = std::fabs(raw[c]);
    scratch[n++] = a;
    absmax = std::fmax(absmax, a);
  }
  ErrorRow base;
  base.count = n;
  const quant::RowSums xs = quant::row_sums(x, static_cast<std::size_t>(C));
  base.sum_sq_x = xs.sq;
  base.sum_abs_x = xs.abs;
  // The token meets the massive-activation criterion when its largest |x| does (the criterion
  // grows with |x|); the median is needed only past the absolute threshold.
  const bool outlier = n > 0 && absmax > massive_.massive_abs &&
                       is_massive(absmax, lower_median_abs(scratch, n), massive_);
  ++tokens_;
  outlier_tokens_ += outlier;
  const float token_int8 = absmax / kInt8Max, token_e4m3 = absmax / kE4m3Max;
  const float tensor_e4m3 = max_abs_ / kE4m3Max, tensor_e5m2 = max_abs_ / kE5m2Max;
  for (PolicyErrors& pe : errors_) {
    const float t = pe.threshold, s_int8 = t / kInt8Max;
    ErrorRow row;
    switch (pe.policy) {
      case QuantPolicy::kInt8MaxAbs:
      case QuantPolicy::kInt8ClipQuantile:
      case QuantPolicy::kInt8Mse:
        row = int8_row(x, C, base, e, &s_int8, &t, false);
        break;
      case QuantPolicy::kInt8PerToken:
        row = int8_row(x, C, base, e, &token_int8, &absmax, false);
        break;
      case QuantPolicy::kInt8PerChannel:
        row = int8_row(x, C, base, e, channel_scale_.data(), channel_absmax_.data(), true);
        break;
      case QuantPolicy::kE4m3MaxAbs:
        row = fp8_row(x, C, base, e, tensor_e4m3, max_abs_, quant::Fp8::kE4m3);
        break;
      case QuantPolicy::kE4m3PerToken:
        row = fp8_row(x, C, base, e, token_e4m3, absmax, quant::Fp8::kE4m3);
        break;
      case QuantPolicy::kE5m2MaxAbs:
        row = fp8_row(x, C, base, e, tensor_e5m2, max_abs_, quant::Fp8::kE5m2);
        break;
      case QuantPolicy::kFp16:
        row = cast_row(base, x, e, C, quant::f16_errors(x, static_cast<std::size_t>(C), e),
                       &round_to_f16);
        break;
      case QuantPolicy::kBf16:
        row = cast_row(base, x, e, C, quant::bf16_errors(x, static_cast<std::size_t>(C), e),
                       &round_to_bf16);
        break;
      case QuantPolicy::kCount:
        break;
    }
    pe.all.add_row(row);
    if (!outlier) pe.clean.add_row(row);
  }
}

void TapQuantizer::merge(const TapQuantizer& o) {
  for (std::size_t i = 0; i < errors_.size(); ++i) {
    errors_[i].all.merge(o.errors_[i].all);
    errors_[i].clean.merge(o.errors_[i].clean);
  }
  tokens_ += o.tokens_;
  outlier_tokens_ += o.outlier_tokens_;
}

}  // namespace maxact
