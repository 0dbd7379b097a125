// Causal GQA attention of one window: each sequence attends only to itself (no padding), tiled
// over queries so memory stays linear in sequence length (docs/NUMERICS.md §6).
#pragma once

#include <cstdint>
#include <vector>

#include "compute/thread_pool.h"
#include "engine/kernels.h"
#include "maxact/model_spec.h"

namespace maxact::engine {

struct SequenceSpan {
  int64_t begin = 0, length = 0;  // rows of the window
};

// q, k, v: rows of the window with leading dimension ld_qkv (heads of head_dim values each,
// q with num_heads heads, k/v with num_kv_heads). out: [rows, num_heads * head_dim], ld_out.
// window: sliding window W (0 = full): key k is visible from query q iff 0 <= q - k < W.
// sinks: per query head, gpt-oss's learned logit joining each softmax as an extra column that is
// then dropped (docs/NUMERICS.md §6); nullptr when the model has none.
void attention(const AttentionSpec& a, int window, const float* q, const float* k, const float* v,
               int64_t ld_qkv, const float* sinks, const std::vector<SequenceSpan>& seqs,
               const Rounding& rd, ThreadPool& pool, float* out, int64_t ld_out);

}  // namespace maxact::engine
