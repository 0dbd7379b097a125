// The linear kernel's promise: every output element is the same fused multiply-add chain over k
// in order, whichever kernel (AVX-512, AVX2, scalar), thread count, row count or row position.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "compute/linear.h"
#include "compute/thread_pool.h"

namespace maxact {
namespace {

struct Problem {
  int64_t rows, in, out;
  std::vector<float> x, w, b;
};

Problem make(int64_t rows, int64_t in, int64_t out, unsigned seed) {
  Problem p{rows, in, out, {}, {}, {}};
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  p.x.resize(static_cast<std::size_t>(rows * in));
  p.w.resize(static_cast<std::size_t>(out * in));
  p.b.resize(static_cast<std::size_t>(out));
  for (auto& v : p.x) v = d(rng);
  for (auto& v : p.w) v = d(rng) * 0.05f;
  for (auto& v : p.b) v = d(rng);
  return p;
}

// The chain written out: c = fma(x[k], w[k], c) from c = 0, then + bias.
float reference(const Problem& p, int64_t r, int64_t j) {
  float c = 0.0f;
  for (int64_t k = 0; k < p.in; ++k) {
    c = std::fma(p.x[static_cast<std::size_t>(r * p.in + k)],
                 p.w[static_cast<std::size_t>(j * p.in + k)], c);
  }
  return c + p.b[static_cast<std::size_t>(j)];
}

TEST(Linear, EveryKernelComputesTheSameChain) {
  // Odd sizes: partial panels, row tails, several K blocks.
  const Problem p = make(37, 700, 75, 1);
  const PackedWeight pw = pack_weight(p.w.data(), p.out, p.in);
  ThreadPool pool(3);
  ASSERT_FALSE(linear_kernels().empty());
  for (const std::string& k : linear_kernels()) {
    std::vector<float> y(static_cast<std::size_t>(p.rows * p.out));
    linear_packed(pool, p.x.data(), p.rows, pw, p.b.data(), y.data(), k.c_str());
    for (int64_t r = 0; r < p.rows; ++r) {
      for (int64_t j = 0; j < p.out; ++j) {
        const float want = reference(p, r, j), got = y[static_cast<std::size_t>(r * p.out + j)];
        ASSERT_EQ(std::memcmp(&want, &got, 4), 0) << k << " row " << r << " col " << j;
      }
    }
  }
}

TEST(Linear, ARowsResultDoesNotDependOnItsNeighbours) {
  const Problem p = make(300, 96, 64, 2);
  const PackedWeight pw = pack_weight(p.w.data(), p.out, p.in);
  ThreadPool one(1), three(3);
  std::vector<float> all(static_cast<std::size_t>(p.rows * p.out));
  linear_packed(three, p.x.data(), p.rows, pw, nullptr, all.data());
  // The last 5 rows alone, in a 1-thread pool.
  std::vector<float> tail(static_cast<std::size_t>(5 * p.out));
  linear_packed(one, p.x.data() + (p.rows - 5) * p.in, 5, pw, nullptr, tail.data());
  EXPECT_EQ(std::memcmp(tail.data(), all.data() + (p.rows - 5) * p.out, tail.size() * 4), 0);
}

}  // namespace
}  // namespace maxact
