// Quantizers against hand-computed values and against the formats' own decode tables; error
// metrics against a worked example.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include "maxact/dtype.h"
#include "maxact/quantize.h"

namespace maxact {
namespace {

TEST(Int8, TiesSaturationZerosNan) {
  EXPECT_EQ(quantize_int8(2.5f, 1.0f), 2.0f);  // ties to even, as torch.round
  EXPECT_EQ(quantize_int8(3.5f, 1.0f), 4.0f);
  EXPECT_EQ(quantize_int8(-2.5f, 1.0f), -2.0f);
  EXPECT_EQ(quantize_int8(0.49f, 1.0f), 0.0f);
  EXPECT_EQ(quantize_int8(200.0f, 1.0f), 127.0f);  // saturates at +-127 (symmetric)
  EXPECT_EQ(quantize_int8(-1e9f, 1.0f), -127.0f);
  EXPECT_EQ(quantize_int8(1.0f, 0.5f), 1.0f);
  EXPECT_EQ(quantize_int8(0.3f, 0.25f), 0.25f);  // 1.2 -> 1
  EXPECT_EQ(quantize_int8(0.0f, 0.1f), 0.0f);
  EXPECT_TRUE(std::isnan(quantize_int8(std::nanf(""), 1.0f)));
}

// Every finite value of a one-byte format, sorted, from its decode table.
std::vector<float> grid(float (*decode)(uint8_t)) {
  std::set<float> s;
  for (int b = 0; b < 256; ++b) {
    const float v = decode(static_cast<uint8_t>(b));
    if (std::isfinite(v)) s.insert(v);
  }
  return {s.begin(), s.end()};
}

// Even mantissa: the code with the lower last bit (for two neighbours, exactly one is even).
bool even_code(float v, float (*decode)(uint8_t)) {
  for (int b = 0; b < 256; ++b) {
    if (decode(static_cast<uint8_t>(b)) == v &&
        !std::signbit(decode(static_cast<uint8_t>(b))) == !std::signbit(v)) {
      return (b & 1) == 0;
    }
  }
  return false;
}

void check_against_table(float (*round)(float), float (*decode)(uint8_t), float max) {
  const std::vector<float> g = grid(decode);
  for (std::size_t i = 0; i < g.size(); ++i) {
    EXPECT_EQ(round(g[i]), g[i]) << g[i];  // representable values are fixed points
    if (i + 1 == g.size()) break;
    const float lo = g[i], hi = g[i + 1];
    const float mid = lo + (hi - lo) / 2;  // exact: neighbours differ by a power of two
    EXPECT_EQ(round(mid), even_code(lo, decode) ? lo : hi) << lo << ".." << hi;
    EXPECT_EQ(round(std::nextafter(mid, lo)), lo) << mid;
    EXPECT_EQ(round(std::nextafter(mid, hi)), hi) << mid;
  }
  EXPECT_EQ(round(max * 1.01f), max);  // saturation
  EXPECT_EQ(round(-max * 4.0f), -max);
  EXPECT_EQ(round(std::numeric_limits<float>::infinity()), max);
  EXPECT_TRUE(std::isnan(round(std::nanf(""))));
}

TEST(Fp8, E4M3MatchesItsDecodeTable) {
  check_against_table(&round_to_e4m3, &e4m3_to_f32, 448.0f);
  // Hand values: subnormal ties and the top of the range.
  EXPECT_EQ(round_to_e4m3(std::ldexp(1.0f, -10)), 0.0f);  // half the min subnormal: even (0)
  EXPECT_EQ(round_to_e4m3(3 * std::ldexp(1.0f, -10)),
            std::ldexp(1.0f, -8));           // 1.5 ulp -> 2 ulp (even)
  EXPECT_EQ(round_to_e4m3(1.0625f), 1.0f);   // tie 1 / 1.125 -> 1
  EXPECT_EQ(round_to_e4m3(1.1875f), 1.25f);  // tie 1.125 / 1.25 -> 1.25
  EXPECT_EQ(round_to_e4m3(432.0f), 448.0f);  // tie 416 / 448 -> 448
  EXPECT_EQ(round_to_e4m3(-0.0f), 0.0f);
  EXPECT_TRUE(std::signbit(round_to_e4m3(-0.0f)));
}

TEST(Fp8, E5M2MatchesItsDecodeTable) {
  check_against_table(&round_to_e5m2, &e5m2_to_f32, 57344.0f);
  EXPECT_EQ(round_to_e5m2(1.125f), 1.0f);  // tie 1 / 1.25 -> 1 (even)
  EXPECT_EQ(round_to_e5m2(1.375f), 1.5f);  // tie 1.25 / 1.5 -> 1.5 (even)
}

TEST(Casts, F16AndBf16) {
  EXPECT_EQ(round_to_f16(65504.0f), 65504.0f);
  EXPECT_TRUE(std::isinf(round_to_f16(65520.0f)));  // overflows, unlike the FP8 formats
  EXPECT_EQ(round_to_f16(1.0f + std::ldexp(1.0f, -11)), 1.0f);
  EXPECT_EQ(round_to_bf16(1.0f + std::ldexp(1.0f, -8)), 1.0f);
  EXPECT_EQ(round_to_bf16(3.0e38f), bf16_to_f32(f32_to_bf16(3.0e38f)));
}

TEST(ErrorStats, WorkedExample) {
  ErrorStats s;
  s.add(1.0f, 1.0f);
  s.add(2.0f, 1.5f);  // e = 0.5
  s.add(-4.0f, -4.0f);
  EXPECT_EQ(s.count(), 3u);
  EXPECT_DOUBLE_EQ(s.mae(), 0.5 / 3);
  EXPECT_DOUBLE_EQ(s.rmse(), std::sqrt(0.25 / 3));
  EXPECT_DOUBLE_EQ(s.relative_mae(), 0.5 / 7);
  EXPECT_DOUBLE_EQ(s.sqnr_db(), 10 * std::log10(21 / 0.25));
  ErrorStats lossless;
  lossless.add(3.0f, 3.0f);
  EXPECT_TRUE(std::isinf(lossless.sqnr_db()));
  ErrorStats over;
  over.add(70000.0f, round_to_f16(70000.0f));
  EXPECT_EQ(over.nonfinite(), 1u);
  ErrorStats a, b, ab;
  a.add(1.0f, 1.0f);
  b.add(2.0f, 1.5f);
  ab.add(2.0f, 1.5f);
  ab.add(1.0f, 1.0f);
  a.merge(b);
  EXPECT_EQ(a.sqnr_db(), ab.sqnr_db());
}

}  // namespace
}  // namespace maxact
