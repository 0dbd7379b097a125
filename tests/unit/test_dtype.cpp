// Scalar conversions against hand-computed values, and exhaustive round trips where the format is
// small enough to enumerate.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "maxact/dtype.h"
#include "maxact/quantize.h"

namespace maxact {
namespace {

TEST(DType, NamesAndSizes) {
  for (auto [name, size] : std::vector<std::pair<const char*, std::size_t>>{{"F64", 8},
                                                                            {"F32", 4},
                                                                            {"F16", 2},
                                                                            {"BF16", 2},
                                                                            {"F8_E4M3", 1},
                                                                            {"F8_E5M2", 1},
                                                                            {"I64", 8},
                                                                            {"I32", 4},
                                                                            {"I16", 2},
                                                                            {"I8", 1},
                                                                            {"U8", 1},
                                                                            {"BOOL", 1}}) {
    auto t = dtype_from_name(name);
    ASSERT_TRUE(t.has_value()) << name;
    EXPECT_EQ(dtype_name(*t), name);
    EXPECT_EQ(dtype_size(*t), size) << name;
  }
  EXPECT_FALSE(dtype_from_name("F8_E4M3FN").has_value());
  EXPECT_FALSE(dtype_from_name("bf16").has_value());  // safetensors names are upper case
}

// The encoder (a search over the decoded codes) against the quantization check's rounding (bit
// arithmetic on the float): two independent implementations of E4M3's round-to-nearest-even.
TEST(DType, E4m3EncoderMatchesTheSimulatedRounding) {
  EXPECT_EQ(f32_to_e4m3(448.0f), 0x7E);
  EXPECT_EQ(f32_to_e4m3(1e9f), 0x7E);  // saturates, never NaN
  EXPECT_EQ(f32_to_e4m3(-1e9f), 0xFE);
  EXPECT_EQ(f32_to_e4m3(0.0f), 0x00);
  EXPECT_EQ(f32_to_e4m3(-0.0f), 0x80);
  EXPECT_EQ(f32_to_e4m3(std::nanf("")), 0x7F);
  EXPECT_EQ(f32_to_e4m3(std::ldexp(1.0f, -9)), 0x01);   // smallest subnormal
  EXPECT_EQ(f32_to_e4m3(std::ldexp(1.0f, -10)), 0x00);  // half of it: tie to even (zero)
  EXPECT_EQ(f32_to_e4m3(1.0625f), 0x38);  // 1 + 1/16: tie between 1 (0x38) and 1.125 (0x39)
  EXPECT_EQ(f32_to_e4m3(1.1875f), 0x3A);  // tie between 1.125 (0x39) and 1.25 (0x3A)
  for (int b = 0; b < 256; ++b) {
    const float v = e4m3_to_f32(static_cast<uint8_t>(b));
    if (!std::isnan(v) && !(v == 0.0f && b == 0x80)) {
      EXPECT_EQ(f32_to_e4m3(v), b) << b;
    }
  }
  uint32_t state = 12345;
  for (int i = 0; i < 200000; ++i) {
    state = state * 1664525u + 1013904223u;
    const float x = std::ldexp(static_cast<float>(state >> 8) / 16777216.0f - 0.5f,
                               static_cast<int>(state % 28) - 14);
    EXPECT_EQ(e4m3_to_f32(f32_to_e4m3(x)), round_to_e4m3(x)) << x;
  }
}

TEST(DType, Bf16HandValues) {
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xC000), -2.0f);
  EXPECT_EQ(bf16_to_f32(0x4049), 3.140625f);               // 0x40490000
  EXPECT_EQ(bf16_to_f32(0x0001), std::ldexp(1.0f, -133));  // smallest subnormal
  EXPECT_TRUE(std::isinf(bf16_to_f32(0x7F80)));
  EXPECT_TRUE(std::isnan(bf16_to_f32(0x7FC0)));
  EXPECT_TRUE(std::signbit(bf16_to_f32(0x8000)));
}

TEST(DType, Bf16EncoderRoundsHalfToEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  // 1 + 2^-8 lies exactly between 1 and 1 + 2^-7: ties to the even mantissa (1.0).
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
  // 1 + 3 * 2^-8 lies between 1 + 2^-7 (odd) and 1 + 2^-6 (even): goes up.
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);
  // Just above the tie rounds up.
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3F81);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // overflows to inf
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
}

TEST(DType, F16HandValues) {
  EXPECT_EQ(f16_to_f32(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xC000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7BFF), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x03FF), 1023 * std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)));
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7C00)));
  EXPECT_TRUE(std::isinf(f16_to_f32(0xFC00)) && f16_to_f32(0xFC00) < 0);
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7E00)));
}

TEST(DType, F16EncoderEdges) {
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7BFF);  // below the midpoint to 65536
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);  // the midpoint ties to even = inf (torch agrees)
  EXPECT_EQ(f32_to_f16(-1e6f), 0xFC00);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);      // half the smallest subnormal: even
  EXPECT_EQ(f32_to_f16(3 * std::ldexp(1.0f, -25)), 0x0002);  // 1.5 ulp: ties to even (2)
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie to even
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(std::nanf("")) & 0x7C00, 0x7C00);
}

TEST(DType, F16AndBf16RoundTripEveryPattern) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto u = static_cast<uint16_t>(h);
    const float f = f16_to_f32(u);
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), u) << std::hex << h;
    const float b = bf16_to_f32(u);
    if (std::isnan(b)) continue;
    ASSERT_EQ(f32_to_bf16(b), u) << std::hex << h;
  }
}

