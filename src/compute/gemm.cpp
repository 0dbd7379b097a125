#include "compute/gemm.h"

#include <cblas.h>

#include <algorithm>

namespace maxact {

void linear(const float* x, int64_t rows, int64_t in, const float* w, int64_t out,
            const float* bias, float* y, int64_t ldy) {
  if (ldy == 0) ldy = out;
  if (rows == 0 || out == 0) return;
  float beta = 0.0f;
  if (bias != nullptr) {
    // Bias first, accumulated into by the GEMM: one rounding of (x·Wᵀ + b) per element would
    // need a fused epilogue; adding it as C's initial value is the closest BLAS offers.
    for (int64_t r = 0; r < rows; ++r) std::copy(bias, bias + out, y + r * ldy);
    beta = 1.0f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(rows),
              static_cast<blasint>(out), static_cast<blasint>(in), 1.0f, x,
              static_cast<blasint>(in), w, static_cast<blasint>(in), beta, y,
              static_cast<blasint>(ldy));
}

void gemm_nt(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
             const float* b, int64_t ldb, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(m),
              static_cast<blasint>(n), static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda),
              b, static_cast<blasint>(ldb), 0.0f, c, static_cast<blasint>(ldc));
}

void gemm_nn(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
             int64_t ldb, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(m),
              static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, a, static_cast<blasint>(lda),
              b, static_cast<blasint>(ldb), 0.0f, c, static_cast<blasint>(ldc));
}

void set_blas_threads(int threads) {
  openblas_set_num_threads(std::max(1, threads));
}
int blas_threads() {
  return openblas_get_num_threads();
}
std::string blas_core_name() {
  const char* n = openblas_get_corename();
  return n != nullptr ? n : "unknown";
}

}  // namespace maxact
