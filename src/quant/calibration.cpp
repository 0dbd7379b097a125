// Calibration thresholds: the exact quantile of |x| and the INT8 MSE grid (quant_check.h).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "maxact/dtype.h"
#include "maxact/quant_check.h"

namespace maxact {
namespace {

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
float float_of(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// Sum over x of (x - quantize_int8(x, s))^2, in double; the order of additions is fixed by n.
double int8_sse_scalar(const float* x, std::size_t n, float s) {
  double acc = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double e = x[i] - quantize_int8(x[i], s);
    acc += e * e;
  }
  return acc;
}

// The same with eight values at a time. No FMA in the target, so x - q * s is two roundings as
// in the scalar quantizer (and torch).
__attribute__((target("avx2"))) double int8_sse_avx2(const float* x, std::size_t n, float s) {
  const __m256 vs = _mm256_set1_ps(s), lo = _mm256_set1_ps(-kInt8Max),
               hi = _mm256_set1_ps(kInt8Max);
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    __m256 q = _mm256_round_ps(_mm256_div_ps(v, vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    q = _mm256_min_ps(_mm256_max_ps(q, lo), hi);
    const __m256 e = _mm256_sub_ps(v, _mm256_mul_ps(q, vs));
    const __m256d e0 = _mm256_cvtps_pd(_mm256_castps256_ps128(e));
    const __m256d e1 = _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1));
    a0 = _mm256_add_pd(a0, _mm256_mul_pd(e0, e0));
    a1 = _mm256_add_pd(a1, _mm256_mul_pd(e1, e1));
  }
  alignas(32) double l[8];
  _mm256_store_pd(l, a0);
  _mm256_store_pd(l + 4, a1);
  double acc = ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
  return acc + int8_sse_scalar(x + i, n - i, s);
}

using SseFn = double (*)(const float*, std::size_t, float);
SseFn pick_sse() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") ? &int8_sse_avx2 : &int8_sse_scalar;
}

}  // namespace

float mse_grid_threshold(float max_abs, int k) {
  return static_cast<float>(static_cast<double>(max_abs) *
                            std::exp2(-static_cast<double>(k) / kMseGridPerOctave));
}

ThresholdFinder::ThresholdFinder(const TapStats& first, double quantile, bool mse,
                                 std::size_t dense_after)
    : dense_after_(dense_after), count_(first.count()), mse_(mse) {
  if (count_ == 0) return;
  max_abs_ = std::fabs(first.absmax().value);
  rank_ = static_cast<uint64_t>(std::max(1.0, std::ceil(quantile * static_cast<double>(count_))));
  rank_ = std::min(rank_, count_);
  const LogHistogram::Slot slot = first.histogram().slot_of_rank(rank_);
  zero_ = slot.hi_bits == 0;
  lo_bits_ = slot.lo_bits;
  hi_bits_ = slot.hi_bits;
  below_ = slot.below;
  if (mse_) {
    for (int k = 0; k < kMseGrid; ++k) {
      grid_scale_.push_back(mse_grid_threshold(max_abs_, k) / kInt8Max);
    }
    grid_sse_.resize(static_cast<std::size_t>(kMseGrid));
  }
}

ThresholdFinder ThresholdFinder::empty_like() const {
  ThresholdFinder t = *this;
  t.inside_.clear();
  t.inside_.shrink_to_fit();
  t.dense_.clear();
  t.dense_.shrink_to_fit();
  t.grid_sse_.assign(grid_sse_.size(), ExactDoubleSum{});
  return t;
}

void ThresholdFinder::add_rows(const float* data, int64_t rows, int64_t channels, int64_t ld) {
  static const SseFn sse = pick_sse();
  std::vector<float> finite(static_cast<std::size_t>(channels));
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = data + r * ld;
    std::size_t n = 0;
    for (int64_t c = 0; c < channels; ++c) {
      if (!std::isfinite(x[c])) continue;
      finite[n++] = x[c];
      const uint32_t b = bits_of(std::fabs(x[c]));
      if (!zero_ && b >= lo_bits_ && b < hi_bits_) inside_.push_back(b);
    }
    for (std::size_t k = 0; k < grid_sse_.size(); ++k) {
      grid_sse_[k].add(sse(finite.data(), n, grid_scale_[k]));
    }
  }
}

void ThresholdFinder::fold_into_dense() {
  if (dense_.empty()) dense_.assign(hi_bits_ - lo_bits_, 0);
  for (uint32_t b : inside_) ++dense_[b - lo_bits_];
  inside_.clear();
}

void ThresholdFinder::merge(const ThresholdFinder& o) {
  inside_.insert(inside_.end(), o.inside_.begin(), o.inside_.end());
  if (!o.dense_.empty()) {
    if (dense_.empty()) dense_.assign(hi_bits_ - lo_bits_, 0);
    for (std::size_t i = 0; i < dense_.size(); ++i) dense_[i] += o.dense_[i];
  }
  const bool small_bin = hi_bits_ - lo_bits_ <= (1u << 19);
  if (small_bin && (!dense_.empty() || inside_.size() > dense_after_)) fold_into_dense();
  for (std::size_t k = 0; k < grid_sse_.size(); ++k) grid_sse_[k].merge(o.grid_sse_[k]);
}

void ThresholdFinder::finish(TapCalibration& out) const {
  out.has_quantile = true;
  out.has_mse = mse_;
  out.quantile = 0;
  if (count_ > 0 && !zero_) {
    // The value of rank rank_ overall is the (rank_ - below_)-th smallest inside the bracket.
    uint64_t k = rank_ - below_ - 1;
    if (!dense_.empty()) {
      ThresholdFinder all = *this;
      all.fold_into_dense();
      for (std::size_t i = 0; i < all.dense_.size(); ++i) {
        if (k < all.dense_[i]) {
          out.quantile = float_of(lo_bits_ + static_cast<uint32_t>(i));
          break;
        }
        k -= all.dense_[i];
      }
    } else {
      std::vector<uint32_t> v = inside_;
      if (k < v.size()) {
        std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
        out.quantile = float_of(v[k]);
      }
    }
    if (out.quantile == 0.0f) {
      // The second pass saw fewer values in the bin than the first: the passes disagree.
      throw std::logic_error("quantization check: calibration passes saw different values");
    }
  }
  out.mse_threshold = 0;
  out.mse = 0;
  if (count_ == 0 || grid_sse_.empty()) return;
  double best = grid_sse_[0].value();
  int best_k = 0;
  for (int k = 1; k < kMseGrid; ++k) {
    const double v = grid_sse_[static_cast<std::size_t>(k)].value();
    if (v < best) {
      best = v;
      best_k = k;
    }
  }
  out.mse_threshold = mse_grid_threshold(max_abs_, best_k);
  out.mse = best / static_cast<double>(count_);
}

}  // namespace maxact
