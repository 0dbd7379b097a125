// Reading well-formed safetensors: every dtype, row ranges, metadata, sharded checkpoints.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "maxact/safetensors.h"
#include "test_util.h"

namespace maxact {
namespace {

using test::TempDir;

template <typename T>
std::vector<unsigned char> raw(const std::vector<T>& v) {
  std::vector<unsigned char> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

TEST(Safetensors, EveryDtypeRoundTripsToHandValues) {
  TempDir dir;
  // Each tensor [2, 2] with bit patterns whose fp32 values are known exactly.
  const std::vector<TensorData> tensors = {
      {"f64", DType::kF64, {2, 2}, raw<double>({1.5, -2.0, 0.25, 1e10})},
      {"f32", DType::kF32, {2, 2}, raw<float>({1.5f, -2.0f, 0.25f, 3.0f})},
      {"f16", DType::kF16, {2, 2}, raw<uint16_t>({0x3E00, 0xC000, 0x3400, 0x7BFF})},
      {"bf16", DType::kBF16, {2, 2}, raw<uint16_t>({0x3FC0, 0xC000, 0x3E80, 0x4040})},
      {"e4m3", DType::kF8E4M3, {2, 2}, {0x3C, 0xC0, 0x28, 0x7E}},
      {"e5m2", DType::kF8E5M2, {2, 2}, {0x3E, 0xC0, 0x34, 0x7B}},
      {"i64", DType::kI64, {2, 2}, raw<int64_t>({1, -2, 3, -4})},
      {"i32", DType::kI32, {2, 2}, raw<int32_t>({1, -2, 3, -4})},
      {"i16", DType::kI16, {2, 2}, raw<int16_t>({1, -2, 3, -4})},
      {"i8", DType::kI8, {2, 2}, {1, 0xFE, 3, 0xFC}},
      {"u8", DType::kU8, {2, 2}, {1, 2, 3, 250}},
      {"bool", DType::kBool, {2, 2}, {1, 0, 1, 0}},
  };
  write_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});
  const Checkpoint c = Checkpoint::open(dir.path());
  EXPECT_EQ(c.tensors().size(), tensors.size());
  EXPECT_EQ(c.metadata().at("format"), "pt");
  const std::map<std::string, std::vector<float>> want = {
      {"f64", {1.5f, -2.0f, 0.25f, 1e10f}},
      {"f32", {1.5f, -2.0f, 0.25f, 3.0f}},
      {"f16", {1.5f, -2.0f, 0.25f, 65504.0f}},
      {"bf16", {1.5f, -2.0f, 0.25f, 3.0f}},
      {"e4m3", {1.5f, -2.0f, 0.25f, 448.0f}},
      {"e5m2", {1.5f, -2.0f, 0.25f, 57344.0f}},
      {"i64", {1, -2, 3, -4}},
      {"i32", {1, -2, 3, -4}},
      {"i16", {1, -2, 3, -4}},
      {"i8", {1, -2, 3, -4}},
      {"u8", {1, 2, 3, 250}},
      {"bool", {1, 0, 1, 0}},
  };
  for (const auto& [name, values] : want) {
    const TensorView* t = c.find(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->shape, (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(read_f32(*t), values) << name;
    // Row range: just the second row.
    float row[2];
    read_rows_f32(*t, 1, 2, row);
    EXPECT_EQ(row[0], values[2]) << name;
    EXPECT_EQ(row[1], values[3]) << name;
  }
}

TEST(Safetensors, RowRangesOfHigherRankAndScalars) {
  TempDir dir;
  std::vector<float> v(2 * 3 * 4);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  write_safetensors(dir / "a.safetensors", {{"t", DType::kF32, {2, 3, 4}, raw(v)},
                                            {"s", DType::kF32, {}, raw<float>({7.0f})},
                                            {"empty", DType::kBF16, {0, 5}, {}}});
  const Checkpoint c = Checkpoint::open_file(dir / "a.safetensors");
  const TensorView& t = *c.find("t");
  EXPECT_EQ(t.rows(), 2);
  EXPECT_EQ(t.row_elems(), 12);
  std::vector<float> row(12);
  read_rows_f32(t, 1, 2, row.data());
  EXPECT_EQ(row.front(), 12.0f);
  EXPECT_EQ(row.back(), 23.0f);
  EXPECT_EQ(read_f32(*c.find("s")), std::vector<float>{7.0f});
  EXPECT_EQ(c.find("empty")->numel(), 0);
  EXPECT_TRUE(read_f32(*c.find("empty")).empty());
  test::expect_error([&] { read_rows_f32(t, 1, 3, row.data()); }, ErrorCode::kRange,
                     {"a.safetensors", "'t'", "rows [1, 3)"});
}

TEST(Safetensors, UnalignedDataSection) {
  // A header whose length is not a multiple of 8 leaves the F32 data unaligned.
  TempDir dir;
  const std::string header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  ASSERT_NE(header.size() % 4, 0u);
  test::write_file(dir / "u.safetensors",
                   test::raw_safetensors(header, test::bytes_of({1.25f, -3.5f})));
  const Checkpoint c = Checkpoint::open_file(dir / "u.safetensors");
  EXPECT_EQ(read_f32(*c.find("x")), (std::vector<float>{1.25f, -3.5f}));
}

TEST(Safetensors, ShardedCheckpoint) {
  TempDir dir;
  write_safetensors(
      dir / "model-00001-of-00002.safetensors",
      {{"a", DType::kF32, {1}, raw<float>({1.0f})}, {"b", DType::kF32, {1}, raw<float>({2.0f})}});
  write_safetensors(dir / "model-00002-of-00002.safetensors",
                    {{"c", DType::kBF16, {1}, raw<uint16_t>({0x4040})}});
  test::write_file(dir / "model.safetensors.index.json", R"({
    "metadata": {"total_size": 10},
    "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
                   "c": "model-00002-of-00002.safetensors"}})");
  const Checkpoint c = Checkpoint::open(dir.path());
  EXPECT_EQ(c.shards().size(), 2u);
  EXPECT_EQ(c.tensors().size(), 3u);
  EXPECT_EQ(read_f32(*c.find("c")), std::vector<float>{3.0f});
  EXPECT_EQ(c.tensor_bytes(), 10u);
  EXPECT_NE(c.find("b")->file->find("00001"), std::string::npos);
}

TEST(Safetensors, WriterAlignsDataTo8Bytes) {
  TempDir dir;
  write_safetensors(dir / "w.safetensors", {{"x", DType::kU8, {3}, {1, 2, 3}}});
  const SafetensorsFile f(dir / "w.safetensors");
  EXPECT_EQ(f.header_size() % 8, 0u);
  EXPECT_EQ(f.tensors()[0].file_offset % 8, 0u);
}

}  // namespace
}  // namespace maxact
