#include "engine/decoder_layer.h"

#include <algorithm>
#include <cmath>

#include "engine/linear_attn.h"
#include "engine/moe.h"

namespace maxact::engine {

namespace {

// Phases 1 and 2 of an attention layer: o [T, nq], the input of o_proj. Token-wise norm, q/k/v,
// q/k norms, RoPE; then attention sequence by sequence; then the output gate if any.
std::vector<float> attention_block(const LayerContext& c, int layer, const LayerWeights& w,
                                   const WindowRows& win, const float* h) {
  const ModelSpec& s = c.spec;
  const LayerSpec& L = s.layers[static_cast<std::size_t>(layer)];
  const AttentionSpec& a = s.attention;
  Sink& sink = c.sink;
  const int64_t T = win.tokens, H = s.hidden_size;
  const int64_t hd = a.head_dim, nq = a.num_heads * hd, nkv = a.num_kv_heads * hd;
  const int64_t ldq = nq + 2 * nkv;
  // qwen3_next / qwen3.5: q_proj returns [q_h | gate_h] per head; q goes to the q|k|v rows, the
  // gate aside.
  const bool gated = a.output_gate;
  const int64_t qw = gated ? 2 * nq : nq, ldp = qw + 2 * nkv;
  const int64_t CH = std::max<int64_t>(1, c.chunk_rows);
  const Location* locs = win.locs.data();
  std::vector<float> qkv(static_cast<std::size_t>(T * ldq));
  std::vector<float> gate(static_cast<std::size_t>(gated ? T * nq : 0));
  std::vector<float> xn(static_cast<std::size_t>(std::min(T, CH) * H));
  std::vector<float> proj(static_cast<std::size_t>(gated ? std::min(T, CH) * ldp : 0));

  for (int64_t r0 = 0; r0 < T; r0 += CH) {
    const int64_t n = std::min(CH, T - r0);
    const Location* lc = locs + r0;
    norm(c, h + r0 * H, n, H, H, w.input_norm, xn.data(), H);
    sink.publish(sink.at(layer, TapPoint::kInputNorm), xn.data(), n, H, lc);
    float* y = qkv.data() + r0 * ldq;
    float* p = gated ? proj.data() : y;
    project(c, xn.data(), n, w.qkv, w.qkv_bias, p);
    if (a.fused_qkv) {
      sink.publish(sink.at(layer, TapPoint::kQkv), p, n, ldp, lc);
    } else {
      sink.publish(sink.at(layer, TapPoint::kQ), p, n, ldp, lc);
      sink.publish(sink.at(layer, TapPoint::kK), p + qw, n, ldp, lc);
      sink.publish(sink.at(layer, TapPoint::kV), p + qw + nkv, n, ldp, lc);
    }
    if (gated) {
      parallel_rows(c.pool, n, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
          const float* src = p + r * ldp;
          float* dst = y + r * ldq;
          float* g = gate.data() + (r0 + r) * nq;
          for (int64_t head = 0; head < a.num_heads; ++head) {
            std::copy(src + head * 2 * hd, src + head * 2 * hd + hd, dst + head * hd);
            std::copy(src + head * 2 * hd + hd, src + (head + 1) * 2 * hd, g + head * hd);
          }
          std::copy(src + qw, src + ldp, dst + nq);
        }
      });
    }
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
      sink.publish(sink.at(layer, TapPoint::kQNorm), y, n, ldq, lc);
      sink.publish(sink.at(layer, TapPoint::kKNorm), y + nq, n, ldq, lc);
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
    sink.publish(sink.at(layer, TapPoint::kKCache), y + nq, n, ldq, lc);
    sink.publish(sink.at(layer, TapPoint::kVCache), y + nq + nkv, n, ldq, lc);
  }

  // Bailing v1 scales q before q kᵀ (its own rounding), so the logits are not scaled again.
  AttentionSpec as = a;
  if (a.scale_q_first) {
    const auto scale = static_cast<float>(a.scale);
    parallel_rows(c.pool, T, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        float* q = qkv.data() + r * ldq;
        for (int64_t j = 0; j < nq; ++j) q[j] = c.rd(q[j] * scale);
      }
    });
    as.scale = 1.0;
  }
  std::vector<float> o(static_cast<std::size_t>(T * nq));
  attention(as, L.sliding_window, qkv.data(), qkv.data() + nq, qkv.data() + nq + nkv, ldq,
            w.sinks.empty() ? nullptr : w.sinks.data(), win.spans, c.rd, c.pool, o.data(), nq);
  if (gated) {  // O = D(O · D(σ(gate)))
    parallel_rows(c.pool, T, [&](int64_t b, int64_t e) {
      for (int64_t i = b * nq; i < e * nq; ++i) {
        const float sg = c.rd(sigmoid(gate[static_cast<std::size_t>(i)]));
        o[static_cast<std::size_t>(i)] = c.rd(o[static_cast<std::size_t>(i)] * sg);
      }
    });
  }
  return o;
}

}  // namespace

