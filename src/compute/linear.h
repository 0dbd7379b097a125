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
};
PackedWeight pack_weight(const float* w, int64_t out, int64_t in);

// x [rows, in], y [rows, out]; bias [out] or nullptr, added after the chain: y = chain + b.
// `kernel` forces one of linear_kernels() (tests compare them); nullptr = the fastest here.
void linear_packed(ThreadPool& pool, const float* x, int64_t rows, const PackedWeight& w,
                   const float* bias, float* y, const char* kernel = nullptr);

// Which kernel runs here ("avx512", "avx2", "scalar": the fastest, or the one the environment
// variable MAXACT_LINEAR_KERNEL names), and every kernel this CPU can run.
const char* linear_kernel_name();
std::vector<std::string> linear_kernels();

}  // namespace maxact
