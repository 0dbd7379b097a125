#include "engine/linear_attn.h"

#include <cmath>

#include "engine/delta_rule.h"
#include "engine/deltanet_kernels.h"

namespace maxact::engine {
namespace {

// The input projections of the window, published as stored, in rows of width P: for qwen3_next's
// fused projections regrouped into qwen3.5's order [conv input (q|k|v) | z | b | a].
std::vector<float> project_inputs(const LayerContext& c, int layer, const LinearAttnWeights& w,
                                  const DeltaNetDims& d, const WindowRows& win, const float* x) {
  const int64_t T = win.tokens, P = w.in_proj.out;  // 2·key_dim + 2·value_dim + 2·Hv either way
  const Location* locs = win.locs.data();
  Sink& sink = c.sink;
  std::vector<float> proj(static_cast<std::size_t>(T * P));
  project(c, x, T, w.in_proj, {}, proj.data());
  if (!c.spec.linear_attn.fused_qkvz) {
    sink.publish(sink.at(layer, TapPoint::kLinQkv), proj.data(), T, P, locs);
    sink.publish(sink.at(layer, TapPoint::kLinZ), proj.data() + d.conv_dim, T, P, locs);
    sink.publish(sink.at(layer, TapPoint::kLinB), proj.data() + P - 2 * d.Hv, T, P, locs);
    sink.publish(sink.at(layer, TapPoint::kLinA), proj.data() + P - d.Hv, T, P, locs);
    return proj;
  }
  sink.publish(sink.at(layer, TapPoint::kLinQkvz), proj.data(), T, P, locs);
  sink.publish(sink.at(layer, TapPoint::kLinBa), proj.data() + P - 2 * d.Hv, T, P, locs);
  std::vector<float> split(proj.size());
  parallel_rows(c.pool, T, [&](int64_t b0, int64_t b1) {
    for (int64_t r = b0; r < b1; ++r) {
      float* row = split.data() + r * P;
      split_fused_row(d, proj.data() + r * P, row, row + d.conv_dim, row + d.conv_dim + d.value_dim,
                      row + P - d.Hv);
    }
  });
  return split;
}

// The delta rule per (sequence, value head), value head h reading key head h / r, into core
// [T, value_dim] (rounded to D); state_max gets each task's max |S| per chunk end.
void delta_rule_heads(const LayerContext& c, const DeltaNetDims& d, const WindowRows& win,
                      const std::vector<float>& conv, const std::vector<float>& beta,
                      const std::vector<float>& decay, std::vector<float>& core,
                      std::vector<std::vector<float>>& state_max) {
  const auto q_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d.dk)));
  c.pool.parallel_for(static_cast<int64_t>(state_max.size()), [&](int64_t task, int) {
    const SequenceSpan& sp = win.spans[static_cast<std::size_t>(task / d.Hv)];
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
}

// The state tap: one row per sequence chunk end (window order), one channel per value head.
void publish_state(const LayerContext& c, int layer, const DeltaNetDims& d, const WindowRows& win,
                   const std::vector<std::vector<float>>& state_max) {
  Sink& sink = c.sink;
  const int tap = sink.at(layer, TapPoint::kLinState);
  if (!sink.wants(tap)) return;
  const auto Hv = static_cast<std::size_t>(d.Hv);
  std::vector<float> rows;
  std::vector<Location> where;
  std::vector<int32_t> cats;
  for (std::size_t q = 0; q < win.spans.size(); ++q) {
    const SequenceSpan& sp = win.spans[q];
    const auto chunks = static_cast<int64_t>(state_max[q * Hv].size());
    for (int64_t k = 0; k < chunks; ++k) {
      const int64_t row = sp.begin + std::min(sp.length, (k + 1) * kDeltaRuleChunk) - 1;
      for (std::size_t h = 0; h < Hv; ++h) {
        rows.push_back(state_max[q * Hv + h][static_cast<std::size_t>(k)]);
      }
      where.push_back(win.locs[static_cast<std::size_t>(row)]);
      cats.push_back(sink.category_of_row() != nullptr ? sink.category_of_row()[row] : 0);
    }
  }
  sink.publish(tap, rows.data(), static_cast<int64_t>(where.size()), d.Hv, where.data(),
               cats.data());
}

}  // namespace

void linear_attention(const LayerContext& c, int layer, const LinearAttnWeights& w,
                      const WindowRows& win, const float* x, float* out) {
  const ModelSpec& s = c.spec;
  const Location* locs = win.locs.data();
  const int64_t T = win.tokens;
  const DeltaNetDims d = deltanet_dims(s.linear_attn);
  Sink& sink = c.sink;
  const int64_t P = w.in_proj.out;
  // Rows [conv input | z | b | a].
  const std::vector<float> base = project_inputs(c, layer, w, d, win, x);
  std::vector<float> conv(static_cast<std::size_t>(T * d.conv_dim));
  parallel_rows(c.pool, T, [&](int64_t b0, int64_t b1) {
    causal_conv_silu(d, base.data(), P, w.conv.data(), win.spans, win.seq_of_row.data(), b0, b1,
                     c.rd, conv.data());
  });
  sink.publish(sink.at(layer, TapPoint::kLinConv), conv.data(), T, d.conv_dim, locs);
  std::vector<float> beta(static_cast<std::size_t>(T * d.Hv)), decay(beta.size());
  parallel_rows(c.pool, T, [&](int64_t b0, int64_t b1) {
    for (int64_t t = b0; t < b1; ++t) {
      const float* row = base.data() + t * P;
      deltanet_gates(row + P - 2 * d.Hv, row + P - d.Hv, w.A_log.data(), w.dt_bias.data(), d.Hv,
                     c.rd, beta.data() + t * d.Hv, decay.data() + t * d.Hv);
    }
  });
  std::vector<float> core(static_cast<std::size_t>(T * d.value_dim));
  std::vector<std::vector<float>> state_max(win.spans.size() * static_cast<std::size_t>(d.Hv));
  delta_rule_heads(c, d, win, conv, beta, decay, core, state_max);
  publish_state(c, layer, d, win, state_max);
  // Gated RMSNorm per value head: D(D(w ⊙ D(x r)) · silu(z)), then out_proj.
  parallel_rows(c.pool, T, [&](int64_t b0, int64_t b1) {
    for (int64_t t = b0; t < b1; ++t) {
      float* row = core.data() + t * d.value_dim;
      rms_norm_rows(row, d.Hv, d.dv, d.dv, w.norm.data(), NormKind::kPlain, s.rms_norm_eps, c.rd,
                    row, d.dv);
      const float* z = base.data() + t * P + d.conv_dim;
      for (int64_t j = 0; j < d.value_dim; ++j) row[j] = c.rd(row[j] * silu(z[j]));
    }
  });
  sink.publish(sink.at(layer, TapPoint::kOProjIn), core.data(), T, d.value_dim, locs);
  project(c, core.data(), T, w.out, {}, out);
}

}  // namespace maxact::engine
