// The quantizers' building blocks: exact sums of row sums, and the row kernels (FP16, INT8, the
// FP8 / bf16 casts) against scalar loops and IEEE conversions, with the FP8 clip rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "maxact/quant_check.h"
#include "quant/rounding.h"
#include "quant/row_kernels.h"

namespace maxact {
namespace {
TEST(ExactDoubleSum, OrderFreeAndExact) {
  const std::vector<double> v = {1e16, 1.0, -1e16, 3.5e-300, 0.25, -7.0, 1e300, -1e300};
  ExactDoubleSum a, b, c;
  for (double x : v) a.add(x);
  for (auto it = v.rbegin(); it != v.rend(); ++it) b.add(*it);
  EXPECT_EQ(a.value(), 1.0 + 0.25 - 7.0 + 3.5e-300);
  EXPECT_EQ(a.value(), b.value());
  ExactDoubleSum lo, hi;
  for (std::size_t i = 0; i < v.size(); ++i) (i % 2 ? lo : hi).add(v[i]);
  c.merge(lo);
  c.merge(hi);
  EXPECT_EQ(c.value(), a.value());
  EXPECT_EQ(ExactDoubleSum{}.value(), 0.0);
}

// The FP16 row kernel (F16C where available) must agree with the IEEE conversion of dtype.cpp on
// every kind of finite value: subnormals, ties, the overflow edge.
TEST(Quantizers, Fp16RowKernelMatchesIeeeConversion) {
  std::mt19937 rng(4);
  std::uniform_int_distribution<uint32_t> bits;
  std::vector<float> x;
  for (int i = 0; i < 2000000; ++i) {
    uint32_t b = bits(rng);
    if (i % 2) b = (b & 0x807FFFFFu) | ((100u + b % 60u) << 23);  // around fp16's range
    float v;
    std::memcpy(&v, &b, 4);
    if (std::isfinite(v)) x.push_back(v);
  }
  for (float v : {65504.0f, 65519.99f, 65520.0f, -65520.0f, 5.96046448e-8f, 2.98023224e-8f,
                  2.98023225e-8f, 6.10351562e-5f, 0.0f, -0.0f}) {
    x.push_back(v);
  }
  ASSERT_GT(x.size(), 1900000u);
  std::vector<float> e(x.size());
  const quant::CastCounts k = quant::f16_errors(x.data(), x.size(), e.data());
  uint64_t overflow = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float want = round_to_f16(x[i]);
    if (!std::isfinite(want)) {
      ++overflow;
      ASSERT_EQ(e[i], 0.0f) << x[i];
    } else {
      ASSERT_EQ(e[i], x[i] - want) << x[i];
    }
  }
  EXPECT_EQ(k.overflow, overflow);
  EXPECT_GT(overflow, 0u);
}

// The INT8 row kernel (AVX2 where available) against its scalar loop: same errors bit for bit,
// same counts, per-tensor and per-channel scales, zero scales, ties, saturation.
TEST(Quantizers, Int8RowKernelMatchesScalarLoop) {
  std::mt19937 rng(6);
  std::normal_distribution<float> g(0.0f, 3.0f);
  const std::size_t n = 1003;
  std::vector<float> x(n), s(n), t(n), e1(n), e2(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = i % 50 == 0 ? 0.0f : g(rng) * (i % 97 == 0 ? 100.0f : 1.0f);
    s[i] = i % 13 == 0 ? 0.0f : std::fabs(g(rng)) / 127.0f;
    t[i] = s[i] * 127.0f;
  }
  x[7] = 2.5f * 0.03125f;  // an exact tie at scale 1/32: rounds to even (2)
  s[7] = 0.03125f;
  const float tensor_s = 0.05f, tensor_t = 6.35f;
  for (bool per_channel : {false, true}) {
    const float* sp = per_channel ? s.data() : &tensor_s;
    const float* tp = per_channel ? t.data() : &tensor_t;
    const quant::Int8Counts a = quant::int8_errors(x.data(), n, sp, tp, per_channel, e1.data());
    const quant::Int8Counts b =
        quant::int8_errors_scalar(x.data(), n, sp, tp, per_channel, e2.data());
    EXPECT_EQ(a.clipped, b.clipped);
    EXPECT_EQ(a.exceeded, b.exceeded);
    EXPECT_GT(a.clipped, 0u);
    EXPECT_EQ(std::memcmp(e1.data(), e2.data(), n * sizeof(float)), 0);
  }
  EXPECT_EQ(e1[7], 0.5f * 0.03125f);  // 2.5 -> 2: the error is half a step
}

// The FP8 / FP16 / BF16 row kernels (AVX2, F16C where available) against their scalar loops and
// against the public roundings: values spread over 2^-30 .. 2^20 (FP8 subnormals after scaling,
// saturation, FP16 overflow), exact ties included.
TEST(Quantizers, CastRowKernelsMatchScalarLoops) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> ex(-30.0f, 20.0f), sg(-1.0f, 1.0f);
  const std::size_t n = 4099;
  std::vector<float> x(n), e1(n), e2(n);
  for (auto& v : x) v = std::copysign(std::exp2(ex(rng)), sg(rng));
  x[3] = 464.0f * 0.5f;    // E4M3 tie at the top with s = 0.5 (stays 448: no clip)
  x[4] = 61440.0f * 0.5f;  // E5M2 tie at the top (rounds past 57344: clips)
  x[5] = 65520.0f;         // FP16 overflow
  x[6] = 0.0f;
  for (quant::Fp8 f : {quant::Fp8::kE4m3, quant::Fp8::kE5m2}) {
    const auto a = quant::fp8_errors(x.data(), n, 0.5f, 100.0f, f, e1.data());
    const auto b = quant::fp8_errors_scalar(x.data(), n, 0.5f, 100.0f, f, e2.data());
    EXPECT_EQ(a.clipped, b.clipped);
    EXPECT_EQ(a.exceeded, b.exceeded);
    EXPECT_GT(a.clipped, 0u);
    EXPECT_EQ(std::memcmp(e1.data(), e2.data(), n * sizeof(float)), 0);
    const bool e4 = f == quant::Fp8::kE4m3;
    for (std::size_t i = 0; i < n; ++i) {
      const float want =
          x[i] - (e4 ? round_to_e4m3(x[i] / 0.5f) : round_to_e5m2(x[i] / 0.5f)) * 0.5f;
      ASSERT_EQ(e1[i], want) << x[i];
    }
    EXPECT_EQ(e1[3], x[3] - 224.0f);
  }
  auto a = quant::f16_errors(x.data(), n, e1.data());
  auto b = quant::f16_errors_scalar(x.data(), n, e2.data());
  EXPECT_EQ(a.overflow, b.overflow);
  EXPECT_GE(a.overflow, 1u);
  EXPECT_EQ(e1[5], 0.0f);  // overflowed: out of the error sums
  EXPECT_EQ(std::memcmp(e1.data(), e2.data(), n * sizeof(float)), 0);
  for (std::size_t i = 0; i < n; ++i) {
    if (std::isfinite(round_to_f16(x[i]))) {
      ASSERT_EQ(e1[i], x[i] - round_to_f16(x[i])) << x[i];
    }
  }
  a = quant::bf16_errors(x.data(), n, e1.data());
  b = quant::bf16_errors_scalar(x.data(), n, e2.data());
  EXPECT_EQ(a.overflow, 0u);
  EXPECT_EQ(std::memcmp(e1.data(), e2.data(), n * sizeof(float)), 0);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(e1[i], x[i] - round_to_bf16(x[i])) << x[i];
}

