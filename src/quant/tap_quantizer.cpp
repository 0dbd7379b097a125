// Every policy's reconstruction error on one tap's evaluation rows (quant_check.h).
#include <cmath>
#include <limits>

#include "maxact/quant_check.h"
#include "quant/rounding.h"
#include "quant/row_kernels.h"

namespace maxact {
namespace {

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

// One row through a quantizer: q(x, c) gives (x', clipped, exceeded) for the value x of
// channel c. Inlined per policy, so the per-value loop has no dispatch in it. `x` has its
// non-finite values replaced by 0 (which every policy keeps exact), `base` the sums of x.
struct Fq {
  float xq;
  bool clipped, exceeded;
};
template <class Q>
ErrorRow row_errors(const float* x, int64_t C, const ErrorRow& base, float* e, Q q) {
  ErrorRow r = base;
  for (int64_t c = 0; c < C; ++c) {
    const Fq f = q(x[c], c);
    r.clipped += f.clipped;
    r.exceeded += f.exceeded;
    const bool finite = f.xq - f.xq == 0.0f;
    r.nonfinite += !finite;
    e[c] = finite ? x[c] - f.xq : 0.0f;  // overflowed values leave the error sums (counted)
  }
  const quant::RowSums s = quant::row_sums(e, static_cast<std::size_t>(C));
  r.sum_sq_e = s.sq;
  r.sum_abs_e = s.abs;
  return r;
}

// INT8 (row_kernels.h): never overflows.
ErrorRow int8_row(const float* x, int64_t C, const ErrorRow& base, float* e, const float* s,
                  const float* t, bool per_channel) {
  ErrorRow r = base;
  const auto n = static_cast<std::size_t>(C);
  const quant::Int8Counts k = quant::int8_errors(x, n, s, t, per_channel, e);
  r.clipped += k.clipped;
  r.exceeded += k.exceeded;
  const quant::RowSums sums = quant::row_sums(e, n);
  r.sum_sq_e = sums.sq;
  r.sum_abs_e = sums.abs;
  return r;
}

// FP8 with scale s: x / s rounded to the format (saturating), times s.
template <float (*kRound)(float), bool (*kClips)(float)>
inline Fq fp8(float x, float s, float t) {
  if (s == 0.0f) return {0.0f, x != 0.0f, x != 0.0f};
  const float y = x / s;
  return {kRound(y) * s, kClips(y), std::fabs(x) > t};
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
  // The token meets the massive-activation criterion when its largest |x| does (both bounds
  // are lower bounds on one value).
  const bool outlier =
      absmax > massive_abs_ && n > 0 && absmax > massive_ratio_ * upper_median(scratch, n);
  ++tokens_;
  outlier_tokens_ += outlier;
  const float token_int8 = absmax / 127.0f, token_e4m3 = absmax / 448.0f;
  const float tensor_e4m3 = max_abs_ / 448.0f, tensor_e5m2 = max_abs_ / 57344.0f;
  constexpr auto e4m3 = &fp8<&quant::e4m3, &quant::e4m3_clips>;
  constexpr auto e5m2 = &fp8<&quant::e5m2, &quant::e5m2_clips>;
  for (PolicyErrors& pe : errors_) {
    const float t = pe.threshold, s_int8 = t / 127.0f;
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
        row = row_errors(x, C, base, e,
                         [&](float v, int64_t) { return e4m3(v, tensor_e4m3, max_abs_); });
        break;
      case QuantPolicy::kE4m3PerToken:
        row = row_errors(x, C, base, e,
                         [&](float v, int64_t) { return e4m3(v, token_e4m3, absmax); });
        break;
      case QuantPolicy::kE5m2MaxAbs:
        row = row_errors(x, C, base, e,
                         [&](float v, int64_t) { return e5m2(v, tensor_e5m2, max_abs_); });
        break;
      case QuantPolicy::kFp16:
        row = row_errors(x, C, base, e, [](float v, int64_t) {
          return Fq{quant::f16(v), false, false};
        });
        break;
      case QuantPolicy::kBf16:
        row = row_errors(x, C, base, e, [](float v, int64_t) {
          return Fq{round_to_bf16(v), false, false};
        });
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
