#include "engine/decoder_layer.h"

#include <algorithm>
#include <cmath>

#include "engine/attention_block.h"
#include "engine/linear_attn.h"
#include "engine/moe.h"

namespace maxact::engine {
namespace {

// Phase 3, token-wise in chunks: o_proj (attention layers), the mixer's residual, the MLP's input
// norm, and a dense MLP with its residual. An MoE layer only stores the normalised rows: phase 4
// routes the whole window at once, so each expert's GEMMs see every token of the window routed to
// it; phase 5 adds its residual token-wise.
class LayerTail {
 public:
  LayerTail(const LayerContext& c, int layer, LayerWeights& w, const WindowRows& win, float* h)
      : c_(c),
        s_(c.spec),
        L_(s_.layers[static_cast<std::size_t>(layer)]),
        w_(w),
        win_(win),
        h_(h),
        layer_(layer),
        T_(win.tokens),
        H_(s_.hidden_size),
        I_(L_.intermediate),
        CH_(std::max<int64_t>(1, c.chunk_rows)),
        moe_(L_.mlp == MlpKind::kMoe) {
    const int64_t m = std::min(T_, CH_);
    xn_.resize(static_cast<std::size_t>(m * H_));
    att_.resize(static_cast<std::size_t>(m * H_));
    tmp_.resize(static_cast<std::size_t>(m * H_));
    gu_.resize(static_cast<std::size_t>(moe_ ? 0 : m * 2 * I_));
    act_.resize(static_cast<std::size_t>(moe_ ? 0 : m * I_));
    moe_in_.resize(static_cast<std::size_t>(moe_ ? T_ * H_ : 0));
  }

  // o: attention's o_proj input [T, nq]; mixed: a Gated DeltaNet's output [T, H] (one is empty).
  void run(const std::vector<float>& o, const std::vector<float>& mixed) {
    for (int64_t r0 = 0; r0 < T_; r0 += CH_) {
      const int64_t n = std::min(CH_, T_ - r0);
      const float* mix = mixed.empty() ? o_proj(o, r0, n) : mixed.data() + r0 * H_;
      float* x = mixer_residual(mix, r0, n);
      if (!moe_) dense_mlp(x, r0, n);
    }
    if (moe_) routed_mlp();
  }

 private:
  const float* o_proj(const std::vector<float>& o, int64_t r0, int64_t n) {
    const int64_t nq = int64_t{s_.attention.num_heads} * s_.attention.head_dim;
    const float* orow = o.data() + r0 * nq;
    c_.sink.publish(c_.sink.at(layer_, TapPoint::kOProjIn), orow, n, nq, win_.locs.data() + r0);
    project(c_, orow, n, w_.o, w_.o_bias, att_.data());
    return att_.data();
  }

  // The mixer's output joins the residual stream; returns the MLP's normalised input rows.
  float* mixer_residual(const float* mix, int64_t r0, int64_t n) {
    Sink& sink = c_.sink;
    const Location* lc = win_.locs.data() + r0;
    float* hr = h_ + r0 * H_;
    sink.publish(sink.at(layer_, TapPoint::kAttn), mix, n, H_, lc);
    add_residual(c_, hr, sub_block_out(mix, n, lc, w_.post_attn_norm, TapPoint::kPostAttnNorm), n,
                 H_);
    sink.publish(sink.at(layer_, TapPoint::kResidMid), hr, n, H_, lc);
    float* x = moe_ ? moe_in_.data() + r0 * H_ : xn_.data();
    if (s_.sandwich_norms) {
      norm(c_, hr, n, H_, H_, w_.pre_ff_norm, x, H_);
      sink.publish(sink.at(layer_, TapPoint::kPreFfNorm), x, n, H_, lc);
    } else {
      norm(c_, hr, n, H_, H_, w_.post_attn_norm, x, H_);
      sink.publish(sink.at(layer_, TapPoint::kPostAttnNorm), x, n, H_, lc);
    }
    return x;
  }