TEST(Quantizers, ZeroScaleAndFp8ClipRule) {
  EXPECT_EQ(quantize_int8(5.0f, 0.0f), 0.0f);  // a channel calibration never saw
  // The rounding without libm: ties to even on both sides of 2^22 (spacing 1, then 0.5).
  EXPECT_EQ(quant::rne(2.5f), 2.0f);
  EXPECT_EQ(quant::rne(-3.5f), -4.0f);
  EXPECT_EQ(quant::rne(4194303.5f), 4194304.0f);
  EXPECT_EQ(quant::rne(4194304.5f), 4194304.0f);
  EXPECT_EQ(quant::rne(-4194305.5f), -4194306.0f);
  EXPECT_EQ(quant::rne(8388609.0f), 8388609.0f);
  EXPECT_FALSE(e4m3_clips(448.0f));
  EXPECT_FALSE(e4m3_clips(464.0f));  // tie between 448 and 480: even is 448, no saturation
  EXPECT_TRUE(e4m3_clips(464.01f));
  EXPECT_FALSE(e4m3_clips(-463.0f));
  EXPECT_TRUE(e4m3_clips(-1e6f));
  EXPECT_FALSE(e5m2_clips(61439.0f));
  EXPECT_TRUE(e5m2_clips(61440.0f));  // tie between 57344 and 65536: even is 65536
  EXPECT_FALSE(e5m2_clips(0.0f));
}

}  // namespace
}  // namespace maxact
