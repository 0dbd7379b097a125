// Every malformed-checkpoint class: a distinct error code, naming the file and the tensor.
#include <gtest/gtest.h>

#include "maxact/safetensors.h"
#include "test_util.h"

namespace maxact {
namespace {

using test::expect_error;
using test::raw_safetensors;
using test::TempDir;
using test::write_file;

const std::string kGood = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
const std::string kData(8, '\0');

class Malformed : public ::testing::Test {
 protected:
  // Writes `bytes` as bad.safetensors and expects opening it to fail with `code`.
  void expect(const std::string& bytes, ErrorCode code, std::vector<std::string> parts) {
    write_file(dir / "bad.safetensors", bytes);
    parts.push_back("bad.safetensors");
    expect_error([&] { SafetensorsFile f(dir / "bad.safetensors"); }, code, parts);
  }
  TempDir dir;
};

TEST_F(Malformed, FileShorterThanHeaderLength) {
  expect("abc", ErrorCode::kHeaderTooSmall, {"3 bytes"});
}

TEST_F(Malformed, HeaderLengthPastEndOfFile) {
  expect(raw_safetensors(kGood, kData, 5000), ErrorCode::kHeaderPastEnd, {"5000", "past the end"});
}

TEST_F(Malformed, HeaderLengthAbsurd) {
  expect(raw_safetensors(kGood, kData, int64_t{1} << 40), ErrorCode::kHeaderTooLarge,
         {"absurdly large"});
}

TEST_F(Malformed, HeaderNotJson) {
  expect(raw_safetensors(R"({"w": {"dtype": "F32", )", kData), ErrorCode::kHeaderJson,
         {"malformed JSON"});
}

TEST_F(Malformed, HeaderNotAnObject) {
  expect(raw_safetensors("[1,2]", kData), ErrorCode::kHeaderJson, {"must be a JSON object"});
}

TEST_F(Malformed, UnknownDtype) {
  expect(raw_safetensors(R"({"w":{"dtype":"F4","shape":[2],"data_offsets":[0,8]}})", kData),
         ErrorCode::kUnknownDtype, {"'w'", "unknown dtype 'F4'"});
}

TEST_F(Malformed, SpanDoesNotMatchShape) {
  expect(raw_safetensors(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", kData),
         ErrorCode::kSpanSize, {"'w'", "byte span 8", "[3]", "12 bytes"});
}

TEST_F(Malformed, ShapeProductOverflowsCannotMatchSpan) {
  // 2^32 * 2^32 elements wraps to 0 in 64 bits; a naive check would accept an empty span.
  expect(raw_safetensors(
             R"({"w":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", ""),
         ErrorCode::kSpanSize, {"'w'", "overflows"});
}

TEST_F(Malformed, EmptyShapeWithHugeTrailingDims) {
  // No elements, but a row of 2^64 elements would overflow every index computation.
  expect(raw_safetensors(
             R"({"w":{"dtype":"U8","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}})", ""),
         ErrorCode::kSpanSize, {"'w'", "overflows"});
}

TEST_F(Malformed, NumberBeyondDouble) {
  expect(raw_safetensors(R"({"w":{"dtype":"F32","shape":[1e999],"data_offsets":[0,8]}})", kData),
         ErrorCode::kHeaderJson, {"malformed JSON"});
}

TEST_F(Malformed, GapBetweenSpans) {
  expect(raw_safetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                         R"("b":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}})",
                         kData),
         ErrorCode::kSpanGap, {"2 bytes before tensor 'b'"});
}

TEST_F(Malformed, TrailingBytesAfterLastTensor) {
  expect(raw_safetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", kData),
         ErrorCode::kSpanGap, {"4 bytes after the last tensor"});
}

TEST_F(Malformed, EndBeforeBegin) {
  expect(raw_safetensors(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", kData),
         ErrorCode::kSpanSize, {"'w'", "before begin"});
}

TEST_F(Malformed, SpanOutsideDataSection) {
  expect(raw_safetensors(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", kData),
         ErrorCode::kSpanOutside, {"'w'", "[4, 12)", "outside the data section (8 bytes)"});
}

TEST_F(Malformed, OverlappingSpans) {
  expect(raw_safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                         kData),
         ErrorCode::kSpanOverlap, {"'b' overlaps tensor 'a'"});
}

TEST_F(Malformed, TensorListedTwiceInHeader) {
  expect(raw_safetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                         R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                         kData),
         ErrorCode::kDuplicateTensor, {"'a'", "listed twice"});
}

