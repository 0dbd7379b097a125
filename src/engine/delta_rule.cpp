#include "engine/delta_rule.h"

#include <algorithm>
#include <cmath>

#include "compute/gemm.h"

namespace maxact::engine {
namespace {

float absmax(const std::vector<float>& s) {
  float m = 0.0f;
  for (float x : s) m = std::max(m, std::fabs(x));
  return m;
}

}  // namespace

void delta_rule_recurrent(const DeltaRuleInput& in, float* o, std::vector<float>& state_absmax) {
  const int dk = in.dk, dv = in.dv;
  std::vector<float> S(static_cast<std::size_t>(dk) * static_cast<std::size_t>(dv), 0.0f);
  std::vector<float> delta(static_cast<std::size_t>(dv));
  state_absmax.clear();
  for (int64_t t = 0; t < in.len; ++t) {
    const float* q = in.q + t * dk;
    const float* k = in.k + t * dk;
    const float* v = in.v + t * dv;
    const float decay = std::exp(in.g[t]);
    for (float& s : S) s *= decay;
    for (int j = 0; j < dv; ++j) {
      float u = 0.0f;
      for (int d = 0; d < dk; ++d) u += S[static_cast<std::size_t>(d * dv + j)] * k[d];
      delta[static_cast<std::size_t>(j)] = (v[j] - u) * in.beta[t];
    }
    for (int d = 0; d < dk; ++d) {
      for (int j = 0; j < dv; ++j) {
        S[static_cast<std::size_t>(d * dv + j)] += k[d] * delta[static_cast<std::size_t>(j)];
      }
    }
    for (int j = 0; j < dv; ++j) {
      float acc = 0.0f;
      for (int d = 0; d < dk; ++d) acc += S[static_cast<std::size_t>(d * dv + j)] * q[d];
      o[t * dv + j] = acc;
    }
    if ((t + 1) % kDeltaRuleChunk == 0 || t + 1 == in.len) state_absmax.push_back(absmax(S));
  }
}

// Per chunk of c tokens with in-chunk cumulative log decay G (HF torch_chunk_gated_delta_rule):
// A = strictly-lower −(β k kᵀ)·exp(G_i − G_j), made (I − A')⁻¹ by forward substitution;
// U = A βv, W = A (βk·exp G); with the carried state S: v' = U − W S,
// o = (q·exp G) S + tril(q kᵀ · exp(G_i − G_j)) v', S ← S·exp(G_last) + (k·exp(G_last − G))ᵀ v'.
void delta_rule_chunked(const DeltaRuleInput& in, float* o, std::vector<float>& state_absmax) {
  const int64_t dk = in.dk, dv = in.dv, C = kDeltaRuleChunk;
  auto buf = [](int64_t n) { return std::vector<float>(static_cast<std::size_t>(n), 0.0f); };
  std::vector<float> S = buf(dk * dv), G = buf(C), kb = buf(C * dk), vb = buf(C * dv);
  std::vector<float> A = buf(C * C), U = buf(C * dv), W = buf(C * dk), qk = buf(C * C);
  std::vector<float> vnew = buf(C * dv), qd = buf(C * dk), kdT = buf(dk * C), upd = buf(dk * dv);
  std::vector<float> row = buf(C);
  state_absmax.clear();
  for (int64_t t0 = 0; t0 < in.len; t0 += C) {
    const int64_t c = std::min(C, in.len - t0);
    const float* Q = in.q + t0 * dk;
    const float* K = in.k + t0 * dk;
    const float* V = in.v + t0 * dv;
    float cum = 0.0f;
    for (int64_t i = 0; i < c; ++i) G[static_cast<std::size_t>(i)] = cum += in.g[t0 + i];
    auto Gi = [&](int64_t i) { return G[static_cast<std::size_t>(i)]; };
    for (int64_t i = 0; i < c; ++i) {
      const float b = in.beta[t0 + i];
      for (int64_t d = 0; d < dk; ++d) kb[static_cast<std::size_t>(i * dk + d)] = K[i * dk + d] * b;
      for (int64_t j = 0; j < dv; ++j) vb[static_cast<std::size_t>(i * dv + j)] = V[i * dv + j] * b;
    }
    gemm_nt(c, c, dk, 1.0f, kb.data(), dk, K, dk, A.data(), c);
    for (int64_t i = 0; i < c; ++i) {
      for (int64_t j = 0; j < c; ++j) {
        float& a = A[static_cast<std::size_t>(i * c + j)];
        a = j < i ? -a * std::exp(Gi(i) - Gi(j)) : 0.0f;
      }
    }
    // Row i from the rows above it, which are final already: row_i += row_i · A[:i, :i].
    for (int64_t i = 1; i < c; ++i) {
      std::copy(A.begin() + i * c, A.begin() + i * c + i, row.begin());
      for (int64_t j = 0; j < i; ++j) {
        float acc = row[static_cast<std::size_t>(j)];
        for (int64_t m = j + 1; m < i; ++m) {
          acc += row[static_cast<std::size_t>(m)] * A[static_cast<std::size_t>(m * c + j)];
        }
        A[static_cast<std::size_t>(i * c + j)] = acc;
      }
    }
    for (int64_t i = 0; i < c; ++i) A[static_cast<std::size_t>(i * c + i)] = 1.0f;
    gemm_nn(c, dv, c, A.data(), c, vb.data(), dv, U.data(), dv);
    for (int64_t i = 0; i < c; ++i) {
      const float e = std::exp(Gi(i));
      for (int64_t d = 0; d < dk; ++d) kb[static_cast<std::size_t>(i * dk + d)] *= e;
    }
    gemm_nn(c, dk, c, A.data(), c, kb.data(), dk, W.data(), dk);
    // v' = U − W S
    gemm_nn(c, dv, dk, W.data(), dk, S.data(), dv, vnew.data(), dv);
    for (int64_t i = 0; i < c * dv; ++i) {
      vnew[static_cast<std::size_t>(i)] =
          U[static_cast<std::size_t>(i)] - vnew[static_cast<std::size_t>(i)];
    }
    // o = (q·exp G) S + tril(q kᵀ · decay) v'
    gemm_nt(c, c, dk, 1.0f, Q, dk, K, dk, qk.data(), c);
    for (int64_t i = 0; i < c; ++i) {
      for (int64_t j = 0; j < c; ++j) {
        float& a = qk[static_cast<std::size_t>(i * c + j)];
        a = j <= i ? a * std::exp(Gi(i) - Gi(j)) : 0.0f;
      }
      const float e = std::exp(Gi(i));
      for (int64_t d = 0; d < dk; ++d) qd[static_cast<std::size_t>(i * dk + d)] = Q[i * dk + d] * e;
    }
    float* O = o + t0 * dv;
    gemm_nn(c, dv, dk, qd.data(), dk, S.data(), dv, O, dv);
    gemm_nn(c, dv, c, qk.data(), c, vnew.data(), dv, U.data(), dv);
    for (int64_t i = 0; i < c * dv; ++i) O[i] += U[static_cast<std::size_t>(i)];
    // S ← S·exp(G_last) + (k·exp(G_last − G))ᵀ v'
    const float last = Gi(c - 1);
    for (int64_t i = 0; i < c; ++i) {
      const float e = std::exp(last - Gi(i));
      for (int64_t d = 0; d < dk; ++d) kdT[static_cast<std::size_t>(d * c + i)] = K[i * dk + d] * e;
    }
    gemm_nn(dk, dv, c, kdT.data(), c, vnew.data(), dv, upd.data(), dv);
    const float el = std::exp(last);
    for (int64_t i = 0; i < dk * dv; ++i) {
      S[static_cast<std::size_t>(i)] =
          S[static_cast<std::size_t>(i)] * el + upd[static_cast<std::size_t>(i)];
    }
    state_absmax.push_back(absmax(S));
  }
}

}  // namespace maxact::engine
