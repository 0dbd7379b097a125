// The maxact program end to end: exit codes, stdout/stderr discipline, no partial output.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace maxact {
namespace {

namespace fs = std::filesystem;
using test::run_command;

std::string bin() {
  return MAXACT_BINARY;
}

TEST(Cli, InspectPrintsSummary) {
  const auto r = run_command(bin() + " inspect " + test::fixture("gemma3").string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("family       gemma3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("5              attention(full) rope:global"), std::string::npos) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(Cli, InspectJsonParses) {
  const auto r = run_command(bin() + " inspect --json " + test::fixture("mixtral").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["family"], "mixtral");
  EXPECT_EQ(j["maxact_inspect_version"], 1);
  EXPECT_GT(j["parameters"]["total"].get<int64_t>(),
            j["parameters"]["active_per_token"].get<int64_t>());
}

TEST(Cli, CorruptCheckpointFailsCleanly) {
  test::TempDir d;
  fs::copy(test::fixture("llama"), d.path(), fs::copy_options::recursive);
  // Truncate the file inside its header: the header length now runs past the end.
  const std::string bytes = test::read_file(d / "model.safetensors");
  test::write_file(d / "model.safetensors", bytes.substr(0, 100));
  const auto r = run_command(bin() + " inspect " + d.path().string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.out.empty()) << "partial output: " << r.out;
  EXPECT_NE(r.err.find("maxact: error:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("model.safetensors"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("past the end"), std::string::npos) << r.err;
}

TEST(Cli, UnsupportedAndMissing) {
  test::TempDir d;
  test::write_file(d / "config.json", R"({"model_type": "mamba"})");
  auto r = run_command(bin() + " inspect " + d.path().string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("'mamba' is not supported"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
  r = run_command(bin() + " inspect " + (d / "nothing-here").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nothing-here"), std::string::npos) << r.err;
  r = run_command(bin() + " inspect");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(r.out.empty());
}

}  // namespace
}  // namespace maxact
