#include "engine/deltanet_kernels.h"

#include <algorithm>
#include <cmath>

namespace maxact::engine {
namespace {

// torch.nn.functional.softplus with its default threshold 20.
float softplus(float x) {
  return x > 20.0f ? x : std::log1p(std::exp(x));
}

}  // namespace

DeltaNetDims deltanet_dims(const LinearAttnSpec& g) {
  DeltaNetDims d{};
  d.Hk = g.num_k_heads;
  d.Hv = g.num_v_heads;
  d.dk = g.k_head_dim;
  d.dv = g.v_head_dim;
  d.r = d.Hv / d.Hk;
  d.key_dim = d.Hk * d.dk;
  d.value_dim = d.Hv * d.dv;
  d.conv_dim = 2 * d.key_dim + d.value_dim;
  d.kernel = g.conv_kernel;
  return d;
}

void split_fused_row(const DeltaNetDims& d, const float* p, float* mixed, float* z, float* b,
                     float* a) {
  const int64_t group = 2 * d.dk + 2 * d.r * d.dv, rv = d.r * d.dv;
  const float* ba = p + d.Hk * group;
  for (int64_t g = 0; g < d.Hk; ++g) {
    const float* src = p + g * group;
    std::copy(src, src + d.dk, mixed + g * d.dk);
    std::copy(src + d.dk, src + 2 * d.dk, mixed + d.key_dim + g * d.dk);
    std::copy(src + 2 * d.dk, src + 2 * d.dk + rv, mixed + 2 * d.key_dim + g * rv);
    std::copy(src + 2 * d.dk + rv, src + 2 * d.dk + 2 * rv, z + g * rv);
    std::copy(ba + g * 2 * d.r, ba + g * 2 * d.r + d.r, b + g * d.r);
    std::copy(ba + g * 2 * d.r + d.r, ba + (g + 1) * 2 * d.r, a + g * d.r);
  }
}

void l2_normalise(float* x, int64_t n, float scale) {
  float ss = 0.0f;
  for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const float inv = 1.0f / std::sqrt(ss + 1e-6f);
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] * inv * scale;
}

void causal_conv_silu(const DeltaNetDims& d, const float* x, int64_t ld, const float* w,
                      const std::vector<SequenceSpan>& spans, const int32_t* seq_of_row, int64_t b,
                      int64_t e, const Rounding& rd, float* out) {
  for (int64_t t = b; t < e; ++t) {
    const int64_t first = spans[static_cast<std::size_t>(seq_of_row[t])].begin;
    for (int64_t ch = 0; ch < d.conv_dim; ++ch) {
      const float* wk = w + ch * d.kernel;
      float acc = 0.0f;
      for (int64_t j = 0; j < d.kernel; ++j) {
        const int64_t src = t - (d.kernel - 1) + j;
        if (src >= first) acc += wk[j] * x[src * ld + ch];
      }
      out[t * d.conv_dim + ch] = rd(silu(rd(acc)));
    }
  }
}

void deltanet_gates(const float* b, const float* a, const float* A_log, const float* dt_bias,
                    int64_t heads, const Rounding& rd, float* beta, float* decay) {
  for (int64_t h = 0; h < heads; ++h) {
    beta[h] = rd(sigmoid(b[h]));
    decay[h] = -std::exp(A_log[h]) * softplus(a[h] + dt_bias[h]);
  }
}

}  // namespace maxact::engine
