// Dense linear algebra through OpenBLAS: y = x · Wᵀ (+ b), the layout of nn.Linear (W is
// [out, in] row-major, as stored in checkpoints).
#pragma once

#include <cstdint>
#include <string>

namespace maxact {

// x [rows, in], w [out, in], bias [out] or nullptr, y [rows, out]; ldy >= out.
void linear(const float* x, int64_t rows, int64_t in, const float* w, int64_t out,
            const float* bias, float* y, int64_t ldy = 0);

// c[m, n] = a[m, k] · b[n, k]ᵀ (row-major, leading dimensions given), scaled by alpha.
void gemm_nt(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
             const float* b, int64_t ldb, float* c, int64_t ldc);
// c[m, n] = a[m, k] · b[k, n].
void gemm_nn(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
             int64_t ldb, float* c, int64_t ldc);

// OpenBLAS's own thread count (its pthreads pool); 1 while our pool runs many small GEMMs at once.
void set_blas_threads(int threads);
int blas_threads();
std::string blas_core_name();  // the kernel OpenBLAS picked (OPENBLAS_CORETYPE may force one)

}  // namespace maxact
