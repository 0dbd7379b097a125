// MXFP4 and FP8-block dequantization against values worked out by hand from the format
// definitions (docs/NUMERICS.md §9).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "maxact/quant_layouts.h"
#include "test_util.h"

namespace maxact {
namespace {

using test::TempDir;

TEST(Mxfp4, HandComputedRows) {
  TempDir dir;
  // Two rows, one group each (32 values). Row 0: scale 127 (x1), row 1: scale 129 (x4).
  std::vector<unsigned char> blocks(2 * 16, 0);
  blocks[0] = 0x21;   // low nibble 1 -> +0.5 (element 0), high nibble 2 -> +1.0 (element 1)
  blocks[1] = 0xF7;   // 7 -> +6.0 (element 2), 0xF -> -6.0 (element 3)
  blocks[15] = 0x98;  // 8 -> -0.0 (element 30), 9 -> -0.5 (element 31)
  blocks[16] = 0x5C;  // row 1: 0xC -> -2.0, 0x5 -> +3.0, times 4
  write_safetensors(dir / "m.safetensors", {{"w_blocks", DType::kU8, {2, 1, 16}, blocks},
                                            {"w_scales", DType::kU8, {2, 1}, {127, 129}}});
  const Checkpoint c = Checkpoint::open_file(dir / "m.safetensors");
  const TensorView& b = *c.find("w_blocks");
  const TensorView& s = *c.find("w_scales");
  EXPECT_EQ(mxfp4_rows(b), 2);
  EXPECT_EQ(mxfp4_row_elems(b), 32);
  std::vector<float> out(64, 99.0f);
  dequant_mxfp4_rows(b, s, 0, 2, out.data());
  EXPECT_EQ(out[0], 0.5f);
  EXPECT_EQ(out[1], 1.0f);
  EXPECT_EQ(out[2], 6.0f);
  EXPECT_EQ(out[3], -6.0f);
  EXPECT_EQ(out[4], 0.0f);
  EXPECT_EQ(out[30], 0.0f);
  EXPECT_TRUE(std::signbit(out[30]));
  EXPECT_EQ(out[31], -0.5f);
  EXPECT_EQ(out[32], -8.0f);
  EXPECT_EQ(out[33], 12.0f);
  // A row range starting in the middle gives the same values.
  std::vector<float> row1(32);
  dequant_mxfp4_rows(b, s, 1, 2, row1.data());
  EXPECT_EQ(row1[0], -8.0f);
  EXPECT_EQ(row1[1], 12.0f);
}

TEST(Mxfp4, ExpertLayoutAndExtremeScales) {
  TempDir dir;
  // [E=2, out=1, G=2, 16]: rows flatten expert-major; scale 0 is 2^-127, 255 is 2^128 -> inf.
  std::vector<unsigned char> blocks(2 * 2 * 16, 0x22);  // every element +1.0
  write_safetensors(dir / "m.safetensors", {{"b", DType::kU8, {2, 1, 2, 16}, blocks},
                                            {"s", DType::kU8, {2, 1, 2}, {0, 127, 130, 255}}});
  const Checkpoint c = Checkpoint::open_file(dir / "m.safetensors");
  std::vector<float> out(2 * 64);
  dequant_mxfp4_rows(*c.find("b"), *c.find("s"), 0, 2, out.data());
  EXPECT_EQ(out[0], std::ldexp(1.0f, -127));  // fp32 subnormal, exact
  EXPECT_EQ(out[32], 1.0f);
  EXPECT_EQ(out[64], 8.0f);
  EXPECT_TRUE(std::isinf(out[96]));
}

// Every code under every scale: the fast path (a multiply by 2^(s-127)) gives ldexp's value bit
// for bit, subnormals, overflow to inf and signed zeros included.
TEST(Mxfp4, EveryCodeAndScaleMatchesLdexp) {
  TempDir dir;
  constexpr float kCode[16] = {+0.0f, +0.5f, +1.0f, +1.5f, +2.0f, +3.0f, +4.0f, +6.0f,
                               -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};
  // 256 rows, one group each; row s has scale s and codes 0..15 twice (low, high nibbles).
  std::vector<unsigned char> blocks(256 * 16), scales(256);
  for (int s = 0; s < 256; ++s) {
    scales[static_cast<std::size_t>(s)] = static_cast<unsigned char>(s);
    for (int j = 0; j < 16; ++j) {
      blocks[static_cast<std::size_t>(s * 16 + j)] =
          static_cast<unsigned char>(j | ((15 - j) << 4));
    }
  }
  write_safetensors(dir / "m.safetensors",
                    {{"b", DType::kU8, {256, 1, 16}, blocks}, {"s", DType::kU8, {256, 1}, scales}});
  const Checkpoint c = Checkpoint::open_file(dir / "m.safetensors");
  std::vector<float> out(256 * 32);
  dequant_mxfp4_rows(*c.find("b"), *c.find("s"), 0, 256, out.data());
  for (int s = 0; s < 256; ++s) {
    for (int j = 0; j < 16; ++j) {
      const float lo = std::ldexp(kCode[j], s - 127), hi = std::ldexp(kCode[15 - j], s - 127);
      const float got_lo = out[static_cast<std::size_t>(s * 32 + 2 * j)];
      const float got_hi = out[static_cast<std::size_t>(s * 32 + 2 * j + 1)];
      ASSERT_EQ(std::memcmp(&got_lo, &lo, 4), 0) << "scale " << s << " code " << j;
      ASSERT_EQ(std::memcmp(&got_hi, &hi, 4), 0) << "scale " << s << " code " << 15 - j;
    }
  }
}

TEST(Mxfp4, ShapeMismatchIsAnError) {
  TempDir dir;
  write_safetensors(dir / "m.safetensors",
                    {{"b", DType::kU8, {2, 1, 16}, std::vector<unsigned char>(32)},
                     {"s", DType::kU8, {2, 2}, {1, 2, 3, 4}},
                     {"f", DType::kBF16, {2, 1, 16}, std::vector<unsigned char>(64)}});
  const Checkpoint c = Checkpoint::open_file(dir / "m.safetensors");
  std::vector<float> out(64);
  test::expect_error([&] { dequant_mxfp4_rows(*c.find("b"), *c.find("s"), 0, 1, out.data()); },
                     ErrorCode::kTensorMismatch, {"'s'", "[2, 2]", "expected [2, 1]"});
  test::expect_error([&] { check_mxfp4_pair(*c.find("f"), *c.find("s")); },
                     ErrorCode::kTensorMismatch, {"'f'", "U8"});
}

TEST(Fp8Block, HandComputedBlocks) {
  TempDir dir;
  // weight [3, 4] in blocks [2, 2]: scale grid [2, 2].
  // E4M3 codes: 0x38 = 1.0, 0x40 = 2.0, 0xB8 = -1.0, 0x01 = 2^-9.
  const std::vector<unsigned char> w = {0x38, 0x40, 0x38, 0xB8,  //
                                        0x40, 0x38, 0x01, 0x38,  //
                                        0x38, 0x38, 0x40, 0x40};
  std::vector<float> scales = {0.5f, 2.0f, 4.0f, 0.25f};
  std::vector<unsigned char> sbytes(16);
  std::memcpy(sbytes.data(), scales.data(), 16);
  write_safetensors(dir / "f.safetensors", {{"x.weight", DType::kF8E4M3, {3, 4}, w},
                                            {"x.weight_scale_inv", DType::kF32, {2, 2}, sbytes}});
  const Checkpoint c = Checkpoint::open_file(dir / "f.safetensors");
  std::vector<float> out(12);
  dequant_fp8_block_rows(*c.find("x.weight"), *c.find("x.weight_scale_inv"), 2, 2, 0, 3,
                         out.data());
  const std::vector<float> want = {0.5f,  1.0f, 2.0f,
                                   -2.0f,  //
                                   1.0f,  0.5f, std::ldexp(2.0f, -9),
                                   2.0f,  //
                                   4.0f,  4.0f, 0.5f,
                                   0.5f};
  EXPECT_EQ(out, want);
  std::vector<float> last(4);
  dequant_fp8_block_rows(*c.find("x.weight"), *c.find("x.weight_scale_inv"), 2, 2, 2, 3,
                         last.data());
  EXPECT_EQ(last, std::vector<float>(want.begin() + 8, want.end()));
}

TEST(Fp8Block, NonSquareBlocksWithPartialEdges) {
  TempDir dir;
  // weight [3, 5] (all codes 0x38 = 1.0) in blocks [2, 3]: grid [2, 2]; the last block row has
  // one row and the last block column two columns.
  std::vector<unsigned char> w(15, 0x38);
  std::vector<float> scales = {1.0f, 2.0f, 3.0f, 4.0f};
  std::vector<unsigned char> sbytes(16);
  std::memcpy(sbytes.data(), scales.data(), 16);
  write_safetensors(dir / "f.safetensors", {{"x.weight", DType::kF8E4M3, {3, 5}, w},
                                            {"x.weight_scale_inv", DType::kF32, {2, 2}, sbytes}});
  const Checkpoint c = Checkpoint::open_file(dir / "f.safetensors");
  std::vector<float> out(15);
  dequant_fp8_block_rows(*c.find("x.weight"), *c.find("x.weight_scale_inv"), 2, 3, 0, 3,
                         out.data());
  const std::vector<float> want = {1, 1, 1, 2, 2,  //
                                   1, 1, 1, 2, 2,  //
                                   3, 3, 3, 4, 4};
  EXPECT_EQ(out, want);
  // Swapped block sizes describe a different grid ([2, 3]) and are rejected.
  test::expect_error(
      [&] { check_fp8_block_pair(*c.find("x.weight"), *c.find("x.weight_scale_inv"), 3, 2); },
      ErrorCode::kTensorMismatch, {"expected [1, 3]"});
}

TEST(Fp8Block, ScaleGridMustMatch) {
  TempDir dir;
  write_safetensors(dir / "f.safetensors",
                    {{"x.weight", DType::kF8E4M3, {3, 4}, std::vector<unsigned char>(12)},
                     {"x.weight_scale_inv", DType::kF32, {1, 2}, std::vector<unsigned char>(8)}});
  const Checkpoint c = Checkpoint::open_file(dir / "f.safetensors");
  test::expect_error(
      [&] { check_fp8_block_pair(*c.find("x.weight"), *c.find("x.weight_scale_inv"), 2, 2); },
      ErrorCode::kTensorMismatch, {"weight_scale_inv", "[1, 2]", "expected [2, 2]"});
}

}  // namespace
}  // namespace maxact
