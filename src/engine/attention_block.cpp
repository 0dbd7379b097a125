#include "engine/attention_block.h"

#include "engine/phase_timer.h"

#include <algorithm>

namespace maxact::engine {
namespace {

class AttentionBlock {
 public:
  AttentionBlock(const LayerContext& c, int layer, const LayerWeights& w, const WindowRows& win)
      : c_(c),
        s_(c.spec),
        a_(s_.attention),
        L_(s_.layers[static_cast<std::size_t>(layer)]),
        w_(w),
        win_(win),
        layer_(layer),
        T_(win.tokens),
        H_(s_.hidden_size),
        hd_(a_.head_dim),
        nq_(a_.num_heads * hd_),
        nkv_(a_.num_kv_heads * hd_),
        ldq_(nq_ + 2 * nkv_),
        gated_(a_.output_gate),
        qw_(gated_ ? 2 * nq_ : nq_),
        ldp_(qw_ + 2 * nkv_),
        CH_(std::max<int64_t>(1, c.chunk_rows)),
        qkv_(static_cast<std::size_t>(T_ * ldq_)),
        gate_(static_cast<std::size_t>(gated_ ? T_ * nq_ : 0)) {}

  std::vector<float> run(const float* h) {
    std::vector<float> xn(static_cast<std::size_t>(std::min(T_, CH_) * H_));
    std::vector<float> proj(static_cast<std::size_t>(gated_ ? std::min(T_, CH_) * ldp_ : 0));
    for (int64_t r0 = 0; r0 < T_; r0 += CH_) qkv_chunk(h, r0, std::min(CH_, T_ - r0), xn, proj);
    return attend();
  }

 private:
  // Rows [r0, r0 + n): norm, projections (published as the modules return them), q/k norms,
  // RoPE; the KV cache taps are k and v as attention reads them.
  void qkv_chunk(const float* h, int64_t r0, int64_t n, std::vector<float>& xn,
                 std::vector<float>& proj) {
    Sink& sink = c_.sink;
    const Location* lc = win_.locs.data() + r0;
    norm(c_, h + r0 * H_, n, H_, H_, w_.input_norm, xn.data(), H_);
    sink.publish(sink.at(layer_, TapPoint::kInputNorm), xn.data(), n, H_, lc);
    float* y = qkv_.data() + r0 * ldq_;
    // qwen3_next / qwen3.5: q_proj returns [q_h | gate_h] per head; q goes to the q|k|v rows,
    // the gate aside.
    float* p = gated_ ? proj.data() : y;
    project(c_, xn.data(), n, w_.qkv, w_.qkv_bias, p);
    if (a_.fused_qkv) {
      sink.publish(sink.at(layer_, TapPoint::kQkv), p, n, ldp_, lc);
    } else {
      sink.publish(sink.at(layer_, TapPoint::kQ), p, n, ldp_, lc);
      sink.publish(sink.at(layer_, TapPoint::kK), p + qw_, n, ldp_, lc);
      sink.publish(sink.at(layer_, TapPoint::kV), p + qw_ + nkv_, n, ldp_, lc);
    }
    if (gated_) split_gate(p, y, r0, n);
    if (a_.qk_norm) {
      parallel_rows(c_.pool, n, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
          float* row = y + r * ldq_;
          rms_norm_rows(row, a_.num_heads, hd_, hd_, w_.q_norm.data(), s_.norm, s_.rms_norm_eps,
                        c_.rd, row, hd_);
          rms_norm_rows(row + nq_, a_.num_kv_heads, hd_, hd_, w_.k_norm.data(), s_.norm,
                        s_.rms_norm_eps, c_.rd, row + nq_, hd_);
        }
      });
      sink.publish(sink.at(layer_, TapPoint::kQNorm), y, n, ldq_, lc);
      sink.publish(sink.at(layer_, TapPoint::kKNorm), y + nq_, n, ldq_, lc);
    }
    rope(y, r0, n);
    sink.publish(sink.at(layer_, TapPoint::kKCache), y + nq_, n, ldq_, lc);
    sink.publish(sink.at(layer_, TapPoint::kVCache), y + nq_ + nkv_, n, ldq_, lc);
  }

