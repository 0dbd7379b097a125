#include "engine/routers.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/kernels.h"

namespace maxact::engine {
namespace {

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

// R1 (mixtral, qwen3_moe, qwen3_next, qwen3_5_moe, bailing v1): softmax in fp32 over all
// experts, top-k, optional renormalisation in fp32.
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

}  // namespace

Routing route(const LayerContext& c, const float* logits, int64_t n,
              const std::vector<float>& expert_bias) {
  const MoeSpec& m = c.spec.moe;
  Routing r;
  r.chosen.resize(static_cast<std::size_t>(n * m.top_k));
  r.weight.resize(static_cast<std::size_t>(n * m.top_k));
  switch (m.router) {
    case RouterKind::kSoftmaxTopK:
      route_softmax_topk(c, logits, n, r);
      break;
    case RouterKind::kTopKSoftmax:
      route_topk_softmax(c, logits, n, r);
      break;
    case RouterKind::kSigmoidGroupLimited:
      route_sigmoid_groups(c, logits, expert_bias, n, r);
      break;
  }
  return r;
}

}  // namespace maxact::engine
