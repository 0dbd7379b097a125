// y = x · Wᵀ (+ b) with a fixed summation order: every output element is one fused multiply-add
// chain over k = 0..K-1 in order, whatever the tile, the thread or the number of rows. OpenBLAS
// cannot promise that (its kernels sum a row differently depending on where the row sits in the
// matrix; measured), and the statistics must be bitwise identical for any window and thread count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace maxact {

class ThreadPool;

// W [out, in] repacked once per layer into panels of kPanel output columns, k-major, zero-padded.
inline constexpr int64_t kPanel = 32;
struct PackedWeight {
  int64_t out = 0, in = 0;
  std::vector<float> data;  // [ceil(out / kPanel)][in][kPanel]
  // bf16 weights for the bf16 GEMM instead of `data`: [ceil(out / kPanel)][ceil(in / 2)][kPanel]
  // pairs, w[j][2p] in the high half and w[j][2p + 1] in the low one, zero-padded.
  std::vector<uint32_t> bf16;
  bool is_bf16 = false;
  bool empty() const { return data.empty() && bf16.empty(); }  // not packed (yet)
};
PackedWeight pack_weight(const float* w, int64_t out, int64_t in);
// W's values rounded to bf16 (exact for a bf16 checkpoint in bf16 mode), for the bf16 GEMM.
PackedWeight pack_weight_bf16(const float* w, int64_t out, int64_t in);

// Whether bf16 mode's GEMMs run as bf16 GEMMs here: the CPU has AVX512-BF16 and the linear kernel
// is avx512 (MAXACT_LINEAR_KERNEL=avx2 or scalar turns them off, for comparisons).
bool bf16_gemm_available();

// x [rows, in], y [rows, out]; bias [out] or nullptr, added after the chain: y = chain + b.
// `kernel` forces one of linear_kernels() (tests compare them); nullptr = the fastest here.
// A bf16-packed w takes x rounded to bf16 and runs the bf16 GEMM ("avx512bf16", or its exact
// emulation "bf16-emulated" that tests compare it with): the same fma chain over k in order, as
// vdpbf16ps computes it (k even in a pair's high half, which it adds first), with its denormal
// rules: inputs and partial sums below 2^-126 taken as zero. So it equals the fp32 kernels bit
// for bit but for such tiny values.
void linear_packed(ThreadPool& pool, const float* x, int64_t rows, const PackedWeight& w,
                   const float* bias, float* y, const char* kernel = nullptr);

// Which kernel runs here ("avx512", "avx2", "scalar": the fastest, or the one the environment
// variable MAXACT_LINEAR_KERNEL names), and every kernel this CPU can run.
const char* linear_kernel_name();
// The kernel a scan's GEMMs run with at that precision: linear_kernel_name(), or "avx512bf16".
const char* linear_kernel_name(bool bf16);
std::vector<std::string> linear_kernels();

}  // namespace maxact
