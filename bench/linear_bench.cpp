// GEMM throughput: maxact's fixed-order linear kernel (compute/linear.h) against OpenBLAS sgemm on
// the same shapes, same process, same thread count. Prints GFLOP/s and the ratio.
//   linear_bench [rows in out threads repeats]
#include <cblas.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "compute/gemm.h"
#include "compute/linear.h"
#include "compute/thread_pool.h"

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atol(argv[1]) : 512,
                in = argc > 2 ? std::atol(argv[2]) : 1024,
                out = argc > 3 ? std::atol(argv[3]) : 3072;
  const int threads = argc > 4 ? std::atoi(argv[4]) : 0, reps = argc > 5 ? std::atoi(argv[5]) : 10;
  std::vector<float> x(static_cast<std::size_t>(rows * in)), w(static_cast<std::size_t>(out * in)),
      y(static_cast<std::size_t>(rows * out));
  std::mt19937 rng(1);
  std::normal_distribution<float> d;
  for (auto& v : x) v = d(rng);
  for (auto& v : w) v = d(rng) * 0.02f;
  maxact::ThreadPool pool(threads);
  const auto packed = maxact::pack_weight(w.data(), out, in);
  const double flop = 2.0 * static_cast<double>(rows * in * out);
  auto best = [&](auto&& f) {
    double b = 1e30;
    for (int r = 0; r < reps; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      f();
      b = std::min(b, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return flop / b / 1e9;
  };
  maxact::set_blas_threads(1);
  const double mine =
      best([&] { maxact::linear_packed(pool, x.data(), rows, packed, nullptr, y.data()); });
  maxact::set_blas_threads(pool.size());
  const double blas =
      best([&] { maxact::linear(x.data(), rows, in, w.data(), out, nullptr, y.data()); });
  std::printf(
      "linear %lld x %lld -> %lld, %d threads: maxact %s %.1f GFLOP/s, OpenBLAS sgemm (%s) "
      "%.1f GFLOP/s, ratio %.2f\n",
      static_cast<long long>(rows), static_cast<long long>(in), static_cast<long long>(out),
      pool.size(), maxact::linear_kernel_name(), mine, maxact::blas_core_name().c_str(), blas,
      mine / blas);
  return 0;
}
