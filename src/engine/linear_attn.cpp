#include "engine/linear_attn.h"

#include <cmath>

#include "engine/delta_rule.h"

namespace maxact::engine {
namespace {

struct Dims {
  int64_t Hk, Hv, dk, dv, r, key_dim, value_dim, conv_dim, kernel;
};

Dims dims_of(const LinearAttnSpec& g) {
  Dims d{};
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

// torch.nn.functional.softplus with its default threshold 20.
float softplus(float x) {
  return x > 20.0f ? x : std::log1p(std::exp(x));
}

// qwen3_next's fused projections group everything per key head g: in_proj_qkvz rows
// [q_g (dk) | k_g (dk) | v_g (r·dv) | z_g (r·dv)], in_proj_ba rows [b_g (r) | a_g (r)].
// Spread one row into the q|k|v order of the conv, z, b and a.
void split_fused_row(const Dims& d, const float* p, float* mixed, float* z, float* b, float* a) {
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

// x · rsqrt(Σx² + 1e-6), HF's l2norm, in fp32.
void l2_normalise(float* x, int64_t n, float scale) {
  float ss = 0.0f;
  for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const float inv = 1.0f / std::sqrt(ss + 1e-6f);
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] * inv * scale;
}

}  // namespace

void linear_attention(const LayerContext& c, int layer, const LinearAttnWeights& w,
                      const WindowRows& win, const float* x, float* out) {
  const ModelSpec& s = c.spec;
  const std::vector<SequenceSpan>& spans = win.spans;
  const Location* locs = win.locs.data();
  const int64_t T = win.tokens;
  const Dims d = dims_of(s.linear_attn);
  const bool fused = s.linear_attn.fused_qkvz;
  Sink& sink = c.sink;
  const int64_t P = w.in_proj.out;  // 2·key_dim + 2·value_dim + 2·Hv either way
  std::vector<float> proj(static_cast<std::size_t>(T * P));
  project(c, x, T, w.in_proj, {}, proj.data());
  if (fused) {
    sink.publish(sink.at(layer, TapPoint::kLinQkvz), proj.data(), T, P, locs);
    sink.publish(sink.at(layer, TapPoint::kLinBa), proj.data() + P - 2 * d.Hv, T, P, locs);
  } else {
    sink.publish(sink.at(layer, TapPoint::kLinQkv), proj.data(), T, P, locs);
    sink.publish(sink.at(layer, TapPoint::kLinZ), proj.data() + d.conv_dim, T, P, locs);
    sink.publish(sink.at(layer, TapPoint::kLinB), proj.data() + P - 2 * d.Hv, T, P, locs);
    sink.publish(sink.at(layer, TapPoint::kLinA), proj.data() + P - d.Hv, T, P, locs);
  }
  // mixed [T, conv_dim] | z [T, value_dim] | b [T, Hv] | a [T, Hv], row by row.
  std::vector<float> split;
  const float* base = proj.data();
  if (fused) {
    split.resize(proj.size());
    parallel_rows(c.pool, T, [&](int64_t b0, int64_t b1) {
      for (int64_t r = b0; r < b1; ++r) {
        float* row = split.data() + r * P;
        split_fused_row(d, proj.data() + r * P, row, row + d.conv_dim,
                        row + d.conv_dim + d.value_dim, row + P - d.Hv);
      }
    });
    base = split.data();
    proj = {};  // published already; the window's largest buffer after the split
  }
  // Causal depthwise conv over each sequence, fp32 accumulation, rounded, then SiLU rounded.
  std::vector<float> conv(static_cast<std::size_t>(T * d.conv_dim));
  parallel_rows(c.pool, T, [&](int64_t b0, int64_t b1) {
    for (int64_t t = b0; t < b1; ++t) {
      const int64_t first =
          spans[static_cast<std::size_t>(win.seq_of_row[static_cast<std::size_t>(t)])].begin;
      for (int64_t ch = 0; ch < d.conv_dim; ++ch) {
        const float* wk = w.conv.data() + ch * d.kernel;
        float acc = 0.0f;
        for (int64_t j = 0; j < d.kernel; ++j) {
          const int64_t src = t - (d.kernel - 1) + j;
          if (src >= first) acc += wk[j] * base[src * P + ch];
        }
        conv[static_cast<std::size_t>(t * d.conv_dim + ch)] = c.rd(silu(c.rd(acc)));
      }
    }
  });
  sink.publish(sink.at(layer, TapPoint::kLinConv), conv.data(), T, d.conv_dim, locs);
  // β = D(σ(b)); g = −exp(A_log) · softplus(a + dt_bias) in fp32.
  std::vector<float> beta(static_cast<std::size_t>(T * d.Hv)), decay(beta.size());
  parallel_rows(c.pool, T, [&](int64_t b0, int64_t b1) {
    for (int64_t t = b0; t < b1; ++t) {
      const float* b = base + t * P + P - 2 * d.Hv;
      const float* a = base + t * P + P - d.Hv;
      for (int64_t h = 0; h < d.Hv; ++h) {
        const auto u = static_cast<std::size_t>(h);
        beta[static_cast<std::size_t>(t * d.Hv + h)] = c.rd(sigmoid(b[h]));
        decay[static_cast<std::size_t>(t * d.Hv + h)] =
            -std::exp(w.A_log[u]) * softplus(a[h] + w.dt_bias[u]);
      }
    }
  });
  // The delta rule per (sequence, value head); value head h reads key head h / r.
  std::vector<float> core(static_cast<std::size_t>(T * d.value_dim));
  std::vector<std::vector<float>> state_max(spans.size() * static_cast<std::size_t>(d.Hv));
  const auto q_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d.dk)));
  c.pool.parallel_for(static_cast<int64_t>(state_max.size()), [&](int64_t task, int) {
    const SequenceSpan& sp = spans[static_cast<std::size_t>(task / d.Hv)];
    const int64_t h = task % d.Hv, kh = h / d.r, n = sp.length;
    std::vector<float> q(static_cast<std::size_t>(n * d.dk)), k(q.size());
    std::vector<float> v(static_cast<std::size_t>(n * d.dv)), o(v.size());
    std::vector<float> bt(static_cast<std::size_t>(n)), gt(bt.size());
    for (int64_t i = 0; i < n; ++i) {
      const float* row = conv.data() + (sp.begin + i) * d.conv_dim;
      float* qi = q.data() + i * d.dk;
      float* ki = k.data() + i * d.dk;
      std::copy(row + kh * d.dk, row + (kh + 1) * d.dk, qi);
      std::copy(row + d.key_dim + kh * d.dk, row + d.key_dim + (kh + 1) * d.dk, ki);
      std::copy(row + 2 * d.key_dim + h * d.dv, row + 2 * d.key_dim + (h + 1) * d.dv,
                v.data() + i * d.dv);
      l2_normalise(qi, d.dk, q_scale);
      l2_normalise(ki, d.dk, 1.0f);
      bt[static_cast<std::size_t>(i)] = beta[static_cast<std::size_t>((sp.begin + i) * d.Hv + h)];
      gt[static_cast<std::size_t>(i)] = decay[static_cast<std::size_t>((sp.begin + i) * d.Hv + h)];
    }
    DeltaRuleInput in;
    in.q = q.data();
    in.k = k.data();
    in.v = v.data();
    in.beta = bt.data();
    in.g = gt.data();
    in.len = n;
    in.dk = static_cast<int>(d.dk);
    in.dv = static_cast<int>(d.dv);
    delta_rule_chunked(in, o.data(), state_max[static_cast<std::size_t>(task)]);
    for (int64_t i = 0; i < n; ++i) {
      float* dst = core.data() + (sp.begin + i) * d.value_dim + h * d.dv;
      for (int64_t j = 0; j < d.dv; ++j) dst[j] = c.rd(o[static_cast<std::size_t>(i * d.dv + j)]);
    }
  });
  const int state_tap = sink.at(layer, TapPoint::kLinState);
  if (sink.wants(state_tap)) {
    // Rows: each sequence's chunk-end tokens in window order; channels: value heads.
    std::vector<float> rows;
    std::vector<Location> where;
    std::vector<int32_t> cats;
    for (std::size_t q = 0; q < spans.size(); ++q) {
      const auto chunks =
          static_cast<int64_t>(state_max[q * static_cast<std::size_t>(d.Hv)].size());
      for (int64_t k = 0; k < chunks; ++k) {
        const int64_t row =
            spans[q].begin + std::min(spans[q].length, (k + 1) * kDeltaRuleChunk) - 1;
        for (int64_t h = 0; h < d.Hv; ++h) {
          rows.push_back(state_max[q * static_cast<std::size_t>(d.Hv) + static_cast<std::size_t>(h)]
                                  [static_cast<std::size_t>(k)]);
        }
        where.push_back(locs[row]);
        cats.push_back(sink.category_of_row() != nullptr ? sink.category_of_row()[row] : 0);
      }
    }
    sink.publish(state_tap, rows.data(), static_cast<int64_t>(where.size()), d.Hv, where.data(),
                 cats.data());
  }
  // Gated RMSNorm per value head: D(D(w ⊙ D(x r)) · silu(z)), then out_proj.
  parallel_rows(c.pool, T, [&](int64_t b0, int64_t b1) {
    for (int64_t t = b0; t < b1; ++t) {
      float* row = core.data() + t * d.value_dim;
      rms_norm_rows(row, d.Hv, d.dv, d.dv, w.norm.data(), NormKind::kPlain, s.rms_norm_eps, c.rd,
                    row, d.dv);
      const float* z = base + t * P + d.conv_dim;
      for (int64_t j = 0; j < d.value_dim; ++j) row[j] = c.rd(row[j] * silu(z[j]));
    }
  });
  sink.publish(sink.at(layer, TapPoint::kOProjIn), core.data(), T, d.value_dim, locs);
  project(c, core.data(), T, w.out, {}, out);
}

}  // namespace maxact::engine
