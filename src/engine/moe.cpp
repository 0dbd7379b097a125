#include "engine/moe.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace maxact::engine {
namespace {

// Each token's k experts and their weights, in top-k order.
struct Routing {
  std::vector<int32_t> chosen;
  std::vector<float> weight;
};

// Ids 0..E-1 ordered by descending score, ties to the lower id, into order[0, k).
void top_k(const float* score, int64_t E, int64_t K, std::vector<int32_t>& order) {
  for (int64_t j = 0; j < E; ++j) order[static_cast<std::size_t>(j)] = static_cast<int32_t>(j);
  std::partial_sort(order.begin(), order.begin() + K, order.begin() + E, [&](int32_t a, int32_t b) {
    return score[a] != score[b] ? score[a] > score[b] : a < b;
  });
}

// out = softmax(x) over n values in fp32 (the max subtracted first, the sum in double).
void softmax(const float* x, int64_t n, float* out) {
  const float mx = *std::max_element(x, x + n);
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += out[j] = std::exp(x[j] - mx);
  const auto fsum = static_cast<float>(sum);
  for (int64_t j = 0; j < n; ++j) out[j] /= fsum;
}

// Weights are rounded to D for HF's loop combine (C1); the other combines multiply by the fp32
// weights.
float routing_weight(const LayerContext& c, float w) {
  return c.spec.moe.combine == CombineKind::kExpertOrderInDtype ? c.rd(w) : w;
}

// R1 (mixtral, qwen3_moe, bailing v1): softmax in fp32 over all experts, top-k, optional
// renormalisation in fp32.
void route_softmax_topk(const LayerContext& c, const float* logits, int64_t n, Routing& r) {
  const MoeSpec& m = c.spec.moe;
  const int64_t E = m.num_experts, K = m.top_k;
  parallel_rows(c.pool, n, [&](int64_t b, int64_t e) {
    std::vector<float> p(static_cast<std::size_t>(E));
    std::vector<int32_t> order(static_cast<std::size_t>(E));
    for (int64_t row = b; row < e; ++row) {
      softmax(logits + row * E, E, p.data());
      top_k(p.data(), E, K, order);
      float total = 0;
      for (int64_t k = 0; k < K; ++k) total += p[static_cast<std::size_t>(order[k])];
      for (int64_t k = 0; k < K; ++k) {
        const int32_t ex = order[static_cast<std::size_t>(k)];
        float wk = p[static_cast<std::size_t>(ex)];
        if (m.norm_topk_prob) wk /= total;
        r.chosen[static_cast<std::size_t>(row * K + k)] = ex;
        r.weight[static_cast<std::size_t>(row * K + k)] = routing_weight(c, wk);
      }
    }
  });
}

// R2 (gpt-oss): top-k of the D logits (ties to the lower id), softmax over those k in fp32,
// weights rounded to D.
void route_topk_softmax(const LayerContext& c, const float* logits, int64_t n, Routing& r) {
  const MoeSpec& m = c.spec.moe;
  const int64_t E = m.num_experts, K = m.top_k;
  parallel_rows(c.pool, n, [&](int64_t b, int64_t e) {
    std::vector<int32_t> order(static_cast<std::size_t>(E));
    std::vector<float> top(static_cast<std::size_t>(K)), p(top.size());
    for (int64_t row = b; row < e; ++row) {
      const float* l = logits + row * E;
      top_k(l, E, K, order);
      for (int64_t k = 0; k < K; ++k)
        top[static_cast<std::size_t>(k)] = l[order[static_cast<std::size_t>(k)]];
      softmax(top.data(), K, p.data());
      for (int64_t k = 0; k < K; ++k) {
        r.chosen[static_cast<std::size_t>(row * K + k)] = order[static_cast<std::size_t>(k)];
        r.weight[static_cast<std::size_t>(row * K + k)] = c.rd(p[static_cast<std::size_t>(k)]);
      }
    }
  });
}

// R3 (bailing v2), all in fp32: s = σ(logits); experts are chosen on s + expert_bias within the
// topk_group groups whose two best biased scores sum highest (ties to the lower id, groups and
// experts alike); weights = chosen s renormalised (k > 1, + 1e-20) times routed_scaling_factor.
void route_sigmoid_groups(const LayerContext& c, const float* logits,
                          const std::vector<float>& bias, int64_t n, Routing& r) {
  const MoeSpec& m = c.spec.moe;
  const int64_t E = m.num_experts, K = m.top_k, G = m.num_groups, per = E / G;
  const auto scaling = static_cast<float>(m.routed_scaling);
  parallel_rows(c.pool, n, [&](int64_t b, int64_t e) {
    std::vector<float> sc(static_cast<std::size_t>(E)), sb(static_cast<std::size_t>(E));
    std::vector<float> group(static_cast<std::size_t>(G));
    std::vector<int32_t> order(static_cast<std::size_t>(E)), gorder(static_cast<std::size_t>(G));
    for (int64_t row = b; row < e; ++row) {
      const float* l = logits + row * E;
      for (int64_t j = 0; j < E; ++j) {
        const auto u = static_cast<std::size_t>(j);
        sc[u] = sigmoid(l[j]);
        sb[u] = bias.empty() ? sc[u] : sc[u] + bias[u];
      }
      for (int64_t g = 0; g < G; ++g) {
        const float* v = sb.data() + g * per;
        top_k(v, per, std::min<int64_t>(2, per), order);
        group[static_cast<std::size_t>(g)] = per > 1 ? v[order[0]] + v[order[1]] : v[order[0]];
      }
      top_k(group.data(), G, m.topk_groups, gorder);
      std::vector<bool> keep(static_cast<std::size_t>(G), false);
      for (int64_t g = 0; g < m.topk_groups; ++g) keep[static_cast<std::size_t>(gorder[g])] = true;
      for (int64_t j = 0; j < E; ++j) {
        if (!keep[static_cast<std::size_t>(j / per)]) {
          sb[static_cast<std::size_t>(j)] = -std::numeric_limits<float>::infinity();
        }
      }
      top_k(sb.data(), E, K, order);
      float total = 0;
      for (int64_t k = 0; k < K; ++k) total += sc[static_cast<std::size_t>(order[k])];
      for (int64_t k = 0; k < K; ++k) {
        const int32_t ex = order[static_cast<std::size_t>(k)];
        float wk = sc[static_cast<std::size_t>(ex)];
        if (m.norm_topk_prob) wk /= total + 1e-20f;
        r.chosen[static_cast<std::size_t>(row * K + k)] = ex;
        r.weight[static_cast<std::size_t>(row * K + k)] = wk * scaling;
      }
    }
  });
}

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
  if (!mw.shared_gate.data.empty()) {
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
  const int64_t H = s.hidden_size, I = m.intermediate, E = m.num_experts, K = m.top_k;
  const bool gpt_oss =
      m.storage == ExpertStorage::kGptOssDense || m.storage == ExpertStorage::kGptOssMxfp4;
  Sink& sink = c.sink;
  std::vector<float> logits(static_cast<std::size_t>(n * E));
  if (m.router_fp32) {
    linear_packed(c.pool, x, n, mw.router, nullptr, logits.data());
  } else {
    project(c, x, n, mw.router, mw.router_bias, logits.data());
  }
  sink.publish(sink.at(layer, TapPoint::kRouter), logits.data(), n, E, lc);
  Routing rt;
  rt.chosen.resize(static_cast<std::size_t>(n * K));
  rt.weight.resize(static_cast<std::size_t>(n * K));
  switch (m.router) {
    case RouterKind::kSoftmaxTopK:
      route_softmax_topk(c, logits.data(), n, rt);
      break;
    case RouterKind::kTopKSoftmax:
      route_topk_softmax(c, logits.data(), n, rt);
      break;
    case RouterKind::kSigmoidGroupLimited:
      route_sigmoid_groups(c, logits.data(), mw.expert_bias, n, rt);
      break;
  }
  logits = {};
  // Weights in top-k order (descending score, ties to the lower id), as combined.
  sink.publish(sink.at(layer, TapPoint::kRouterWeights), rt.weight.data(), n, K, lc);
  std::fill(out, out + n * H, 0.0f);
  // Tokens per expert in one pass, in token order within each expert.
  std::vector<std::vector<int64_t>> rows_of(static_cast<std::size_t>(E));
  std::vector<std::vector<float>> wts_of(static_cast<std::size_t>(E));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t k = 0; k < K; ++k) {
      const auto ex = static_cast<std::size_t>(rt.chosen[static_cast<std::size_t>(r * K + k)]);
      rows_of[ex].push_back(r);
      wts_of[ex].push_back(rt.weight[static_cast<std::size_t>(r * K + k)]);
    }
  }
  std::vector<float> xs, gu, act, y;
  std::vector<Location> where;
  std::vector<int32_t> cat;
  const int down_tap = sink.at(layer, TapPoint::kExpertDownIn);
  for (int64_t ex = 0; ex < E; ++ex) {
    const std::vector<int64_t>& rows = rows_of[static_cast<std::size_t>(ex)];
    const std::vector<float>& wts = wts_of[static_cast<std::size_t>(ex)];
    if (rows.empty()) continue;
    const auto e = static_cast<std::size_t>(ex);
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
    act.resize(static_cast<std::size_t>(ne * I));
    y.resize(static_cast<std::size_t>(ne * H));
    project(c, xs.data(), ne, mw.gate_up[e], {}, gu.data());
    if (gpt_oss) {
      add_bias_rows(c, gu.data(), ne, mw.gate_up_bias[e]);
      const auto limit = static_cast<float>(m.swiglu_limit);
      parallel_rows(c.pool, ne, [&](int64_t b, int64_t end) {
        clamped_swiglu(gu.data() + b * 2 * I, gu.data() + b * 2 * I + I, end - b, I, 2 * I, limit,
                       c.rd, act.data() + b * I);
      });
    } else {
      gate_and_up(c, gu.data(), ne, I, act.data());
    }
    sink.publish(down_tap, act.data(), ne, I, where.data(), cats != nullptr ? cat.data() : nullptr);
    if (sink.wants(down_tap)) publish_expert_max(sink, layer, static_cast<int>(ex), act, I, where);
    project(c, act.data(), ne, mw.down[e], {}, y.data());
    if (gpt_oss) add_bias_rows(c, y.data(), ne, mw.down_bias[e]);
    // Each token appears at most once per expert: rows of this expert are distinct tokens.
    parallel_rows(c.pool, ne, [&](int64_t b, int64_t end) {
      for (int64_t i = b; i < end; ++i) {
        float* o = out + rows[static_cast<std::size_t>(i)] * H;
        const float* yi = y.data() + i * H;
        const float wi = wts[static_cast<std::size_t>(i)];
        switch (m.combine) {
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
  if (m.combine != CombineKind::kExpertOrderInDtype && c.rd.bf16) {
    parallel_rows(c.pool, n, [&](int64_t b, int64_t e) { c.rd.apply(out + b * H, (e - b) * H); });
  }
  if (m.shared_intermediate > 0) shared_expert(c, layer, mw, x, n, lc, out);
}

}  // namespace maxact::engine
