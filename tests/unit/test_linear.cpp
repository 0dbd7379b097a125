// The linear kernel's promise: every output element is the same fused multiply-add chain over k
// in order, whichever kernel (AVX-512, AVX2, scalar), thread count, row count or row position.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "compute/linear.h"
#include "compute/linear_bf16.h"
#include "compute/thread_pool.h"
#include "maxact/dtype.h"

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

// ---- The bf16 GEMM ---------------------------------------------------------------------------

// A pair as vdpbf16ps reads it: lo(w) in the low half, hi(w) in the high one (added first).
uint32_t pair(float lo, float hi) {
  return uint32_t{f32_to_bf16(lo)} | uint32_t{f32_to_bf16(hi)} << 16;
}

TEST(Bf16Gemm, EmulationFollowsVdpbf16psRules) {
  // The high half first: a case where the two orders round differently.
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  int checked = 0;
  for (int i = 0; i < 100000 && checked < 50; ++i) {
    const float acc = u(rng), a = round_to_bf16(u(rng)), b = round_to_bf16(u(rng) * 1e-3f),
                c = round_to_bf16(u(rng)), d = round_to_bf16(u(rng) * 1e-3f);
    const float hi_first = std::fma(b, d, std::fma(a, c, acc));
    const float lo_first = std::fma(a, c, std::fma(b, d, acc));
    if (hi_first == lo_first) continue;
    EXPECT_EQ(bf16_gemm::dot_pair(acc, pair(b, a), pair(d, c)), hi_first) << i;
    ++checked;
  }
  EXPECT_EQ(checked, 50);
  // Denormal inputs count as zero: 2^-130 (a bf16 subnormal) x 2^100 adds nothing (not 2^-30).
  EXPECT_EQ(bf16_gemm::dot_pair(0.0f, pair(std::ldexp(1.0f, -130), 0.0f),
                                pair(std::ldexp(1.0f, 100), 0.0f)),
            0.0f);
  // A result below 2^-126 is flushed to zero of its sign: -2^-70 x 2^-60.
  const float tiny = bf16_gemm::dot_pair(0.0f, pair(-std::ldexp(1.0f, -70), 0.0f),
                                         pair(std::ldexp(1.0f, -60), 0.0f));
  EXPECT_EQ(tiny, 0.0f);
  EXPECT_TRUE(std::signbit(tiny));
  // Normal products and sums are exact fma roundings.
  EXPECT_EQ(bf16_gemm::dot_pair(0.5f, pair(3.0f, 2.0f), pair(0.25f, 4.0f)), 0.5f + 8.0f + 0.75f);
}

// x and w rounded to bf16; with `tiny`, subnormal and huge entries among the normal ones.
Problem bf16_problem(int64_t rows, int64_t in, int64_t out, unsigned seed, bool tiny) {
  Problem p = make(rows, in, out, seed);
  if (tiny) {
    for (std::size_t i = 0; i < p.x.size(); i += 97) p.x[i] = std::ldexp(1.0f, -128);
    for (std::size_t i = 5; i < p.x.size(); i += 389) p.x[i] = 3e38f;
    for (std::size_t i = 0; i < p.w.size(); i += 101) p.w[i] = -std::ldexp(1.0f, -129);
  }
  for (auto& v : p.x) v = round_to_bf16(v);
  for (auto& v : p.w) v = round_to_bf16(v);
  return p;
}

TEST(Bf16Gemm, HardwareMatchesTheEmulationBitForBit) {
  if (!bf16_gemm::cpu_has_avx512bf16()) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  // Odd K (a padded pair), partial panels, row tails, several K blocks, denormals.
  const Problem p = bf16_problem(37, 701, 75, 4, true);
  const PackedWeight pw = pack_weight_bf16(p.w.data(), p.out, p.in);
  ThreadPool pool(3);
  std::vector<float> hw(static_cast<std::size_t>(p.rows * p.out)), em(hw.size());
  linear_packed(pool, p.x.data(), p.rows, pw, p.b.data(), hw.data());
  linear_packed(pool, p.x.data(), p.rows, pw, p.b.data(), em.data(), "bf16-emulated");
  for (std::size_t i = 0; i < hw.size(); ++i) {
    ASSERT_EQ(std::memcmp(&hw[i], &em[i], 4), 0)
        << "element " << i << ": " << hw[i] << " vs " << em[i];
  }
  // The denormal rules, one output each: x = (x0, x1), w = (w0, w1).
  const float t70 = std::ldexp(1.0f, -70), t60 = std::ldexp(1.0f, -60);
  const float cases[][4] = {{-t70, 0.0f, t60, 0.0f},                         // flushed, + 0
                            {0.0f, -t70, 0.0f, t60},                         // flushed: -0
                            {std::ldexp(1.0f, -130), 0.0f, 0x1p100f, 0.0f},  // input flushed
                            {1e-3f, 1.0f, 1e-3f, 1.0f + 0x1p-7f}};
  for (const auto& c : cases) {
    const float xw[2] = {c[0], c[1]}, ww[2] = {c[2], c[3]};
    const PackedWeight one = pack_weight_bf16(ww, 1, 2);
    float got = 1.0f;
    linear_packed(pool, xw, 1, one, nullptr, &got);
    const float want = bf16_gemm::dot_pair(0.0f, pair(c[1], c[0]), pair(c[3], c[2]));
    EXPECT_EQ(std::memcmp(&got, &want, 4), 0) << got << " vs " << want;
  }
}

TEST(Bf16Gemm, IsTheFp32ChainOnNormalValuesAndARowStandsAlone) {
  // bf16 values, none tiny: the bf16 GEMM (hardware or emulated) gives the fp32 kernels' chain.
  const Problem p = bf16_problem(300, 95, 40, 5, false);
  const PackedWeight pw = pack_weight_bf16(p.w.data(), p.out, p.in);
  const PackedWeight pf = pack_weight(p.w.data(), p.out, p.in);
  ThreadPool one(1), three(3);
  std::vector<float> chain(static_cast<std::size_t>(p.rows * p.out)), em(chain.size()),
      hw(chain.size());
  linear_packed(three, p.x.data(), p.rows, pf, p.b.data(), chain.data());
  linear_packed(three, p.x.data(), p.rows, pw, p.b.data(), em.data(), "bf16-emulated");
  linear_packed(three, p.x.data(), p.rows, pw, p.b.data(), hw.data());
  EXPECT_EQ(std::memcmp(chain.data(), em.data(), chain.size() * 4), 0);
  EXPECT_EQ(std::memcmp(chain.data(), hw.data(), chain.size() * 4), 0);
  // The last rows alone, one thread.
  std::vector<float> tail(static_cast<std::size_t>(5 * p.out));
  linear_packed(one, p.x.data() + (p.rows - 5) * p.in, 5, pw, p.b.data(), tail.data());
  EXPECT_EQ(std::memcmp(tail.data(), hw.data() + (p.rows - 5) * p.out, tail.size() * 4), 0);
}

}  // namespace
}  // namespace maxact