TEST_F(Malformed, NegativeShapeAndBadOffsets) {
  expect(raw_safetensors(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", kData),
         ErrorCode::kHeaderJson, {"'w'", "non-negative integers"});
  expect(raw_safetensors(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", kData),
         ErrorCode::kHeaderJson, {"'w'", "data_offsets"});
  expect(raw_safetensors(R"({"w":{"dtype":"F32","shape":[2]}})", kData), ErrorCode::kHeaderJson,
         {"'w'", "data_offsets"});
  expect(raw_safetensors(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", kData),
         ErrorCode::kHeaderJson, {"'w'", "dtype"});
  expect(
      raw_safetensors(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}})", kData),
      ErrorCode::kHeaderJson, {"'w'", "unexpected field 'extra'"});
}

TEST_F(Malformed, MetadataMustBeStrings) {
  expect(raw_safetensors(R"({"__metadata__":{"format":1}})", ""), ErrorCode::kHeaderJson,
         {"__metadata__", "'format'"});
}

TEST_F(Malformed, MissingFileIsIoError) {
  expect_error([&] { SafetensorsFile f(dir / "nope.safetensors"); }, ErrorCode::kIo,
               {"nope.safetensors", "cannot open"});
}

class MalformedIndex : public ::testing::Test {
 protected:
  void SetUp() override {
    write_safetensors(dir / "s1.safetensors", {{"a", DType::kF32, {1}, {0, 0, 0, 0}}});
    write_safetensors(dir / "s2.safetensors", {{"b", DType::kF32, {1}, {0, 0, 0, 0}}});
  }
  void index(const std::string& weight_map) {
    write_file(dir / "model.safetensors.index.json",
               R"({"metadata":{},"weight_map":)" + weight_map + "}");
  }
  void expect(ErrorCode code, std::vector<std::string> parts) {
    expect_error([&] { Checkpoint::open(dir.path()); }, code, parts);
  }
  TempDir dir;
};

TEST_F(MalformedIndex, WellFormedOpens) {
  index(R"({"a":"s1.safetensors","b":"s2.safetensors"})");
  EXPECT_EQ(Checkpoint::open(dir.path()).tensors().size(), 2u);
}

TEST_F(MalformedIndex, ShardMissing) {
  index(R"({"a":"s1.safetensors","b":"s3.safetensors"})");
  expect(ErrorCode::kShardMissing, {"model.safetensors.index.json", "'s3.safetensors'", "'b'"});
}

TEST_F(MalformedIndex, PathTraversal) {
  for (const char* bad : {"../s1.safetensors", "/etc/passwd", "sub/s1.safetensors", "..", ""}) {
    index(std::string(R"({"a":")") + bad + R"(","b":"s2.safetensors"})");
    expect(ErrorCode::kShardName, {"model.safetensors.index.json", "not a plain file name"});
  }
}

TEST_F(MalformedIndex, TensorListedTwiceInWeightMap) {
  index(R"({"a":"s1.safetensors","a":"s2.safetensors"})");
  expect(ErrorCode::kDuplicateTensor, {"model.safetensors.index.json", "'a'", "twice"});
}

TEST_F(MalformedIndex, TensorStoredInTwoShards) {
  write_safetensors(dir / "s2.safetensors",
                    {{"b", DType::kF32, {1}, {0, 0, 0, 0}}, {"a", DType::kF32, {1}, {0, 0, 0, 0}}});
  index(R"({"a":"s1.safetensors","b":"s2.safetensors"})");
  expect(ErrorCode::kDuplicateTensor, {"s2.safetensors", "'a'", "s1.safetensors"});
}

TEST_F(MalformedIndex, IndexPointsToWrongShard) {
  index(R"({"a":"s2.safetensors","b":"s2.safetensors"})");
  expect(ErrorCode::kShardContents, {"'a'", "'s2.safetensors'", "does not contain it"});
}

TEST_F(MalformedIndex, ShardHoldsTensorTheIndexDoesNotList) {
  index(R"({"a":"s1.safetensors"})");
  EXPECT_EQ(Checkpoint::open(dir.path()).tensors().size(), 1u);  // s2 is not part of the model
  write_safetensors(dir / "s1.safetensors", {{"a", DType::kF32, {1}, {0, 0, 0, 0}},
                                             {"hidden", DType::kF32, {1}, {0, 0, 0, 0}}});
  expect(ErrorCode::kShardContents, {"s1.safetensors", "holds tensor 'hidden'", "does not list"});
}

TEST_F(MalformedIndex, IndexNotJsonOrWithoutWeightMap) {
  write_file(dir / "model.safetensors.index.json", "{not json");
  expect(ErrorCode::kIndexJson, {"model.safetensors.index.json", "malformed JSON"});
  write_file(dir / "model.safetensors.index.json", R"({"metadata":{}})");
  expect(ErrorCode::kIndexJson, {"model.safetensors.index.json", "weight_map"});
  write_file(dir / "model.safetensors.index.json", R"({"weight_map":{}})");
  expect(ErrorCode::kIndexJson, {"'weight_map' is empty"});
  write_file(dir / "model.safetensors.index.json",
             R"({"metadata":{"total_size":1e999},"weight_map":{"a":"s1.safetensors"}})");
  expect(ErrorCode::kIndexJson, {"model.safetensors.index.json", "malformed JSON"});
}

TEST(CheckpointFolder, NoSafetensorsFiles) {
  TempDir dir;
  expect_error([&] { Checkpoint::open(dir.path()); }, ErrorCode::kNoCheckpoint,
               {dir.path().string(), "no model.safetensors"});
  write_safetensors(dir / "consolidated.safetensors", {});
  expect_error([&] { Checkpoint::open(dir.path()); }, ErrorCode::kNoCheckpoint,
               {"found only: consolidated.safetensors"});
}

}  // namespace
}  // namespace maxact
