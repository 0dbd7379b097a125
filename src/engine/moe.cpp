#include "engine/moe.h"

#include "engine/phase_timer.h"
#include "engine/routers.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace maxact::engine {
namespace {

// The largest |x| of an expert's down-projection input, earliest on ties (rows are in window
// order).
void publish_expert_max(Sink& sink, int layer, int expert, const std::vector<float>& act, int64_t I,
                        const std::vector<Location>& where) {
  Located best;
  float best_abs = -1.0f;
  for (std::size_t i = 0; i < act.size(); ++i) {
    const float a = std::fabs(act[i]);
    if (std::isfinite(a) && a > best_abs) {
      best_abs = a;
      best.value = act[i];
      best.loc = where[i / static_cast<std::size_t>(I)];
      best.loc.channel = static_cast<int32_t>(static_cast<int64_t>(i) % I);
    }
  }
  if (best_abs >= 0.0f) sink.add_expert_max(layer, expert, best);
}

// out = D(out + shared(x)) (Ling), or D(out + D(D(σ(x · w_gate)) · shared(x))) (Qwen): the shared
// expert on every row, its taps published (its output ungated, as a hook on it sees it).
void shared_expert(const LayerContext& c, int layer, const MoeWeights& mw, const float* x,
                   int64_t n, const Location* lc, float* out) {
  const MlpWeights& w = mw.shared;
  const int64_t H = c.spec.hidden_size, I = c.spec.moe.shared_intermediate;
  Sink& sink = c.sink;
  std::vector<float> gu(static_cast<std::size_t>(n * 2 * I)), act(static_cast<std::size_t>(n * I));
  project(c, x, n, w.gate_up, w.gate_up_bias, gu.data());
  gate_and_up(c, gu.data(), n, I, act.data());
  gu = {};
  sink.publish(sink.at(layer, TapPoint::kSharedDownIn), act.data(), n, I, lc);
  std::vector<float> y(static_cast<std::size_t>(n * H));
  project(c, act.data(), n, w.down, w.down_bias, y.data());
  sink.publish(sink.at(layer, TapPoint::kSharedOut), y.data(), n, H, lc);
  if (!mw.shared_gate.empty()) {
    std::vector<float> gate(static_cast<std::size_t>(n));
    project(c, x, n, mw.shared_gate, {}, gate.data());
    sink.publish(sink.at(layer, TapPoint::kSharedGate), gate.data(), n, 1, lc);
    parallel_rows(c.pool, n, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const float g = c.rd(sigmoid(gate[static_cast<std::size_t>(r)]));
        for (int64_t j = 0; j < H; ++j)
          y[static_cast<std::size_t>(r * H + j)] = c.rd(g * y[static_cast<std::size_t>(r * H + j)]);
      }
    });
  }
  add_residual(c, out, y.data(), n, H);
}

// The tokens routed to one expert, in token order, with their routing weights.
struct ExpertRows {
  std::vector<int64_t> rows;
  std::vector<float> weights;
};

std::vector<ExpertRows> rows_by_expert(const Routing& rt, int64_t n, int64_t E, int64_t K) {
  std::vector<ExpertRows> out(static_cast<std::size_t>(E));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t k = 0; k < K; ++k) {
      ExpertRows& e = out[static_cast<std::size_t>(rt.chosen[static_cast<std::size_t>(r * K + k)])];
      e.rows.push_back(r);
      e.weights.push_back(rt.weight[static_cast<std::size_t>(r * K + k)]);
    }
  }
  return out;
}

// Buffers reused from expert to expert.
struct ExpertScratch {
  std::vector<float> xs, gu, act, y;
  std::vector<Location> where;
  std::vector<int32_t> cat;
};

// y = D(expert(x)) on the expert's rows: gate_up (gpt-oss: with bias, then its clamped GLU;
// otherwise the gated activation), the down projection's input published, down.
void expert_forward(const LayerContext& c, int layer, const MoeWeights& mw, int expert, int64_t ne,
                    const int32_t* cats, ExpertScratch& s) {
  const MoeSpec& m = c.spec.moe;
  const int64_t H = c.spec.hidden_size, I = m.intermediate;
  const auto e = static_cast<std::size_t>(expert);
  const bool gpt_oss = gpt_oss_storage(m.storage);
  s.gu.resize(static_cast<std::size_t>(ne * 2 * I));
  s.act.resize(static_cast<std::size_t>(ne * I));
  s.y.resize(static_cast<std::size_t>(ne * H));
  project(c, s.xs.data(), ne, mw.gate_up[e], {}, s.gu.data());
  if (gpt_oss) {
    add_bias_rows(c, s.gu.data(), ne, mw.gate_up_bias[e]);
    const auto limit = static_cast<float>(m.swiglu_limit);
    parallel_rows(c.pool, ne, [&](int64_t b, int64_t end) {
      clamped_swiglu(s.gu.data() + b * 2 * I, s.gu.data() + b * 2 * I + I, end - b, I, 2 * I, limit,
                     c.rd, s.act.data() + b * I);
    });
  } else {
    gate_and_up(c, s.gu.data(), ne, I, s.act.data());
  }
  Sink& sink = c.sink;
  const int down_tap = sink.at(layer, TapPoint::kExpertDownIn);
  sink.publish(down_tap, s.act.data(), ne, I, s.where.data(),
               cats != nullptr ? s.cat.data() : nullptr);
  if (sink.wants(down_tap)) publish_expert_max(sink, layer, expert, s.act, I, s.where);
  sink.add_expert_inputs(layer, expert, true, s.act.data(), ne, I);
  project(c, s.act.data(), ne, mw.down[e], {}, s.y.data());
  if (gpt_oss) add_bias_rows(c, s.y.data(), ne, mw.down_bias[e]);
}

