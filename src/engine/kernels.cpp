#include "engine/kernels.h"

#include <algorithm>
#include <cmath>

namespace maxact::engine {

void Rounding::apply(float* x, int64_t n) const {
  if (!bf16) return;
  for (int64_t i = 0; i < n; ++i) x[i] = round_to_bf16(x[i]);
}

void Rounding::apply_rows(float* x, int64_t rows, int64_t cols, int64_t ld) const {
  if (!bf16) return;
  for (int64_t r = 0; r < rows; ++r) apply(x + r * ld, cols);
}

void rms_norm_rows(const float* x, int64_t rows, int64_t dim, int64_t ld, const float* w,
                   NormKind kind, double eps, const Rounding& rd, float* out, int64_t ld_out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * ld;
    float* o = out + r * ld_out;
    // torch reduces mean(x²) in fp32; a double sum differs by far less than the tolerance and
    // does not depend on how the row is split.
    double ss = 0;
    for (int64_t i = 0; i < dim; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const float var = static_cast<float>(ss / static_cast<double>(dim));
    const float rs = 1.0f / std::sqrt(var + static_cast<float>(eps));
    switch (kind) {
      case NormKind::kPlain:
        for (int64_t i = 0; i < dim; ++i) o[i] = rd(w[i] * rd(xr[i] * rs));
        break;
      case NormKind::kOnePlus:
        for (int64_t i = 0; i < dim; ++i) o[i] = rd(xr[i] * rs * (1.0f + w[i]));
        break;
      case NormKind::kFp32Weight:
        for (int64_t i = 0; i < dim; ++i) o[i] = rd(w[i] * (xr[i] * rs));
        break;
    }
  }
}

RopeTable make_rope_table(const std::vector<float>& inv_freq, float attention_scale,
                          int64_t positions, const Rounding& rd) {
  RopeTable t;
  t.positions = positions;
  t.half = static_cast<int>(inv_freq.size());
  const auto n = static_cast<std::size_t>(positions) * inv_freq.size();
  t.cos.resize(n);
  t.sin.resize(n);
  for (int64_t p = 0; p < positions; ++p) {
    for (int i = 0; i < t.half; ++i) {
      // One fp32 product, as torch's position · inv_freq; trig of that fp32 value.
      const float f = static_cast<float>(p) * inv_freq[static_cast<std::size_t>(i)];
      const auto k = static_cast<std::size_t>(p) * inv_freq.size() + static_cast<std::size_t>(i);
      t.cos[k] = rd(static_cast<float>(std::cos(static_cast<double>(f))) * attention_scale);
      t.sin[k] = rd(static_cast<float>(std::sin(static_cast<double>(f))) * attention_scale);
    }
  }
  return t;
}

void apply_rope(float* x, int64_t rows, int64_t ld, int heads, int head_dim, const RopeTable& t,
                int64_t pos0, const Rounding& rd) {
  const int h2 = t.half;
  for (int64_t r = 0; r < rows; ++r) {
    const float* c = t.cos.data() + (pos0 + r) * h2;
    const float* s = t.sin.data() + (pos0 + r) * h2;
    for (int h = 0; h < heads; ++h) {
      float* v = x + r * ld + int64_t{h} * head_dim;
      for (int j = 0; j < h2; ++j) {
        const float a = v[j], b = v[j + h2];
        // q·cos + rotate_half(q)·sin, rotate_half = [-x2, x1]; eager rounds each product.
        v[j] = rd(rd(a * c[j]) + rd(-b * s[j]));
        v[j + h2] = rd(rd(b * c[j]) + rd(a * s[j]));
      }
    }
  }
}

namespace {
inline float act_fn(float g, Activation a) {
  switch (a) {
    case Activation::kSilu:
      return silu(g);
    case Activation::kGeluTanh: {
      const float k = 0.7978845608028654f;  // sqrt(2/pi)
      return 0.5f * g * (1.0f + std::tanh(k * (g + 0.044715f * g * g * g)));
    }
    case Activation::kGelu:
      return 0.5f * g * (1.0f + std::erf(g * 0.7071067811865476f));
  }
  return g;
}
}  // namespace

void gated_activation(const float* gate, const float* up, int64_t rows, int64_t n, int64_t ld,
                      Activation act, const Rounding& rd, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* g = gate + r * ld;
    const float* u = up + r * ld;
    float* o = out + r * n;
    for (int64_t i = 0; i < n; ++i) o[i] = rd(rd(act_fn(g[i], act)) * u[i]);
  }
}

}  // namespace maxact::engine

namespace maxact::engine {

void clamped_swiglu(const float* gate, const float* up, int64_t rows, int64_t n, int64_t ld,
                    float limit, const Rounding& rd, float* out) {
  constexpr float kAlpha = 1.702f;  // hard-coded in GptOssExperts
  for (int64_t r = 0; r < rows; ++r) {
    const float* g = gate + r * ld;
    const float* u = up + r * ld;
    float* o = out + r * n;
    for (int64_t i = 0; i < n; ++i) {
      // std::min / std::clamp keep a NaN operand, as torch.clamp does.
      const float gc = std::min(g[i], limit);
      const float uc = std::clamp(u[i], -limit, limit);
      const float sig = rd(sigmoid(rd(gc * kAlpha)));
      o[i] = rd(rd(uc + 1.0f) * rd(gc * sig));
    }
  }
}

}  // namespace maxact::engine
