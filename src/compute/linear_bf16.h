// The bf16 GEMM's kernels (compute/linear.h describes the arithmetic): AVX512-BF16's vdpbf16ps,
// and a scalar emulation of its exact semantics that the tests hold it to.
#pragma once

#include <cstdint>
#include <type_traits>

namespace maxact {

// f(std::integral_constant<int, R>{}) with R = rows, for 1 to 8 rows: the linear kernels' tiles
// are instantiated per height so their accumulators stay in registers.
template <typename F>
void by_rows(int rows, F&& f) {
  switch (rows) {
    case 8:
      return f(std::integral_constant<int, 8>{});
    case 7:
      return f(std::integral_constant<int, 7>{});
    case 6:
      return f(std::integral_constant<int, 6>{});
    case 5:
      return f(std::integral_constant<int, 5>{});
    case 4:
      return f(std::integral_constant<int, 4>{});
    case 3:
      return f(std::integral_constant<int, 3>{});
    case 2:
      return f(std::integral_constant<int, 2>{});
    default:
      return f(std::integral_constant<int, 1>{});
  }
}

}  // namespace maxact

namespace maxact::bf16_gemm {

// acc [rows][kPanel] continues the chains over kp pairs of k for up to 8 rows: x holds each row's
// bf16 pairs (high half = even k, low half = odd k), ldx apart; panel holds kp x kPanel weight
// pairs.
using Kernel = void (*)(const uint32_t* x, int64_t ldx, int rows, const uint32_t* panel, int64_t kp,
                        float* acc);
void emulated(const uint32_t* x, int64_t ldx, int rows, const uint32_t* panel, int64_t kp,
              float* acc);
void avx512bf16(const uint32_t* x, int64_t ldx, int rows, const uint32_t* panel, int64_t kp,
                float* acc);
bool cpu_has_avx512bf16();

// One vdpbf16ps lane: acc + x.hi * w.hi, then + x.lo * w.lo, each an fma rounded to nearest even;
// bf16 inputs and each result below 2^-126 taken as zero (of its sign).
float dot_pair(float acc, uint32_t x, uint32_t w);

}  // namespace maxact::bf16_gemm