// out[row] combined with y · w for the expert's rows (distinct tokens: no two threads write one
// row).
void combine(const LayerContext& c, const ExpertRows& er, const std::vector<float>& y, float* out) {
  const int64_t H = c.spec.hidden_size;
  const CombineKind kind = c.spec.moe.combine;
  parallel_rows(c.pool, static_cast<int64_t>(er.rows.size()), [&](int64_t b, int64_t end) {
    for (int64_t i = b; i < end; ++i) {
      float* o = out + er.rows[static_cast<std::size_t>(i)] * H;
      const float* yi = y.data() + i * H;
      const float wi = er.weights[static_cast<std::size_t>(i)];
      switch (kind) {
        case CombineKind::kExpertOrderInDtype:
          for (int64_t j = 0; j < H; ++j) o[j] = c.rd(o[j] + c.rd(yi[j] * wi));
          break;
        case CombineKind::kFp32OverSlots:
          for (int64_t j = 0; j < H; ++j) o[j] += yi[j] * wi;
          break;
        case CombineKind::kFp32OverAllExperts:
          for (int64_t j = 0; j < H; ++j) o[j] += c.rd(yi[j] * wi);
          break;
      }
    }
  });
}

}  // namespace

// Every expert runs once on the tokens routed to it, in ascending expert id. Combine C1 (HF's
// loop): out += D(y · w) in D. C2 (bailing): Σ of y · w in fp32 with fp32 weights, rounded once;
// HF sums over the k slots in top-k order, maxact in expert order (fp32 reassociation before the
// one rounding). C3 (gpt-oss inference path): Σ over experts of D(y · w) in fp32, rounded once.
// A shared expert (Ling; Qwen's behind its sigmoid gate) then adds its output in D.
void moe_block(const LayerContext& c, int layer, MoeWeights& mw, const float* x, int64_t n,
               const Location* lc, const int32_t* cats, float* out) {
  const ModelSpec& s = c.spec;
  const MoeSpec& m = s.moe;
  const int64_t H = s.hidden_size, E = m.num_experts, K = m.top_k;
  Sink& sink = c.sink;
  std::vector<float> logits(static_cast<std::size_t>(n * E));
  if (m.router_fp32) {
    const PhaseTimer timer(ScanPhase::kLinear);
    linear_packed(c.pool, x, n, mw.router, nullptr, logits.data());
  } else {
    project(c, x, n, mw.router, mw.router_bias, logits.data());
  }
  sink.publish(sink.at(layer, TapPoint::kRouter), logits.data(), n, E, lc);
  const Routing rt = route(c, logits.data(), n, mw.expert_bias);
  logits = {};
  // Weights in top-k order (descending score, ties to the lower id), as combined.
  sink.publish(sink.at(layer, TapPoint::kRouterWeights), rt.weight.data(), n, K, lc);
  std::fill(out, out + n * H, 0.0f);
  const std::vector<ExpertRows> by_expert = rows_by_expert(rt, n, E, K);
  ExpertScratch scratch;
  for (int64_t ex = 0; ex < E; ++ex) {
    const ExpertRows& er = by_expert[static_cast<std::size_t>(ex)];
    if (er.rows.empty()) continue;
    sink.add_expert_load(layer, static_cast<int>(ex), er.rows.size());
    ensure_expert(c.model, mw, static_cast<int>(ex), c.rd);
    const auto ne = static_cast<int64_t>(er.rows.size());
    scratch.xs.resize(static_cast<std::size_t>(ne * H));
    scratch.where.resize(static_cast<std::size_t>(ne));
    scratch.cat.resize(static_cast<std::size_t>(ne));
    for (int64_t i = 0; i < ne; ++i) {
      const int64_t r = er.rows[static_cast<std::size_t>(i)];
      std::copy(x + r * H, x + (r + 1) * H, scratch.xs.begin() + i * H);
      scratch.where[static_cast<std::size_t>(i)] = lc[r];
      scratch.cat[static_cast<std::size_t>(i)] = cats != nullptr ? cats[r] : 0;
    }
    sink.add_expert_inputs(layer, static_cast<int>(ex), false, scratch.xs.data(), ne, H);
    expert_forward(c, layer, mw, static_cast<int>(ex), ne, cats, scratch);
    combine(c, er, scratch.y, out);
  }
  if (m.combine != CombineKind::kExpertOrderInDtype && c.rd.bf16) {
    parallel_rows(c.pool, n, [&](int64_t b, int64_t e) { c.rd.apply(out + b * H, (e - b) * H); });
  }
  if (m.shared_intermediate > 0) shared_expert(c, layer, mw, x, n, lc, out);
}

}  // namespace maxact::engine
