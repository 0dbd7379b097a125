// Row kernels of the Gated DeltaNet mixer (engine/linear_attn.cpp): its dimensions, the fused
// projections' regrouping, the causal depthwise conv with SiLU, the β / decay gates and the
// l2 normalisation of q and k, each as Hugging Face's modeling code computes it.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/attention.h"
#include "engine/kernels.h"
#include "maxact/model_spec.h"

namespace maxact::engine {

struct DeltaNetDims {
  int64_t Hk, Hv, dk, dv, r, key_dim, value_dim, conv_dim, kernel;
};
DeltaNetDims deltanet_dims(const LinearAttnSpec& g);

// qwen3_next's fused projections group everything per key head g: in_proj_qkvz rows
// [q_g (dk) | k_g (dk) | v_g (r·dv) | z_g (r·dv)], in_proj_ba rows [b_g (r) | a_g (r)].
// Spreads one row into the q|k|v order of the conv, z, b and a.
void split_fused_row(const DeltaNetDims& d, const float* p, float* mixed, float* z, float* b,
                     float* a);

// Rows [b, e) of the causal depthwise conv over each row's sequence (it starts at span.begin of
// seq_of_row): fp32 accumulation over `kernel` taps, rounded, then SiLU rounded. x rows have
// leading dimension ld; out is [rows, conv_dim].
void causal_conv_silu(const DeltaNetDims& d, const float* x, int64_t ld, const float* w,
                      const std::vector<SequenceSpan>& spans, const int32_t* seq_of_row, int64_t b,
                      int64_t e, const Rounding& rd, float* out);

// β = D(σ(b)) and decay g = −exp(A_log) · softplus(a + dt_bias) in fp32, for one token's heads.
void deltanet_gates(const float* b, const float* a, const float* A_log, const float* dt_bias,
                    int64_t heads, const Rounding& rd, float* beta, float* decay);

// x · rsqrt(Σx² + 1e-6) · scale, HF's l2norm, in fp32.
void l2_normalise(float* x, int64_t n, float scale);

}  // namespace maxact::engine
