// Row-wise building blocks of the forward pass (docs/NUMERICS.md §3–§6), in fp32 with optional
// rounding to bf16 at exactly the points where Hugging Face eager bf16 rounds.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "maxact/dtype.h"
#include "maxact/model_spec.h"

namespace maxact::engine {

// Rounding to the model dtype D: identity in fp32 mode.
struct Rounding {
  bool bf16 = false;
  float operator()(float x) const { return bf16 ? round_to_bf16(x) : x; }
  void apply(float* x, int64_t n) const;
  // Rows of a strided matrix: rows x cols starting at x, leading dimension ld.
  void apply_rows(float* x, int64_t rows, int64_t cols, int64_t ld) const;
};

// RMSNorm of each row (`dim` values starting every `ld` floats), written to out (ld_out). kind:
// N1 (w ⊙ D(x r), two roundings), N2 (x r (1 + w), one), N3 (fp32 w ⊙ x r, one).
void rms_norm_rows(const float* x, int64_t rows, int64_t dim, int64_t ld, const float* w,
                   NormKind kind, double eps, const Rounding& rd, float* out, int64_t ld_out);

// cos/sin of one RoPE table for positions [0, n): rows of rotary_dim / 2 values, already scaled
// by the attention factor and rounded to D.
struct RopeTable {
  int64_t positions = 0;
  int half = 0;  // rotary_dim / 2
  std::vector<float> cos, sin;
};
RopeTable make_rope_table(const std::vector<float>& inv_freq, float attention_scale,
                          int64_t positions, const Rounding& rd);

// Rotates `heads` heads of head_dim values in each of `rows` rows (row r has position pos0 + r),
// neox layout, first 2 * table.half dims; the rest pass through.
void apply_rope(float* x, int64_t rows, int64_t ld, int heads, int head_dim, const RopeTable& t,
                int64_t pos0, const Rounding& rd);

// σ(x) and x·σ(x) in fp32, written as every eager kernel here computes them.
inline float sigmoid(float x) {
  return 1.0f / (1.0f + std::exp(-x));
}
inline float silu(float x) {
  return x / (1.0f + std::exp(-x));
}

// out = D(D(act(gate)) * up) for rows of gate/up (strided), written densely to out [rows, n].
void gated_activation(const float* gate, const float* up, int64_t rows, int64_t n, int64_t ld,
                      Activation act, const Rounding& rd, float* out);

// gpt-oss experts (docs/NUMERICS.md §4, M3), every eager op rounded to D:
// g = min(gate, limit), u = clamp(up, ±limit), out = D(D(u + 1) · D(g · D(σ(D(1.702 g))))).
void clamped_swiglu(const float* gate, const float* up, int64_t rows, int64_t n, int64_t ld,
                    float limit, const Rounding& rd, float* out);

}  // namespace maxact::engine
