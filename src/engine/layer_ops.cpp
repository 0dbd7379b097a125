#include "engine/layer_ops.h"

#include "engine/phase_timer.h"

#include <algorithm>

namespace maxact::engine {

void parallel_rows(ThreadPool& pool, int64_t rows,
                   const std::function<void(int64_t, int64_t)>& fn) {
  const PhaseTimer timer(ScanPhase::kElementwise);
  const int64_t parts = std::min<int64_t>(pool.size(), std::max<int64_t>(1, rows / 16));
  pool.parallel_for(parts, [&](int64_t i, int) {
    int64_t b, e;
    split_range(rows, parts, i, b, e);
    if (e > b) fn(b, e);
  });
}

void norm(const LayerContext& c, const float* x, int64_t rows, int64_t dim, int64_t ld,
          const std::vector<float>& w, float* out, int64_t ld_out) {
  parallel_rows(c.pool, rows, [&](int64_t b, int64_t e) {
    rms_norm_rows(x + b * ld, e - b, dim, ld, w.data(), c.spec.norm, c.spec.rms_norm_eps, c.rd,
                  out + b * ld_out, ld_out);
  });
}

void project(const LayerContext& c, const float* x, int64_t rows, const PackedWeight& w,
             const std::vector<float>& bias, float* y) {
  const int64_t out = w.out;
  const PhaseTimer timer(ScanPhase::kLinear);
  linear_packed(c.pool, x, rows, w, bias.empty() ? nullptr : bias.data(), y);
  if (c.rd.bf16) {
    parallel_rows(c.pool, rows,
                  [&](int64_t b, int64_t e) { c.rd.apply(y + b * out, (e - b) * out); });
  }
}

void add_bias_rows(const LayerContext& c, float* y, int64_t rows, const std::vector<float>& b) {
  const auto n = static_cast<int64_t>(b.size());
  parallel_rows(c.pool, rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* row = y + r * n;
      for (int64_t j = 0; j < n; ++j) row[j] = c.rd(row[j] + b[static_cast<std::size_t>(j)]);
    }
  });
}

void gate_and_up(const LayerContext& c, const float* gu, int64_t rows, int64_t I, float* act) {
  parallel_rows(c.pool, rows, [&](int64_t b, int64_t e) {
    gated_activation(gu + b * 2 * I, gu + b * 2 * I + I, e - b, I, 2 * I, c.spec.activation, c.rd,
                     act + b * I);
  });
}

void add_residual(const LayerContext& c, float* h, const float* a, int64_t rows, int64_t dim) {
  parallel_rows(c.pool, rows, [&](int64_t b, int64_t e) {
    for (int64_t i = b * dim; i < e * dim; ++i) h[i] = c.rd(h[i] + a[i]);
  });
}

}  // namespace maxact::engine