  void dense_mlp(const float* x, int64_t r0, int64_t n) {
    Sink& sink = c_.sink;
    const Location* lc = win_.locs.data() + r0;
    project(c_, x, n, w_.mlp.gate_up, w_.mlp.gate_up_bias, gu_.data());
    if (L_.mlp == MlpKind::kDenseFusedGateUp) {
      sink.publish(sink.at(layer_, TapPoint::kGateUp), gu_.data(), n, 2 * I_, lc);
    } else {
      sink.publish(sink.at(layer_, TapPoint::kGate), gu_.data(), n, 2 * I_, lc);
      sink.publish(sink.at(layer_, TapPoint::kUp), gu_.data() + I_, n, 2 * I_, lc);
    }
    gate_and_up(c_, gu_.data(), n, I_, act_.data());
    sink.publish(sink.at(layer_, TapPoint::kDownIn), act_.data(), n, I_, lc);
    project(c_, act_.data(), n, w_.mlp.down, w_.mlp.down_bias, att_.data());
    mlp_residual(att_.data(), r0, n);
  }

  // Phases 4 and 5.
  void routed_mlp() {
    std::vector<float> out(static_cast<std::size_t>(T_ * H_));
    moe_block(c_, layer_, w_.moe, moe_in_.data(), T_, win_.locs.data(), c_.sink.category_of_row(),
              out.data());
    moe_in_ = {};
    for (int64_t r0 = 0; r0 < T_; r0 += CH_) {
      mlp_residual(out.data() + r0 * H_, r0, std::min(CH_, T_ - r0));
    }
  }

  // Gemma 2/3 normalise each sub-block's output before its residual add (sandwich norms).
  const float* sub_block_out(const float* x, int64_t n, const Location* lc,
                             const std::vector<float>& norm_w, TapPoint p) {
    if (!s_.sandwich_norms) return x;
    norm(c_, x, n, H_, H_, norm_w, tmp_.data(), H_);
    c_.sink.publish(c_.sink.at(layer_, p), tmp_.data(), n, H_, lc);
    return tmp_.data();
  }

  // The MLP (or MoE) block's output y of rows [r0, r0 + n): published, residual added.
  void mlp_residual(const float* y, int64_t r0, int64_t n) {
    Sink& sink = c_.sink;
    const Location* lc = win_.locs.data() + r0;
    float* hr = h_ + r0 * H_;
    sink.publish(sink.at(layer_, TapPoint::kMlp), y, n, H_, lc);
    add_residual(c_, hr, sub_block_out(y, n, lc, w_.post_ff_norm, TapPoint::kPostFfNorm), n, H_);
    sink.publish(sink.at(layer_, TapPoint::kLayer), hr, n, H_, lc);
  }

  const LayerContext& c_;
  const ModelSpec& s_;
  const LayerSpec& L_;
  LayerWeights& w_;
  const WindowRows& win_;
  float* h_;
  const int layer_;
  const int64_t T_, H_, I_, CH_;
  const bool moe_;
  std::vector<float> xn_, att_, tmp_, gu_, act_, moe_in_;
};

}  // namespace

void decoder_layer_forward(const LayerContext& c, int layer, LayerWeights& w, const WindowRows& win,
                           std::vector<float>& hv) {
  const ModelSpec& s = c.spec;
  const int64_t T = win.tokens, H = s.hidden_size;
  // The token mixer over the window: attention leaves o_proj's input (applied token-wise in
  // phase 3), a Gated DeltaNet layer its whole output.
  std::vector<float> o, mixed;
  if (s.layers[static_cast<std::size_t>(layer)].mixer == MixerKind::kGatedDeltaNet) {
    std::vector<float> x(static_cast<std::size_t>(T * H));
    norm(c, hv.data(), T, H, H, w.input_norm, x.data(), H);
    c.sink.publish(c.sink.at(layer, TapPoint::kInputNorm), x.data(), T, H, win.locs.data());
    mixed.resize(static_cast<std::size_t>(T * H));
    linear_attention(c, layer, w.linear, win, x.data(), mixed.data());
  } else {
    o = attention_block(c, layer, w, win, hv.data());
  }
  LayerTail(c, layer, w, win, hv.data()).run(o, mixed);
}

}  // namespace maxact::engine
