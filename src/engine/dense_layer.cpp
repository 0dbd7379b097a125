#include "engine/dense_layer.h"

#include <algorithm>

#include "compute/linear.h"

namespace maxact::engine {

void parallel_rows(ThreadPool& pool, int64_t rows,
                   const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t parts = std::min<int64_t>(pool.size(), std::max<int64_t>(1, rows / 16));
  pool.parallel_for(parts, [&](int64_t i, int) {
    int64_t b, e;
    split_range(rows, parts, i, b, e);
    if (e > b) fn(b, e);
  });
}

namespace {

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
  linear_packed(c.pool, x, rows, w, bias.empty() ? nullptr : bias.data(), y);
  if (c.rd.bf16) {
    parallel_rows(c.pool, rows,
                  [&](int64_t b, int64_t e) { c.rd.apply(y + b * out, (e - b) * out); });
  }
}

// act = D(D(act(gate)) * up) for rows of a fused [gate | up] projection of width 2I.
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

// Routed experts (ARCHITECTURES.md §1.8 R1 + C1, transformers' eager loop): router logits in D,
// softmax in fp32 over all experts, top-k (ties to the lower expert id), optional
// renormalisation in fp32, weights rounded to D; every expert runs once on the tokens routed to
// it (gather, GEMMs, scatter), and each token sums out += D(y · w) in D in ascending expert order.
void moe_mlp(const LayerContext& c, int layer, MoeWeights& mw, const float* x, int64_t n,
             const Location* lc, const int32_t* cats, float* out) {
  const ModelSpec& s = c.spec;
  const MoeSpec& m = s.moe;
  const int64_t H = s.hidden_size, I = m.intermediate, E = m.num_experts, K = m.top_k;
  Sink& sink = c.sink;
  std::vector<float> logits(static_cast<std::size_t>(n * E));
  project(c, x, n, mw.router, {}, logits.data());
  sink.publish(sink.at(layer, Point::kRouter), logits.data(), n, E, lc);
  // Per token: the chosen experts and their weights.
  std::vector<int32_t> chosen(static_cast<std::size_t>(n * K));
  std::vector<float> weight(static_cast<std::size_t>(n * K));
  parallel_rows(c.pool, n, [&](int64_t b, int64_t e) {
    std::vector<float> p(static_cast<std::size_t>(E));
    std::vector<int32_t> order(static_cast<std::size_t>(E));
    for (int64_t r = b; r < e; ++r) {
      const float* l = logits.data() + r * E;
      float mx = l[0];
      for (int64_t j = 1; j < E; ++j) mx = std::max(mx, l[j]);
      double sum = 0;
      for (int64_t j = 0; j < E; ++j) {
        p[static_cast<std::size_t>(j)] = std::exp(l[j] - mx);
        sum += p[static_cast<std::size_t>(j)];
      }
      const auto fsum = static_cast<float>(sum);
      for (auto& v : p) v /= fsum;
      for (int64_t j = 0; j < E; ++j) order[static_cast<std::size_t>(j)] = static_cast<int32_t>(j);
      std::partial_sort(order.begin(), order.begin() + K, order.end(), [&](int32_t a, int32_t b2) {
        const float pa = p[static_cast<std::size_t>(a)], pb = p[static_cast<std::size_t>(b2)];
        return pa != pb ? pa > pb : a < b2;
      });
      float total = 0;
      for (int64_t k = 0; k < K; ++k)
        total += p[static_cast<std::size_t>(order[static_cast<std::size_t>(k)])];
      for (int64_t k = 0; k < K; ++k) {
        const int32_t ex = order[static_cast<std::size_t>(k)];
        float wk = p[static_cast<std::size_t>(ex)];
        if (m.norm_topk_prob) wk /= total;
        chosen[static_cast<std::size_t>(r * K + k)] = ex;
        weight[static_cast<std::size_t>(r * K + k)] = c.rd(wk);
      }
    }
  });
  // Weights in top-k order (descending probability, ties to the lower id), as combined.
  sink.publish(sink.at(layer, Point::kRouterWeights), weight.data(), n, K, lc);
  std::fill(out, out + n * H, 0.0f);
  std::vector<float> xs, gu, act, y;
  std::vector<Location> where;
  std::vector<int32_t> cat;
  // Tokens per expert in one pass, in token order within each expert.
  std::vector<std::vector<int64_t>> rows_of(static_cast<std::size_t>(E));
  std::vector<std::vector<float>> wts_of(static_cast<std::size_t>(E));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t k = 0; k < K; ++k) {
      const auto ex = static_cast<std::size_t>(chosen[static_cast<std::size_t>(r * K + k)]);
      rows_of[ex].push_back(r);
      wts_of[ex].push_back(weight[static_cast<std::size_t>(r * K + k)]);
    }
  }
  for (int64_t ex = 0; ex < E; ++ex) {
    const std::vector<int64_t>& rows = rows_of[static_cast<std::size_t>(ex)];
    const std::vector<float>& wts = wts_of[static_cast<std::size_t>(ex)];
    if (rows.empty()) continue;
    sink.add_expert_load(layer, static_cast<int>(ex), rows.size());
    ensure_expert(c.model, mw, static_cast<int>(ex), c.rd);
    const auto ne = static_cast<int64_t>(rows.size());
    xs.resize(static_cast<std::size_t>(ne * H));
    where.resize(static_cast<std::size_t>(ne));
    cat.resize(static_cast<std::size_t>(ne));
    for (int64_t i = 0; i < ne; ++i) {
      const int64_t r = rows[static_cast<std::size_t>(i)];
      std::copy(x + r * H, x + (r + 1) * H, xs.begin() + i * H);
      where[static_cast<std::size_t>(i)] = lc[r];
      cat[static_cast<std::size_t>(i)] = cats != nullptr ? cats[r] : 0;
    }
    gu.resize(static_cast<std::size_t>(ne * 2 * I));
    project(c, xs.data(), ne, mw.gate_up[static_cast<std::size_t>(ex)], {}, gu.data());
    act.resize(static_cast<std::size_t>(ne * I));
    gate_and_up(c, gu.data(), ne, I, act.data());
    const int down_tap = sink.at(layer, Point::kExpertDownIn);
    sink.publish(down_tap, act.data(), ne, I, where.data(), cats != nullptr ? cat.data() : nullptr);
    if (sink.wants(down_tap)) {
      // This expert's largest |x|: rows are in window order, so the first one is the earliest.
      Located best;
      float best_abs = -1.0f;
      for (int64_t i = 0; i < ne * I; ++i) {
        const float a = std::fabs(act[static_cast<std::size_t>(i)]);
        if (std::isfinite(a) && a > best_abs) {
          best_abs = a;
          best.value = act[static_cast<std::size_t>(i)];
          best.loc = where[static_cast<std::size_t>(i / I)];
          best.loc.channel = static_cast<int32_t>(i % I);
        }
      }
      if (best_abs >= 0.0f) sink.add_expert_max(layer, static_cast<int>(ex), best);
    }
    y.resize(static_cast<std::size_t>(ne * H));
    project(c, act.data(), ne, mw.down[static_cast<std::size_t>(ex)], {}, y.data());
    // Each token appears at most once per expert: rows of this expert are distinct tokens.
    parallel_rows(c.pool, ne, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        float* o = out + rows[static_cast<std::size_t>(i)] * H;
        const float* yi = y.data() + i * H;
        const float wi = wts[static_cast<std::size_t>(i)];
        for (int64_t j = 0; j < H; ++j) o[j] = c.rd(o[j] + c.rd(yi[j] * wi));
      }
    });
  }
}

}  // namespace

