#include "engine/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "compute/gemm.h"

namespace maxact::engine {
namespace {
constexpr int64_t kQueryTile = 128;

struct Task {
  int64_t seq_begin, q0, q1;  // query rows [q0, q1) of the sequence starting at row seq_begin
  int kv_head;
};
}  // namespace

void attention(const AttentionSpec& a, int window, const float* q, const float* k, const float* v,
               int64_t ld_qkv, const float* sinks, const std::vector<SequenceSpan>& seqs,
               const Rounding& rd, ThreadPool& pool, float* out, int64_t ld_out) {
  const int hd = a.head_dim, rep = a.num_heads / a.num_kv_heads;
  std::vector<Task> tasks;
  for (const auto& s : seqs) {
    for (int64_t q0 = 0; q0 < s.length; q0 += kQueryTile) {
      for (int g = 0; g < a.num_kv_heads; ++g) {
        tasks.push_back({s.begin, q0, std::min(s.length, q0 + kQueryTile), g});
      }
    }
  }
  const auto scale = static_cast<float>(a.scale);
  const auto cap = static_cast<float>(a.logit_softcap);
  // Many independent small GEMMs at once, OpenBLAS single-threaded inside our pool's tasks; a
  // task's shapes depend only on its sequence, so results do not depend on windows or threads.
  std::vector<std::vector<float>> scratch(static_cast<std::size_t>(pool.size()));
  pool.parallel_for(static_cast<int64_t>(tasks.size()), [&](int64_t ti, int thread) {
    const Task& t = tasks[static_cast<std::size_t>(ti)];
    const int64_t k_lo = window > 0 ? std::max<int64_t>(0, t.q0 - window + 1) : 0;
    const int64_t k_hi = t.q1, nk = k_hi - k_lo, nq = t.q1 - t.q0;
    auto& S = scratch[static_cast<std::size_t>(thread)];
    S.resize(static_cast<std::size_t>(nq * nk));
    const float* kb = k + (t.seq_begin + k_lo) * ld_qkv + int64_t{t.kv_head} * hd;
    const float* vb = v + (t.seq_begin + k_lo) * ld_qkv + int64_t{t.kv_head} * hd;
    for (int h = t.kv_head * rep; h < (t.kv_head + 1) * rep; ++h) {
      const float* qb = q + (t.seq_begin + t.q0) * ld_qkv + int64_t{h} * hd;
      gemm_nt(nq, nk, hd, 1.0f, qb, ld_qkv, kb, ld_qkv, S.data(), nk);
      for (int64_t i = 0; i < nq; ++i) {
        float* s = S.data() + i * nk;
        const int64_t qpos = t.q0 + i;
        // Visible keys [lo, hi) in this tile's key range.
        const int64_t lo = window > 0 ? std::max<int64_t>(0, qpos - window + 1) - k_lo : 0;
        const int64_t hi = qpos + 1 - k_lo;
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t j = lo; j < hi; ++j) {
          float x = rd(rd(s[j]) * scale);
          if (cap > 0) x = rd(rd(std::tanh(rd(x / cap))) * cap);
          s[j] = x;
          mx = std::max(mx, x);
        }
        double sum = 0;
        if (sinks != nullptr) {
          // HF: S' = D(S_cat − max(S_cat)), then softmax (max of S' is exactly 0).
          mx = std::max(mx, sinks[h]);
          sum += std::exp(rd(sinks[h] - mx));
          for (int64_t j = lo; j < hi; ++j) {
            const float e = std::exp(rd(s[j] - mx));
            s[j] = e;
            sum += e;
          }
        } else {
          for (int64_t j = lo; j < hi; ++j) {
            const float e = std::exp(s[j] - mx);
            s[j] = e;
            sum += e;
          }
        }
        const auto fsum = static_cast<float>(sum);
        for (int64_t j = 0; j < lo; ++j) s[j] = 0.0f;
        for (int64_t j = lo; j < hi; ++j) s[j] = rd(s[j] / fsum);
        for (int64_t j = hi; j < nk; ++j) s[j] = 0.0f;
      }
      float* ob = out + (t.seq_begin + t.q0) * ld_out + int64_t{h} * hd;
      gemm_nn(nq, hd, nk, S.data(), nk, vb, ld_qkv, ob, ld_out);
      rd.apply_rows(ob, nq, hd, ld_out);
    }
  });
}

}  // namespace maxact::engine
