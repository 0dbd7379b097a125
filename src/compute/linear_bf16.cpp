#include "compute/linear_bf16.h"

#include <immintrin.h>

#include <bit>
#include <cmath>

#include "compute/linear.h"

namespace maxact::bf16_gemm {
namespace {

// Denormals as zero of their sign: vdpbf16ps's inputs (DAZ) and results (FTZ).
float flush(float v) {
  return std::fpclassify(v) == FP_SUBNORMAL ? std::copysign(0.0f, v) : v;
}
float lo(uint32_t pair) {
  return flush(std::bit_cast<float>(pair << 16));
}
float hi(uint32_t pair) {
  return flush(std::bit_cast<float>(pair & 0xFFFF0000u));
}

template <int MR>
__attribute__((target("avx512f,avx512bf16"))) void tile(const uint32_t* x, int64_t ldx,
                                                        const uint32_t* panel, int64_t kp,
                                                        float* acc) {
  __m512 c0[MR], c1[MR];
  for (int i = 0; i < MR; ++i) {
    c0[i] = _mm512_loadu_ps(acc + i * kPanel);
    c1[i] = _mm512_loadu_ps(acc + i * kPanel + 16);
  }
  for (int64_t p = 0; p < kp; ++p) {
    const __m512i w0 = _mm512_loadu_si512(panel + p * kPanel);
    const __m512i w1 = _mm512_loadu_si512(panel + p * kPanel + 16);
    for (int i = 0; i < MR; ++i) {
      const __m512i xv = _mm512_set1_epi32(static_cast<int>(x[i * ldx + p]));
      c0[i] =
          _mm512_dpbf16_ps(c0[i], reinterpret_cast<__m512bh>(xv), reinterpret_cast<__m512bh>(w0));
      c1[i] =
          _mm512_dpbf16_ps(c1[i], reinterpret_cast<__m512bh>(xv), reinterpret_cast<__m512bh>(w1));
    }
  }
  for (int i = 0; i < MR; ++i) {
    _mm512_storeu_ps(acc + i * kPanel, c0[i]);
    _mm512_storeu_ps(acc + i * kPanel + 16, c1[i]);
  }
}

}  // namespace

float dot_pair(float acc, uint32_t x, uint32_t w) {
  acc = flush(std::fma(hi(x), hi(w), flush(acc)));
  return flush(std::fma(lo(x), lo(w), acc));
}

void emulated(const uint32_t* x, int64_t ldx, int rows, const uint32_t* panel, int64_t kp,
              float* acc) {
  for (int i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < kPanel; ++j) {
      float c = acc[i * kPanel + j];
      for (int64_t p = 0; p < kp; ++p) c = dot_pair(c, x[i * ldx + p], panel[p * kPanel + j]);
      acc[i * kPanel + j] = c;
    }
  }
}

__attribute__((target("avx512f,avx512bf16"))) void avx512bf16(const uint32_t* x, int64_t ldx,
                                                              int rows, const uint32_t* panel,
                                                              int64_t kp, float* acc) {
  by_rows(rows, [&](auto mr) { tile<mr()>(x, ldx, panel, kp, acc); });
}

bool cpu_has_avx512bf16() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
}

}  // namespace maxact::bf16_gemm