void dense_layer_forward(const LayerContext& c, int layer, DenseLayerWeights& w,
                         const WindowRows& win, std::vector<float>& hv) {
  const ModelSpec& s = c.spec;
  const LayerSpec& L = s.layers[static_cast<std::size_t>(layer)];
  const AttentionSpec& a = s.attention;
  Sink& sink = c.sink;
  const int64_t T = win.tokens, H = s.hidden_size, I = L.intermediate;
  const int64_t hd = a.head_dim, nq = a.num_heads * hd, nkv = a.num_kv_heads * hd;
  const int64_t ldq = nq + 2 * nkv;
  const int64_t CH = std::max<int64_t>(1, c.chunk_rows);
  const Location* locs = win.locs.data();
  float* h = hv.data();

  std::vector<float> qkv(static_cast<std::size_t>(T * ldq));
  std::vector<float> xn(static_cast<std::size_t>(std::min(T, CH) * H));

  // Phase 1, token-wise: norm, q/k/v, q/k norms, RoPE.
  for (int64_t r0 = 0; r0 < T; r0 += CH) {
    const int64_t n = std::min(CH, T - r0);
    const Location* lc = locs + r0;
    norm(c, h + r0 * H, n, H, H, w.input_norm, xn.data(), H);
    sink.publish(sink.at(layer, Point::kInputNorm), xn.data(), n, H, lc);
    float* y = qkv.data() + r0 * ldq;
    project(c, xn.data(), n, w.qkv, w.qkv_bias, y);
    sink.publish(sink.at(layer, Point::kQkv), y, n, ldq, lc);
    sink.publish(sink.at(layer, Point::kQ), y, n, ldq, lc);
    sink.publish(sink.at(layer, Point::kK), y + nq, n, ldq, lc);
    sink.publish(sink.at(layer, Point::kV), y + nq + nkv, n, ldq, lc);
    if (a.qk_norm) {
      parallel_rows(c.pool, n, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
          float* row = y + r * ldq;
          rms_norm_rows(row, a.num_heads, hd, hd, w.q_norm.data(), s.norm, s.rms_norm_eps, c.rd,
                        row, hd);
          rms_norm_rows(row + nq, a.num_kv_heads, hd, hd, w.k_norm.data(), s.norm, s.rms_norm_eps,
                        c.rd, row + nq, hd);
        }
      });
      sink.publish(sink.at(layer, Point::kQNorm), y, n, ldq, lc);
      sink.publish(sink.at(layer, Point::kKNorm), y + nq, n, ldq, lc);
    }
    parallel_rows(c.pool, n, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t row = r0 + r;
        const auto seq = static_cast<std::size_t>(win.seq_of_row[static_cast<std::size_t>(row)]);
        const RopeTable& t = *win.rope[seq * static_cast<std::size_t>(win.rope_tables) +
                                       static_cast<std::size_t>(L.rope_table)];
        const int64_t pos = locs[row].position;
        apply_rope(y + r * ldq, 1, ldq, a.num_heads, static_cast<int>(hd), t, pos, c.rd);
        apply_rope(y + r * ldq + nq, 1, ldq, a.num_kv_heads, static_cast<int>(hd), t, pos, c.rd);
      }
    });
    sink.publish(sink.at(layer, Point::kKCache), y + nq, n, ldq, lc);
    sink.publish(sink.at(layer, Point::kVCache), y + nq + nkv, n, ldq, lc);
  }

  // Phase 2: attention, sequence by sequence.
  std::vector<float> o(static_cast<std::size_t>(T * nq));
  attention(a, L.sliding_window, qkv.data(), qkv.data() + nq, qkv.data() + nq + nkv, ldq, win.spans,
            c.rd, c.pool, o.data(), nq);
  qkv = {};

  // Phase 3, token-wise: o_proj, residual, the MLP's input norm, and a dense MLP with its
  // residual. An MoE layer only stores the normalised rows: phase 4 routes the whole window at
  // once, so each expert's GEMMs see every token of the window routed to it.
  const bool moe = L.mlp == MlpKind::kMoe;
  const int64_t m = std::min(T, CH);
  std::vector<float> att(static_cast<std::size_t>(m * H)), tmp(static_cast<std::size_t>(m * H));
  std::vector<float> gu(static_cast<std::size_t>(moe ? 0 : m * 2 * I));
  std::vector<float> act(static_cast<std::size_t>(moe ? 0 : m * I));
  std::vector<float> moe_in(static_cast<std::size_t>(moe ? T * H : 0));
  // Gemma 2/3 normalise each sub-block's output before its residual add (sandwich norms).
  auto sub_block_out = [&](const float* x, int64_t n, const Location* lc,
                           const std::vector<float>& norm_w, Point p) -> const float* {
    if (!s.sandwich_norms) return x;
    norm(c, x, n, H, H, norm_w, tmp.data(), H);
    sink.publish(sink.at(layer, p), tmp.data(), n, H, lc);
    return tmp.data();
  };
  // The MLP (or MoE) block's output y of rows [r0, r0 + n): published, residual added.
  auto mlp_residual = [&](const float* y, int64_t r0, int64_t n) {
    const Location* lc = locs + r0;
    float* hr = h + r0 * H;
    sink.publish(sink.at(layer, Point::kMlp), y, n, H, lc);
    add_residual(c, hr, sub_block_out(y, n, lc, w.post_ff_norm, Point::kPostFfNorm), n, H);
    sink.publish(sink.at(layer, Point::kLayer), hr, n, H, lc);
  };
  for (int64_t r0 = 0; r0 < T; r0 += CH) {
    const int64_t n = std::min(CH, T - r0);
    const Location* lc = locs + r0;
    float* hr = h + r0 * H;
    const float* orow = o.data() + r0 * nq;
    sink.publish(sink.at(layer, Point::kOProjIn), orow, n, nq, lc);
    project(c, orow, n, w.o, w.o_bias, att.data());
    sink.publish(sink.at(layer, Point::kAttn), att.data(), n, H, lc);
    add_residual(c, hr, sub_block_out(att.data(), n, lc, w.post_attn_norm, Point::kPostAttnNorm), n,
                 H);
    sink.publish(sink.at(layer, Point::kResidMid), hr, n, H, lc);
    float* x = moe ? moe_in.data() + r0 * H : xn.data();
    if (s.sandwich_norms) {
      norm(c, hr, n, H, H, w.pre_ff_norm, x, H);
      sink.publish(sink.at(layer, Point::kPreFfNorm), x, n, H, lc);
    } else {
      norm(c, hr, n, H, H, w.post_attn_norm, x, H);
      sink.publish(sink.at(layer, Point::kPostAttnNorm), x, n, H, lc);
    }
    if (moe) continue;
    project(c, x, n, w.gate_up, w.gate_up_bias, gu.data());
    sink.publish(sink.at(layer, Point::kGateUp), gu.data(), n, 2 * I, lc);
    sink.publish(sink.at(layer, Point::kGate), gu.data(), n, 2 * I, lc);
    sink.publish(sink.at(layer, Point::kUp), gu.data() + I, n, 2 * I, lc);
    gate_and_up(c, gu.data(), n, I, act.data());
    sink.publish(sink.at(layer, Point::kDownIn), act.data(), n, I, lc);
    project(c, act.data(), n, w.down, w.down_bias, att.data());
    mlp_residual(att.data(), r0, n);
  }
  if (!moe) return;

  // Phase 4: the MoE block over the window; phase 5, token-wise: its residual.
  std::vector<float> moe_out(static_cast<std::size_t>(T * H));
  moe_mlp(c, layer, w.moe, moe_in.data(), T, locs, sink.category_of_row(), moe_out.data());
  moe_in = {};
  for (int64_t r0 = 0; r0 < T; r0 += CH) {
    mlp_residual(moe_out.data() + r0 * H, r0, std::min(CH, T - r0));
  }
}

}  // namespace maxact::engine
