#include "maxact/rope.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace maxact {
namespace {

// 1 / base^(2i/d) in fp32, as `1.0 / (base ** (torch.arange(0, d, 2).float() / d))`.
std::vector<float> default_inv_freq(double base, int d) {
  std::vector<float> inv(static_cast<std::size_t>(d / 2));
  const auto fb = static_cast<float>(base);
  for (int i = 0; i < d / 2; ++i) {
    const float e = static_cast<float>(2 * i) / static_cast<float>(d);
    inv[static_cast<std::size_t>(i)] = 1.0f / std::pow(fb, e);
  }
  return inv;
}

double yarn_mscale(double scale, double m) {
  return scale <= 1 ? 1.0 : 0.1 * m * std::log(scale) + 1.0;
}

// Dynamic NTK: the default table over a base grown for sequences longer than max_position.
std::vector<float> dynamic_inv_freq(const RopeSpec& r, int d, int64_t seq_len) {
  const double max_pos = static_cast<double>(r.max_position);
  const double L = static_cast<double>(std::max<int64_t>(seq_len, r.max_position));
  const double base = r.theta * std::pow(r.factor * L / max_pos - (r.factor - 1), d / (d - 2.0));
  return default_inv_freq(base, d);
}

// Llama 3: long wavelengths divided by `factor`, short ones kept, a smooth blend in between.
std::vector<float> llama3_inv_freq(const RopeSpec& r, int d) {
  std::vector<float> inv = default_inv_freq(r.theta, d);
  const double old = static_cast<double>(r.original_max_position);
  const double low_wl = old / r.low_freq_factor, high_wl = old / r.high_freq_factor;
  const auto factor = static_cast<float>(r.factor);
  for (float& f : inv) {
    const float wl = static_cast<float>(2 * M_PI) / f;  // fp32 tensor op in transformers
    const float scaled = wl > low_wl ? f / factor : f;
    const bool medium = !(wl < high_wl) && !(wl > low_wl);
    if (medium) {
      const float smooth = (static_cast<float>(old) / wl - static_cast<float>(r.low_freq_factor)) /
                           static_cast<float>(r.high_freq_factor - r.low_freq_factor);
      f = (1 - smooth) * scaled / factor + smooth * scaled;
    } else {
      f = scaled;
    }
  }
  return inv;
}

float yarn_attention_scale(const RopeSpec& r) {
  if (r.attention_factor) return static_cast<float>(*r.attention_factor);
  if (r.mscale && r.mscale_all_dim) {
    return static_cast<float>(yarn_mscale(r.factor, *r.mscale) /
                              yarn_mscale(r.factor, *r.mscale_all_dim));
  }
  return static_cast<float>(yarn_mscale(r.factor, 1.0));
}

// YaRN's ramp between extrapolated and interpolated dimensions: [low, high], low < high.
std::pair<double, double> yarn_ramp(const RopeSpec& r, int d) {
  const double O =
      static_cast<double>(r.original_max_position > 0 ? r.original_max_position : r.max_position);
  auto correction_dim = [&](double rotations) {
    return d * std::log(O / (rotations * 2 * M_PI)) / (2 * std::log(r.theta));
  };
  double low = correction_dim(r.beta_fast), high = correction_dim(r.beta_slow);
  if (r.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(d - 1));
  if (low == high) high += 0.001;
  return {low, high};
}

std::vector<float> yarn_inv_freq(const RopeSpec& r, int d) {
  const auto [low, high] = yarn_ramp(r, d);
  std::vector<float> inv(static_cast<std::size_t>(d / 2));
  const auto factor = static_cast<float>(r.factor);
  for (std::size_t i = 0; i < inv.size(); ++i) {
    // pos_freqs = base^(2i/d); extrapolation 1/pos, interpolation 1/(factor*pos).
    const float pos =
        std::pow(static_cast<float>(r.theta), static_cast<float>(2 * i) / static_cast<float>(d));
    const float inter = 1.0f / (factor * pos);
    const float ramp =
        std::clamp(static_cast<float>((static_cast<double>(i) - low) / (high - low)), 0.0f, 1.0f);
    const float e = 1.0f - ramp;
    inv[i] = inter * (1 - e) + (1.0f / pos) * e;
  }
  return inv;
}

// LongRoPE: per-dimension factors, the long ones past original_max_position.
std::vector<float> longrope_inv_freq(const RopeSpec& r, int d, int64_t seq_len) {
  const std::vector<double>& ext =
      seq_len > r.original_max_position ? r.long_factor : r.short_factor;
  std::vector<float> inv(static_cast<std::size_t>(d / 2));
  for (int i = 0; i < d / 2; ++i) {
    const float pos =
        std::pow(static_cast<float>(r.theta), static_cast<float>(2 * i) / static_cast<float>(d));
    inv[static_cast<std::size_t>(i)] =
        1.0f / (static_cast<float>(ext[static_cast<std::size_t>(i)]) * pos);
  }
  return inv;
}

float longrope_attention_scale(const RopeSpec& r) {
  const double O = static_cast<double>(r.original_max_position);
  if (r.attention_factor) return static_cast<float>(*r.attention_factor);
  const double f = static_cast<double>(r.max_position) / O;
  return static_cast<float>(f <= 1 ? 1.0 : std::sqrt(1 + std::log(f) / std::log(O)));
}

}  // namespace

RopeFrequencies rope_frequencies(const RopeSpec& r, int64_t seq_len) {
  const int d = r.rotary_dim;
  RopeFrequencies out;
  switch (r.kind) {
    case RopeKind::kDefault:
      out.inv_freq = default_inv_freq(r.theta, d);
      break;
    case RopeKind::kLinear:
      out.inv_freq = default_inv_freq(r.theta, d);
      for (float& f : out.inv_freq) f /= static_cast<float>(r.factor);
      break;
    case RopeKind::kDynamic:
      out.inv_freq = dynamic_inv_freq(r, d, seq_len);
      break;
    case RopeKind::kLlama3:
      out.inv_freq = llama3_inv_freq(r, d);
      break;
    case RopeKind::kYarn:
      out.attention_scale = yarn_attention_scale(r);
      out.inv_freq = yarn_inv_freq(r, d);
      break;
    case RopeKind::kLongRope:
      out.inv_freq = longrope_inv_freq(r, d, seq_len);
      out.attention_scale = longrope_attention_scale(r);
      break;
  }
  return out;
}

}  // namespace maxact
