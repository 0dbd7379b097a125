// The maxact program end to end: exit codes, stdout/stderr discipline, no partial output.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace maxact {
namespace {

namespace fs = std::filesystem;
using test::run_command;

TEST(Cli, InspectPrintsSummary) {
  const auto r =
      run_command(test::maxact_binary() + " inspect " + test::fixture("gemma3").string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("family       gemma3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("5              attention(full) rope:global"), std::string::npos) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(Cli, InspectJsonParses) {
  const auto r =
      run_command(test::maxact_binary() + " inspect --json " + test::fixture("mixtral").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["family"], "mixtral");
  EXPECT_EQ(j["maxact_inspect_version"], 1);
  // The generator's own accounting of what it wrote.
  const auto m = nlohmann::json::parse(test::read_file(test::fixture("mixtral") / "fixture.json"));
  EXPECT_EQ(j["parameters"]["total"], m["params_total"]);
  EXPECT_EQ(j["parameters"]["active_per_token"], m["params_active"]);
  EXPECT_EQ(j["layers"].size(), 2u);
  EXPECT_EQ(j["moe"]["router"], "softmax_topk");
}

TEST(Cli, CorruptCheckpointFailsCleanly) {
  test::TempDir d;
  fs::copy(test::fixture("llama"), d.path(), fs::copy_options::recursive);
  // Truncate the file inside its header: the header length now runs past the end.
  const std::string bytes = test::read_file(d / "model.safetensors");
  test::write_file(d / "model.safetensors", bytes.substr(0, 100));
  const auto r = run_command(test::maxact_binary() + " inspect " + d.path().string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.out.empty()) << "partial output: " << r.out;
  EXPECT_NE(r.err.find("maxact: error:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("model.safetensors"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("past the end"), std::string::npos) << r.err;
}

TEST(Cli, UnsupportedAndMissing) {
  test::TempDir d;
  test::write_file(d / "config.json", R"({"model_type": "mamba"})");
  auto r = run_command(test::maxact_binary() + " inspect " + d.path().string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("'mamba' is not supported"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
  r = run_command(test::maxact_binary() + " inspect " + (d / "nothing-here").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nothing-here"), std::string::npos) << r.err;
  r = run_command(test::maxact_binary() + " inspect");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(r.out.empty());
}

}  // namespace
}  // namespace maxact

namespace maxact {
namespace {

// A one-merge byte-level tokenizer.json written by the test.
std::filesystem::path write_tiny_tokenizer(const test::TempDir& d) {
  const std::string json = R"({"added_tokens": [], "normalizer": null,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "post_processor": null, "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "\u00c3": 3, "\u00a9": 4},
              "merges": ["a b"]}})";
  test::write_file(d / "tokenizer.json", json);
  return d / "tokenizer.json";
}

TEST(CliTokenize, EncodeDecodeJson) {
  test::TempDir d;
  const auto tok = write_tiny_tokenizer(d).string();
  auto r = test::run_command(std::string(MAXACT_BINARY) + " tokenize " + tok + " --text abba");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "2 1 0\n");
  r = test::run_command(std::string(MAXACT_BINARY) + " tokenize " + d.path().string() +
                        " --text ab --json");
  EXPECT_EQ(nlohmann::json::parse(r.out)["ids"], nlohmann::json::array({2}));
  EXPECT_EQ(nlohmann::json::parse(r.out)["tokens"], nlohmann::json::array({"ab"}));
  r = test::run_command(std::string(MAXACT_BINARY) + " tokenize " + tok + " --decode 2,1,0");
  EXPECT_EQ(r.out, "abba\n");
  r = test::run_command(std::string(MAXACT_BINARY) + " tokenize " + tok + " --decode 2,x");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("'x' is not a token id"), std::string::npos) << r.err;
}

TEST(CliTokenize, InvalidUtf8IsReplacedWithAWarning) {
  test::TempDir d;
  const auto tok = write_tiny_tokenizer(d).string();
  // "a", an invalid byte, "b": the byte becomes U+FFFD, whose byte-level characters are not in
  // this tiny vocabulary, so it is dropped (no unk token) and only a, b remain.
  test::write_file(d / "in.txt",
                   "a\xFF"
                   "b");
  const auto r = test::run_command(std::string(MAXACT_BINARY) + " tokenize " + tok + " --file " +
                                   (d / "in.txt").string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("1 byte(s) of invalid UTF-8 replaced by U+FFFD"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.out, "0 1\n");
}

TEST(CliTokenize, Errors) {
  test::TempDir d;
  auto r = test::run_command(std::string(MAXACT_BINARY) + " tokenize " +
                             (d / "none.json").string() + " --text x");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.out.empty());
  test::write_file(d / "tokenizer.json", R"({"model": {"type": "Unigram", "vocab": []}})");
  r = test::run_command(std::string(MAXACT_BINARY) + " tokenize " + d.path().string() +
                        " --text x");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("model type 'Unigram' is not supported"), std::string::npos) << r.err;
  r = test::run_command(std::string(MAXACT_BINARY) + " tokenize " + d.path().string());
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace maxact

namespace maxact {
namespace {

TEST(CliCorpus, BuiltinSummaryExportAndStdin) {
  test::TempDir d;
  const std::string bin = MAXACT_BINARY;
  auto r = test::run_command(bin + " corpus --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_GE(j["samples"].get<int>(), 500);
  EXPECT_EQ(j["origin"], "builtin");
  EXPECT_TRUE(j["categories"].contains("chinese"));
  // A proportional subset, exported, read back through stdin: same content hash.
  r = test::run_command(bin + " corpus --samples 50 --seed 4 --json --export " +
                        (d / "sub.jsonl").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto sub = nlohmann::json::parse(r.out);
  EXPECT_EQ(sub["samples"], 50);
  r = test::run_command("cat " + (d / "sub.jsonl").string() + " | " + bin +
                        " corpus --corpus - --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["content_hash"], sub["content_hash"]);
}

TEST(CliCorpus, BadInputFailsWithFileAndLine) {
  test::TempDir d;
  test::write_file(d / "c.jsonl", "{\"text\": \"ok\"}\n{broken\n");
  auto r = test::run_command(std::string(MAXACT_BINARY) + " corpus --corpus " +
                             (d / "c.jsonl").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find("c.jsonl:2"), std::string::npos) << r.err;
  r = test::run_command(std::string(MAXACT_BINARY) + " corpus --skip-bad --json --corpus " +
                        (d / "c.jsonl").string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["skipped_bad_lines"], 1);
}

}  // namespace
}  // namespace maxact
