// Each malformed-checkpoint class through the program: exit status 1, the specific message on
// stderr naming the file, nothing on stdout.
#include <gtest/gtest.h>

#include "test_util.h"

namespace maxact {
namespace {

namespace fs = std::filesystem;
using test::raw_safetensors;

struct Case {
  const char* name;
  std::string file;      // model.safetensors contents ("" = leave the fixture's file)
  std::string index;     // model.safetensors.index.json contents ("" = none)
  std::string expected;  // fragment of the error message
};

const std::string kData(8, '\0');

std::vector<Case> cases() {
  return {
      {"too_small", "abc", "", "shorter than the 8-byte header length"},
      {"header_past_end",
       raw_safetensors(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", kData, 4096),
       "", "runs past the end of the file"},
      {"header_absurd",
       raw_safetensors(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", kData,
                       int64_t{1} << 50),
       "", "absurdly large"},
      {"header_json", raw_safetensors("{\"w\":", kData), "", "malformed JSON"},
      {"unknown_dtype",
       raw_safetensors(R"({"w":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,8]}})", kData), "",
       "unknown dtype 'Q4_K'"},
      {"span_size",
       raw_safetensors(R"({"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,8]}})", kData), "",
       "does not match dtype BF16"},
      {"span_outside",
       raw_safetensors(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", kData), "",
       "outside the data section"},
      {"overlap",
       raw_safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                       kData),
       "", "overlaps"},
      {"duplicate",
       raw_safetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                       R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                       kData),
       "", "listed twice"},
      {"shard_missing", "", R"({"weight_map":{"a":"model-00009.safetensors"}})",
       "'model-00009.safetensors'"},
      {"shard_traversal", "", R"({"weight_map":{"a":"../../etc/passwd"}})",
       "not a plain file name"},
      {"index_duplicate", "", R"({"weight_map":{"a":"model.safetensors","a":"model.safetensors"}})",
       "listed twice in weight_map"},
  };
}

TEST(CliErrors, EveryMalformedClassExitsNonZeroWithItsMessage) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    test::TempDir d;
    fs::copy(test::fixture("llama"), d.path(), fs::copy_options::recursive);
    if (!c.file.empty()) test::write_file(d / "model.safetensors", c.file);
    if (!c.index.empty()) test::write_file(d / "model.safetensors.index.json", c.index);
    const auto r = test::run_command(std::string(MAXACT_BINARY) + " inspect " + d.path().string());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(r.err.find("maxact: error: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.index.empty() ? "model.safetensors" : "model.safetensors.index.json"),
              std::string::npos)
        << r.err;
  }
}

}  // namespace
}  // namespace maxact
