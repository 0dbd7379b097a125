#include "engine/moe.h"

#include <algorithm>
#include <cmath>

namespace maxact::engine {
namespace {

// Each token's k experts and their weights, in top-k order.
struct Routing {
  std::vector<int32_t> chosen;
  std::vector<float> weight;
};

// Expert ids 0..E-1 ordered by descending score, ties to the lower id; the first k kept.
void top_k(const float* score, int64_t E, int64_t K, std::vector<int32_t>& order) {
  for (int64_t j = 0; j < E; ++j) order[static_cast<std::size_t>(j)] = static_cast<int32_t>(j);
  std::partial_sort(order.begin(), order.begin() + K, order.end(), [&](int32_t a, int32_t b) {
    return score[a] != score[b] ? score[a] > score[b] : a < b;
  });
}

// R1 (mixtral, qwen3_moe): softmax in fp32 over all experts, top-k, optional renormalisation in
// fp32, weights rounded to D.
void route_softmax_topk(const LayerContext& c, const float* logits, int64_t n, Routing& r) {
  const MoeSpec& m = c.spec.moe;
  const int64_t E = m.num_experts, K = m.top_k;
  parallel_rows(c.pool, n, [&](int64_t b, int64_t e) {
    std::vector<float> p(static_cast<std::size_t>(E));
    std::vector<int32_t> order(static_cast<std::size_t>(E));
    for (int64_t row = b; row < e; ++row) {
      const float* l = logits + row * E;
      const float mx = *std::max_element(l, l + E);
      double sum = 0;
      for (int64_t j = 0; j < E; ++j) {
        p[static_cast<std::size_t>(j)] = std::exp(l[j] - mx);
        sum += p[static_cast<std::size_t>(j)];
      }
      const auto fsum = static_cast<float>(sum);
      for (auto& v : p) v /= fsum;
      top_k(p.data(), E, K, order);
      float total = 0;
      for (int64_t k = 0; k < K; ++k) total += p[static_cast<std::size_t>(order[k])];
      for (int64_t k = 0; k < K; ++k) {
        const int32_t ex = order[static_cast<std::size_t>(k)];
        float wk = p[static_cast<std::size_t>(ex)];
        if (m.norm_topk_prob) wk /= total;
        r.chosen[static_cast<std::size_t>(row * K + k)] = ex;
        r.weight[static_cast<std::size_t>(row * K + k)] = c.rd(wk);
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
    std::vector<float> p(static_cast<std::size_t>(K));
    for (int64_t row = b; row < e; ++row) {
      const float* l = logits + row * E;
      top_k(l, E, K, order);
      const float mx = l[order[0]];
      double sum = 0;
      for (int64_t k = 0; k < K; ++k) {
        p[static_cast<std::size_t>(k)] = std::exp(l[order[static_cast<std::size_t>(k)]] - mx);
        sum += p[static_cast<std::size_t>(k)];
      }
      const auto fsum = static_cast<float>(sum);
      for (int64_t k = 0; k < K; ++k) {
        r.chosen[static_cast<std::size_t>(row * K + k)] = order[static_cast<std::size_t>(k)];
        r.weight[static_cast<std::size_t>(row * K + k)] =
            c.rd(p[static_cast<std::size_t>(k)] / fsum);
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

}  // namespace

// Every expert runs once on the tokens routed to it, in ascending expert id. Combine C1 (HF's
// loop): out += D(y · w) in D. C3 (gpt-oss inference path): Σ over experts of D(y · w) in fp32,
// rounded once at the end.
void moe_block(const LayerContext& c, int layer, MoeWeights& mw, const float* x, int64_t n,
               const Location* lc, const int32_t* cats, float* out) {
  const ModelSpec& s = c.spec;
  const MoeSpec& m = s.moe;
  const int64_t H = s.hidden_size, I = m.intermediate, E = m.num_experts, K = m.top_k;
  const bool gpt_oss =
      m.storage == ExpertStorage::kGptOssDense || m.storage == ExpertStorage::kGptOssMxfp4;
  const bool fp32_combine = m.combine == CombineKind::kFp32OverAllExperts;
  Sink& sink = c.sink;
  std::vector<float> logits(static_cast<std::size_t>(n * E));
  project(c, x, n, mw.router, mw.router_bias, logits.data());
  sink.publish(sink.at(layer, Point::kRouter), logits.data(), n, E, lc);
  Routing rt;
  rt.chosen.resize(static_cast<std::size_t>(n * K));
  rt.weight.resize(static_cast<std::size_t>(n * K));
  if (m.router == RouterKind::kTopKSoftmax) {
    route_topk_softmax(c, logits.data(), n, rt);
  } else {
    route_softmax_topk(c, logits.data(), n, rt);
  }
  logits = {};
  // Weights in top-k order (descending score, ties to the lower id), as combined.
  sink.publish(sink.at(layer, Point::kRouterWeights), rt.weight.data(), n, K, lc);
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
  const int down_tap = sink.at(layer, Point::kExpertDownIn);
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
        if (fp32_combine) {
          for (int64_t j = 0; j < H; ++j) o[j] += c.rd(yi[j] * wi);
        } else {
          for (int64_t j = 0; j < H; ++j) o[j] = c.rd(o[j] + c.rd(yi[j] * wi));
        }
      }
    });
  }
  if (fp32_combine && c.rd.bf16) {
    parallel_rows(c.pool, n, [&](int64_t b, int64_t e) { c.rd.apply(out + b * H, (e - b) * H); });
  }
}

}  // namespace maxact::engine
