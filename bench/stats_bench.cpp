// The statistics' cost per activation value, one thread: TapStats::add_rows (row pass, top-K,
// per-token median, value pass) on normal-distributed rows, and the value pass alone per kernel.
//   stats_bench [rows channels repeats]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "maxact/tap_stats.h"
#include "stats/finite_values.h"

int main(int argc, char** argv) {
  using namespace maxact;
  const std::size_t rows = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 512,
                    C = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1024;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 5;
  std::vector<float> x(rows * C);
  std::mt19937 rng(1);
  std::normal_distribution<float> d;
  for (auto& v : x) v = d(rng);
  std::vector<Location> at(rows);
  for (std::size_t r = 0; r < rows; ++r) at[r] = {0, static_cast<int32_t>(r), 0, 0};
  const double values = static_cast<double>(rows * C);
  auto best_ns = [&](auto&& f) {
    double best = 1e30;
    for (int i = 0; i < reps; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      f();
      best = std::min(best,
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best * 1e9 / values;
  };
  std::printf("%zu rows x %zu channels, 1 thread, best of %d\n", rows, C, reps);
  const double all = best_ns([&] {
    TapStats s(static_cast<int64_t>(C));
    s.add_rows(x.data(), static_cast<int64_t>(rows), at.data());
  });
  std::printf("  TapStats::add_rows (default kernel %s): %.2f ns per value\n",
              stats::value_kernel_name(stats::default_value_kernel()), all);
  std::vector<const float*> ptr(rows);
  for (std::size_t r = 0; r < rows; ++r) ptr[r] = x.data() + r * C;
  for (stats::ValueKernel k : stats::value_kernels()) {
    const double ns = best_ns([&] {
      ExactSum a, b, c;
      LogHistogram h;
      ChannelSums ch(static_cast<int64_t>(C));
      // In 64K-value pieces, as TapStats feeds it.
      const std::size_t step = std::max<std::size_t>(1, 65536 / C);
      for (std::size_t r = 0; r < rows; r += step) {
        stats::add_finite_values(ptr.data() + r, std::min(step, rows - r), C, {a, b, c, h, ch}, k);
      }
    });
    std::printf("  value pass, %-9s: %.2f ns per value\n", stats::value_kernel_name(k), ns);
  }
  const double range = best_ns([&] {
    for (std::size_t r = 0; r < rows; ++r) {
      volatile float sink = stats::row_range(ptr[r], C, stats::default_value_kernel()).max;
      (void)sink;
    }
  });
  std::printf("  row pass: %.2f ns per value\n", range);
  return 0;
}