  void split_gate(const float* p, float* y, int64_t r0, int64_t n) {
    parallel_rows(c_.pool, n, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const float* src = p + r * ldp_;
        float* dst = y + r * ldq_;
        float* g = gate_.data() + (r0 + r) * nq_;
        for (int64_t head = 0; head < a_.num_heads; ++head) {
          std::copy(src + head * 2 * hd_, src + head * 2 * hd_ + hd_, dst + head * hd_);
          std::copy(src + head * 2 * hd_ + hd_, src + (head + 1) * 2 * hd_, g + head * hd_);
        }
        std::copy(src + qw_, src + ldp_, dst + nq_);
      }
    });
  }

  void rope(float* y, int64_t r0, int64_t n) {
    parallel_rows(c_.pool, n, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const auto row = static_cast<std::size_t>(r0 + r);
        const auto seq = static_cast<std::size_t>(win_.seq_of_row[row]);
        const RopeTable& t = *win_.rope[seq * static_cast<std::size_t>(win_.rope_tables) +
                                        static_cast<std::size_t>(L_.rope_table)];
        const int64_t pos = win_.locs[row].position;
        apply_rope(y + r * ldq_, 1, ldq_, a_.num_heads, static_cast<int>(hd_), t, pos, c_.rd);
        apply_rope(y + r * ldq_ + nq_, 1, ldq_, a_.num_kv_heads, static_cast<int>(hd_), t, pos,
                   c_.rd);
      }
    });
  }

  // Phase 2: attention per sequence, then the output gate O = D(O · D(σ(gate))).
  std::vector<float> attend() {
    // Bailing v1 scales q before q kᵀ (its own rounding), so the logits are not scaled again.
    AttentionSpec as = a_;
    if (a_.scale_q_first) {
      const auto scale = static_cast<float>(a_.scale);
      parallel_rows(c_.pool, T_, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
          float* q = qkv_.data() + r * ldq_;
          for (int64_t j = 0; j < nq_; ++j) q[j] = c_.rd(q[j] * scale);
        }
      });
      as.scale = 1.0;
    }
    std::vector<float> o(static_cast<std::size_t>(T_ * nq_));
    const PhaseTimer timer(ScanPhase::kAttention);
    attention(as, L_.sliding_window, qkv_.data(), qkv_.data() + nq_, qkv_.data() + nq_ + nkv_, ldq_,
              w_.sinks.empty() ? nullptr : w_.sinks.data(), win_.spans, c_.rd, c_.pool, o.data(),
              nq_);
    if (gated_) {
      parallel_rows(c_.pool, T_, [&](int64_t b, int64_t e) {
        for (int64_t i = b * nq_; i < e * nq_; ++i) {
          const float sg = c_.rd(sigmoid(gate_[static_cast<std::size_t>(i)]));
          o[static_cast<std::size_t>(i)] = c_.rd(o[static_cast<std::size_t>(i)] * sg);
        }
      });
    }
    return o;
  }

  const LayerContext& c_;
  const ModelSpec& s_;
  const AttentionSpec& a_;
  const LayerSpec& L_;
  const LayerWeights& w_;
  const WindowRows& win_;
  const int layer_;
  const int64_t T_, H_, hd_, nq_, nkv_, ldq_;
  const bool gated_;
  const int64_t qw_, ldp_, CH_;
  std::vector<float> qkv_, gate_;
};

}  // namespace

std::vector<float> attention_block(const LayerContext& c, int layer, const LayerWeights& w,
                                   const WindowRows& win, const float* h) {
  return AttentionBlock(c, layer, w, win).run(h);
}

}  // namespace maxact::engine
