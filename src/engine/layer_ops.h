// Row-parallel steps shared by the attention, MLP and MoE blocks of a layer, each rounding to the
// model dtype where Hugging Face's eager ops do.
#pragma once

#include <functional>
#include <vector>

#include "compute/linear.h"
#include "compute/thread_pool.h"
#include "engine/kernels.h"
#include "engine/sink.h"
#include "maxact/model.h"

namespace maxact::engine {

struct LayerContext {
  const Model& model;
  const ModelSpec& spec;
  const Rounding& rd;
  ThreadPool& pool;
  Sink& sink;
  int64_t chunk_rows;
};

// Runs fn(begin, end) over [0, rows) split across the pool (row-independent work only).
void parallel_rows(ThreadPool& pool, int64_t rows, const std::function<void(int64_t, int64_t)>& fn);

// RMSNorm (the spec's kind) of `rows` rows of `dim` values, leading dimensions ld / ld_out.
void norm(const LayerContext& c, const float* x, int64_t rows, int64_t dim, int64_t ld,
          const std::vector<float>& w, float* out, int64_t ld_out);

// y = D(x · Wᵀ + b): one rounding, the bias in the GEMM's epilogue (nn.Linear).
void project(const LayerContext& c, const float* x, int64_t rows, const PackedWeight& w,
             const std::vector<float>& bias, float* y);

// y = D(y + b) for rows of width b.size(): a bias added as its own op after a rounded GEMM
// (gpt-oss experts: `x @ W + b` on parameters, not nn.Linear).
void add_bias_rows(const LayerContext& c, float* y, int64_t rows, const std::vector<float>& b);

// act = D(D(act(gate)) * up) for rows of a fused [gate | up] projection of width 2I.
void gate_and_up(const LayerContext& c, const float* gu, int64_t rows, int64_t I, float* act);

// h = D(h + a), `rows` rows of `dim` values.
void add_residual(const LayerContext& c, float* h, const float* a, int64_t rows, int64_t dim);

}  // namespace maxact::engine