void decoder_layer_forward(const LayerContext& c, int layer, LayerWeights& w, const WindowRows& win,
                           std::vector<float>& hv) {
  const ModelSpec& s = c.spec;
  const LayerSpec& L = s.layers[static_cast<std::size_t>(layer)];
  const AttentionSpec& a = s.attention;
  Sink& sink = c.sink;
  const int64_t T = win.tokens, H = s.hidden_size, I = L.intermediate;
  const int64_t nq = int64_t{a.num_heads} * a.head_dim;
  const int64_t CH = std::max<int64_t>(1, c.chunk_rows);
  const Location* locs = win.locs.data();
  float* h = hv.data();
  std::vector<float> xn(static_cast<std::size_t>(std::min(T, CH) * H));

  // The token mixer over the window: attention leaves o_proj's input (applied token-wise in
  // phase 3), a Gated DeltaNet layer its whole output.
  const bool linear = L.mixer == MixerKind::kGatedDeltaNet;
  std::vector<float> o, mixed;
  if (linear) {
    std::vector<float> x(static_cast<std::size_t>(T * H));
    norm(c, h, T, H, H, w.input_norm, x.data(), H);
    sink.publish(sink.at(layer, TapPoint::kInputNorm), x.data(), T, H, locs);
    mixed.resize(static_cast<std::size_t>(T * H));
    linear_attention(c, layer, w.linear, win, x.data(), mixed.data());
  } else {
    o = attention_block(c, layer, w, win, h);
  }

  // Phase 3, token-wise: o_proj (attention layers), residual, the MLP's input norm, and a dense MLP
  // with its residual. An MoE layer only stores the normalised rows: phase 4 routes the whole
  // window at once, so each expert's GEMMs see every token of the window routed to it.
  const bool moe = L.mlp == MlpKind::kMoe;
  const int64_t m = std::min(T, CH);
  std::vector<float> att(static_cast<std::size_t>(m * H)), tmp(static_cast<std::size_t>(m * H));
  std::vector<float> gu(static_cast<std::size_t>(moe ? 0 : m * 2 * I));
  std::vector<float> act(static_cast<std::size_t>(moe ? 0 : m * I));
  std::vector<float> moe_in(static_cast<std::size_t>(moe ? T * H : 0));
  // Gemma 2/3 normalise each sub-block's output before its residual add (sandwich norms).
  auto sub_block_out = [&](const float* x, int64_t n, const Location* lc,
                           const std::vector<float>& norm_w, TapPoint p) -> const float* {
    if (!s.sandwich_norms) return x;
    norm(c, x, n, H, H, norm_w, tmp.data(), H);
    sink.publish(sink.at(layer, p), tmp.data(), n, H, lc);
    return tmp.data();
  };
  // The MLP (or MoE) block's output y of rows [r0, r0 + n): published, residual added.
  auto mlp_residual = [&](const float* y, int64_t r0, int64_t n) {
    const Location* lc = locs + r0;
    float* hr = h + r0 * H;
    sink.publish(sink.at(layer, TapPoint::kMlp), y, n, H, lc);
    add_residual(c, hr, sub_block_out(y, n, lc, w.post_ff_norm, TapPoint::kPostFfNorm), n, H);
    sink.publish(sink.at(layer, TapPoint::kLayer), hr, n, H, lc);
  };
  for (int64_t r0 = 0; r0 < T; r0 += CH) {
    const int64_t n = std::min(CH, T - r0);
    const Location* lc = locs + r0;
    float* hr = h + r0 * H;
    const float* mix = att.data();
    if (linear) {
      mix = mixed.data() + r0 * H;
    } else {
      const float* orow = o.data() + r0 * nq;
      sink.publish(sink.at(layer, TapPoint::kOProjIn), orow, n, nq, lc);
      project(c, orow, n, w.o, w.o_bias, att.data());
    }
    sink.publish(sink.at(layer, TapPoint::kAttn), mix, n, H, lc);
    add_residual(c, hr, sub_block_out(mix, n, lc, w.post_attn_norm, TapPoint::kPostAttnNorm), n, H);
    sink.publish(sink.at(layer, TapPoint::kResidMid), hr, n, H, lc);
    float* x = moe ? moe_in.data() + r0 * H : xn.data();
    if (s.sandwich_norms) {
      norm(c, hr, n, H, H, w.pre_ff_norm, x, H);
      sink.publish(sink.at(layer, TapPoint::kPreFfNorm), x, n, H, lc);
    } else {
      norm(c, hr, n, H, H, w.post_attn_norm, x, H);
      sink.publish(sink.at(layer, TapPoint::kPostAttnNorm), x, n, H, lc);
    }
    if (moe) continue;
    project(c, x, n, w.mlp.gate_up, w.mlp.gate_up_bias, gu.data());
    if (L.mlp == MlpKind::kDenseFusedGateUp) {
      sink.publish(sink.at(layer, TapPoint::kGateUp), gu.data(), n, 2 * I, lc);
    } else {
      sink.publish(sink.at(layer, TapPoint::kGate), gu.data(), n, 2 * I, lc);
      sink.publish(sink.at(layer, TapPoint::kUp), gu.data() + I, n, 2 * I, lc);
    }
    gate_and_up(c, gu.data(), n, I, act.data());
    sink.publish(sink.at(layer, TapPoint::kDownIn), act.data(), n, I, lc);
    project(c, act.data(), n, w.mlp.down, w.mlp.down_bias, att.data());
    mlp_residual(att.data(), r0, n);
  }
  if (!moe) return;

  // Phase 4: the MoE block over the window; phase 5, token-wise: its residual.
  std::vector<float> moe_out(static_cast<std::size_t>(T * H));
  moe_block(c, layer, w.moe, moe_in.data(), T, locs, sink.category_of_row(), moe_out.data());
  moe_in = {};
  for (int64_t r0 = 0; r0 < T; r0 += CH) {
    mlp_residual(moe_out.data() + r0 * H, r0, std::min(CH, T - r0));
  }
}

}  // namespace maxact::engine