TEST(DType, E4M3HandValues) {
  EXPECT_EQ(e4m3_to_f32(0x38), 1.0f);    // exp 7 = bias
  EXPECT_EQ(e4m3_to_f32(0x7E), 448.0f);  // max: 1.75 * 2^8
  EXPECT_EQ(e4m3_to_f32(0xFE), -448.0f);
  EXPECT_EQ(e4m3_to_f32(0x08), std::ldexp(1.0f, -6));      // smallest normal
  EXPECT_EQ(e4m3_to_f32(0x01), std::ldexp(1.0f, -9));      // smallest subnormal
  EXPECT_EQ(e4m3_to_f32(0x07), 7 * std::ldexp(1.0f, -9));  // largest subnormal
  EXPECT_EQ(e4m3_to_f32(0x3C), 1.5f);
  EXPECT_EQ(e4m3_to_f32(0x78), 256.0f);  // e=15 is a normal exponent in the fn variant
  EXPECT_TRUE(std::isnan(e4m3_to_f32(0x7F)));
  EXPECT_TRUE(std::isnan(e4m3_to_f32(0xFF)));
  EXPECT_TRUE(std::signbit(e4m3_to_f32(0x80)) && e4m3_to_f32(0x80) == 0.0f);
  int nans = 0;
  for (int b = 0; b < 256; ++b) nans += std::isnan(e4m3_to_f32(static_cast<uint8_t>(b)));
  EXPECT_EQ(nans, 2);  // no infinities, only two NaN codes
}

TEST(DType, E5M2HandValues) {
  EXPECT_EQ(e5m2_to_f32(0x3C), 1.0f);
  EXPECT_EQ(e5m2_to_f32(0x7B), 57344.0f);  // max: 1.75 * 2^15
  EXPECT_EQ(e5m2_to_f32(0x04), std::ldexp(1.0f, -14));
  EXPECT_EQ(e5m2_to_f32(0x01), std::ldexp(1.0f, -16));
  EXPECT_TRUE(std::isinf(e5m2_to_f32(0x7C)));
  EXPECT_TRUE(std::isinf(e5m2_to_f32(0xFC)) && e5m2_to_f32(0xFC) < 0);
  EXPECT_TRUE(std::isnan(e5m2_to_f32(0x7D)));
  // E5M2 is the top byte of an F16 with the same value.
  for (int b = 0; b < 256; ++b) {
    const float a = e5m2_to_f32(static_cast<uint8_t>(b));
    const float f = f16_to_f32(static_cast<uint16_t>(b << 8));
    if (std::isnan(a)) {
      EXPECT_TRUE(std::isnan(f));
    } else {
      EXPECT_EQ(a, f) << b;
    }
  }
}

TEST(DType, ConvertIntegersBoolAndF64) {
  float out[4];
  const int64_t i64[] = {-3, 0, 1 << 20, 7};
  convert_to_f32(DType::kI64, i64, 4, out);
  EXPECT_EQ(out[0], -3.0f);
  EXPECT_EQ(out[2], 1048576.0f);
  const int32_t i32[] = {-2147483647 - 1, 5, 0, -1};
  convert_to_f32(DType::kI32, i32, 4, out);
  EXPECT_EQ(out[0], -2147483648.0f);
  EXPECT_EQ(out[3], -1.0f);
  const int16_t i16[] = {-32768, 32767, 0, 2};
  convert_to_f32(DType::kI16, i16, 4, out);
  EXPECT_EQ(out[0], -32768.0f);
  EXPECT_EQ(out[1], 32767.0f);
  const uint8_t u8[] = {0, 255, 128, 1};
  convert_to_f32(DType::kU8, u8, 4, out);
  EXPECT_EQ(out[1], 255.0f);
  convert_to_f32(DType::kI8, u8, 4, out);
  EXPECT_EQ(out[1], -1.0f);
  EXPECT_EQ(out[2], -128.0f);
  const uint8_t bools[] = {0, 1, 0, 2};
  convert_to_f32(DType::kBool, bools, 4, out);
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[1], 1.0f);
  EXPECT_EQ(out[3], 1.0f);
  const double f64[] = {0.1, -1e300, 3.0, 1.0 + 1e-12};
  convert_to_f32(DType::kF64, f64, 4, out);
  EXPECT_EQ(out[0], 0.1f);
  EXPECT_TRUE(std::isinf(out[1]) && out[1] < 0);
  EXPECT_EQ(out[3], 1.0f);
  // Just above FLT_MAX but below the rounding midpoint to 2^128: rounds to FLT_MAX, not inf.
  const double fmax = std::numeric_limits<float>::max();
  const double edges[] = {fmax + 0x1p102, -(fmax + 0x1p103), fmax, std::nan("")};
  convert_to_f32(DType::kF64, edges, 4, out);
  EXPECT_EQ(out[0], std::numeric_limits<float>::max());
  EXPECT_TRUE(std::isinf(out[1]) && out[1] < 0);
  EXPECT_EQ(out[2], std::numeric_limits<float>::max());
  EXPECT_TRUE(std::isnan(out[3]));
}

TEST(DType, ConvertReadsUnalignedSources) {
  // Checkpoint data starts 8 + header bytes into the file: any alignment is possible.
  alignas(8) unsigned char buf[16] = {};
  const float v = 2.5f;
  std::memcpy(buf + 1, &v, 4);
  float out = 0;
  convert_to_f32(DType::kF32, buf + 1, 1, &out);
  EXPECT_EQ(out, 2.5f);
  const uint16_t h = 0x3C00;
  std::memcpy(buf + 3, &h, 2);
  convert_to_f32(DType::kF16, buf + 3, 1, &out);
  EXPECT_EQ(out, 1.0f);
}

}  // namespace
}  // namespace maxact
