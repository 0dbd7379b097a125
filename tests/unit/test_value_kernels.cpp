// The value pass's promise: every kernel (AVX-512 where the CPU has it, the portable binned one,
// the per-value definition) leaves bit for bit the same exact sums, histogram and per-channel
// statistics, whatever the magnitudes (zeros, subnormals, squares beyond 2^64 and 2^127 in
// fixed point, saturated squares) and however many values arrive between the binned kernels'
// flushes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "stats/finite_values.h"

namespace maxact::stats {
namespace {

struct State {
  ExactSum sum, sumabs, sumsq;
  LogHistogram hist;
  ChannelSums chan;
  explicit State(std::size_t channels) : chan(static_cast<int64_t>(channels)) {}
  ValueAccumulators acc() { return {sum, sumabs, sumsq, hist, chan}; }
};

// Rows x channels of values across every range the kernels treat differently.
std::vector<float> mixed(std::size_t rows, std::size_t channels, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> kind(0, 19);
  std::vector<float> x(rows * channels);
  for (float& v : x) {
    const float n = normal(rng);
    switch (kind(rng)) {
      case 0:
        v = 0.0f;
        break;
      case 1:
        v = -0.0f;
        break;
      case 2:
        v = n * 1e-41f;  // subnormal
        break;
      case 3:
        v = n * 1e-30f;
        break;
      case 4:
        v = n * 3e4f;  // v² · 2^48 beyond 2^64: a high word
        break;
      case 5:
        v = n * 1e11f;  // near the 2^127 fixed-point range
        break;
      case 6:
        v = std::copysign(3e19f, n);  // its square saturates
        break;
      case 7:
        v = std::nextafter(2.0f, 0.0f) * (n < 0 ? -1.0f : 1.0f);  // the largest mantissa
        break;
      default:
        v = n * 10.0f;
    }
  }
  return x;
}

void expect_same(State& want, State& got, const char* kernel, const std::string& what) {
  EXPECT_TRUE(want.sum == got.sum) << kernel << ": Σx, " << what;
  EXPECT_TRUE(want.sumabs == got.sumabs) << kernel << ": Σ|x|, " << what;
  EXPECT_TRUE(want.sumsq == got.sumsq) << kernel << ": Σx², " << what;
  EXPECT_TRUE(want.hist == got.hist) << kernel << ": histogram, " << what;
  EXPECT_TRUE(want.chan == got.chan) << kernel << ": per-channel, " << what;
  const auto a = want.chan.sum_sq(), b = got.chan.sum_sq();
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)), 0) << kernel << what;
}

void check_all_kernels(const std::vector<float>& x, std::size_t rows, std::size_t channels,
                       const std::string& what) {
  std::vector<const float*> ptr(rows);
  // Rows in reverse order, as the scan's row pointers need not be contiguous.
  for (std::size_t r = 0; r < rows; ++r) ptr[r] = x.data() + (rows - 1 - r) * channels;
  State want(channels);
  add_finite_values(ptr.data(), rows, channels, want.acc(), ValueKernel::kPerValue);
  ASSERT_GE(value_kernels().size(), 2u);
  for (ValueKernel k : value_kernels()) {
    State got(channels);
    // In two calls, the second on the same thread's table: nothing may linger between calls.
    const std::size_t half = rows / 2;
    add_finite_values(ptr.data(), half, channels, got.acc(), k);
    add_finite_values(ptr.data() + half, rows - half, channels, got.acc(), k);
    expect_same(want, got, value_kernel_name(k), what);
  }
}

TEST(ValueKernels, EveryKernelLeavesThePerValueState) {
  // Channel counts around the vector width and the 32-channel block; rows x channels past the
  // 65,536 values between flushes (3000 x 50) and a row wider than that on its own.
  const std::size_t shapes[][2] = {{7, 1},    {9, 15},    {11, 16},   {13, 17},  {5, 33},
                                   {40, 100}, {64, 1024}, {50, 3000}, {2, 70001}};
  unsigned seed = 1;
  for (const auto& [rows, channels] : shapes) {
    check_all_kernels(mixed(rows, channels, seed++), rows, channels,
                      std::to_string(rows) + " x " + std::to_string(channels));
  }
}

TEST(ValueKernels, OneGroupAtTheLimitsOfItsWords) {
  // 200,000 values of the largest mantissa in one group (count, Σm and Σm² at their bounds
  // between flushes), in one channel and across 8.
  for (std::size_t channels : {1u, 8u}) {
    const std::size_t rows = 200000 / channels;
    std::vector<float> x(rows * channels, std::nextafter(2.0f, 0.0f));
    for (std::size_t i = 0; i < x.size(); i += 3) x[i] = -x[i];
    check_all_kernels(x, rows, channels, "one group, " + std::to_string(channels) + " channels");
  }
}

TEST(ValueKernels, SquaresBeyondTheFixedPointRangeAreStickyInEveryKernel) {
  // Two squares of ~1e38 (2^-48 units) in a channel pass 2^127: that channel's Σx² is unknown.
  std::vector<float> x = {6e11f, 1.0f, 6e11f, 2.0f, 3.0f, 1.0f};
  check_all_kernels(x, 3, 2, "sticky overflow");
  State s(2);
  std::vector<const float*> ptr = {x.data(), x.data() + 2, x.data() + 4};
  add_finite_values(ptr.data(), 3, 2, s.acc(), value_kernels().front());
  EXPECT_TRUE(std::isnan(s.chan.sum_sq()[0]));
  EXPECT_DOUBLE_EQ(s.chan.sum_sq()[1], 6.0);
}

TEST(ValueKernels, RowRangeIsTheSequentialPassBitForBit) {
  // Zeros of both signs (the first one kept), negative rows, lengths around the vector width,
  // NaN and Inf anywhere.
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> kind(0, 5);
  std::normal_distribution<float> normal;
  for (int trial = 0; trial < 2000; ++trial) {
    const std::size_t C = 1 + static_cast<std::size_t>(trial % 37);
    std::vector<float> x(C);
    const bool negative = trial % 3 == 0;
    for (float& v : x) {
      switch (kind(rng)) {
        case 0:
          v = 0.0f;
          break;
        case 1:
          v = -0.0f;
          break;
        default:
          v = negative ? -std::fabs(normal(rng)) : normal(rng);
      }
    }
    if (trial % 50 == 1) x[static_cast<std::size_t>(trial) % C] = std::nanf("");
    if (trial % 50 == 2) x[static_cast<std::size_t>(trial) % C] = -INFINITY;
    const RowRange want = row_range(x.data(), C, ValueKernel::kPerValue);
    for (ValueKernel k : value_kernels()) {
      const RowRange got = row_range(x.data(), C, k);
      ASSERT_EQ(got.special, want.special) << value_kernel_name(k) << " trial " << trial;
      if (want.special) continue;
      EXPECT_EQ(std::memcmp(&got.max, &want.max, 4), 0) << value_kernel_name(k) << trial;
      EXPECT_EQ(std::memcmp(&got.min, &want.min, 4), 0) << value_kernel_name(k) << trial;
      EXPECT_EQ(std::memcmp(&got.absmax, &want.absmax, 4), 0) << value_kernel_name(k) << trial;
    }
  }
}

}  // namespace
}  // namespace maxact::stats
