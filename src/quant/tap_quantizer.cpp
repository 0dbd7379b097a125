// Every policy's reconstruction error on one tap's evaluation rows (quant_check.h).
#include <cmath>
#include <limits>

#include "maxact/quant_check.h"

namespace maxact {
namespace {

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

// INT8 symmetric with scale s: the code before the clamp decides whether it clipped.
void add_int8(ErrorRow& r, float x, float s, float threshold) {
  if (s == 0.0f) {
    r.clipped += x != 0.0f;
    r.exceeded += x != 0.0f;
    r.add(x, 0.0f);
    return;
  }
  const float q = std::nearbyint(x / s);
  r.clipped += std::fabs(q) > 127.0f;
  r.exceeded += std::fabs(x) > threshold;
  r.add(x, std::fmin(127.0f, std::fmax(-127.0f, q)) * s);
}

// FP8 with scale s: x / s rounded to the format (saturating at `top`), times s.
void add_fp8(ErrorRow& r, float x, float s, float threshold, float (*round)(float),
             bool (*clips)(float)) {
  if (s == 0.0f) {
    r.clipped += x != 0.0f;
    r.exceeded += x != 0.0f;
    r.add(x, 0.0f);
    return;
  }
  const float y = x / s;
  r.clipped += clips(y);
  r.exceeded += std::fabs(x) > threshold;
  r.add(x, round(y) * s);
}

}  // namespace

TapQuantizer::TapQuantizer(const TapCalibration& cal, const std::vector<QuantPolicy>& policies,
                           const TapStatsOptions& massive)
    : channel_absmax_(cal.channel_absmax),
      max_abs_(cal.max_abs),
      massive_abs_(massive.massive_abs),
      massive_ratio_(massive.massive_ratio) {
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
    channel_scale_[c] = channel_absmax_[c] / 127.0f;
  }
}

TapQuantizer TapQuantizer::empty_like() const {
  TapQuantizer t = *this;
  for (auto& e : t.errors_) e.all = e.clean = ErrorStats{};
  t.tokens_ = t.outlier_tokens_ = 0;
  return t;
}

void TapQuantizer::add_rows(const float* data, int64_t rows, int64_t channels, int64_t ld) {
  std::vector<float> scratch(static_cast<std::size_t>(channels));
  for (int64_t r = 0; r < rows; ++r) add_row(data + r * ld, channels, scratch);
}

void TapQuantizer::add_row(const float* x, int64_t C, std::vector<float>& scratch) {
  std::size_t n = 0;
  float absmax = 0;
  for (int64_t c = 0; c < C; ++c) {
    if (!std::isfinite(x[c])) continue;
    const float a = std::fabs(x[c]);
    scratch[n++] = a;
    absmax = std::fmax(absmax, a);
  }
  // The token meets the massive-activation criterion when its largest |x| does (both bounds
  // are lower bounds on one value).
  const bool outlier =
      absmax > massive_abs_ && n > 0 && absmax > massive_ratio_ * upper_median(scratch.data(), n);
  ++tokens_;
  outlier_tokens_ += outlier;
  const float token_int8 = absmax / 127.0f, token_e4m3 = absmax / 448.0f;
  const float tensor_e4m3 = max_abs_ / 448.0f, tensor_e5m2 = max_abs_ / 57344.0f;
  for (PolicyErrors& pe : errors_) {
    ErrorRow row;
    const float t = pe.threshold, s_int8 = t / 127.0f;
    for (int64_t c = 0; c < C; ++c) {
      const float v = x[c];
      if (!std::isfinite(v)) continue;
      switch (pe.policy) {
        case QuantPolicy::kInt8MaxAbs:
        case QuantPolicy::kInt8ClipQuantile:
        case QuantPolicy::kInt8Mse:
          add_int8(row, v, s_int8, t);
          break;
        case QuantPolicy::kInt8PerToken:
          add_int8(row, v, token_int8, absmax);
          break;
        case QuantPolicy::kInt8PerChannel: {
          const auto ci = static_cast<std::size_t>(c);
          add_int8(row, v, channel_scale_[ci], channel_absmax_[ci]);
          break;
        }
        case QuantPolicy::kE4m3MaxAbs:
          add_fp8(row, v, tensor_e4m3, max_abs_, &round_to_e4m3, &e4m3_clips);
          break;
        case QuantPolicy::kE4m3PerToken:
          add_fp8(row, v, token_e4m3, absmax, &round_to_e4m3, &e4m3_clips);
          break;
        case QuantPolicy::kE5m2MaxAbs:
          add_fp8(row, v, tensor_e5m2, max_abs_, &round_to_e5m2, &e5m2_clips);
          break;
        case QuantPolicy::kFp16:
          row.add(v, round_to_f16(v));
          break;
        case QuantPolicy::kBf16:
          row.add(v, round_to_bf16(v));
          break;
        case QuantPolicy::kCount:
          break;
      }
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
