// `maxact scan --bootstrap K --samples N --format study`: per subset the study's two files, as a
// plain `scan --format study` of that subset writes them, and the bootstrap report, in one folder
// written all at once; bad outputs refused before any scanning.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace maxact {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::run_command;

// Eight id samples in two categories, of different lengths.
std::string corpus(const test::TempDir& dir) {
  const auto p = dir / "ids.jsonl";
  std::string s;
  for (int i = 0; i < 8; ++i) {
    json ids = json::array();
    for (int k = 0; k < 6 + 7 * i; ++k) ids.push_back((k * 41 + i * 7) % 256);
    s += json{{"input_ids", ids}, {"category", i % 2 ? "math" : "code"}}.dump() + "\n";
  }
  test::write_file(p, s);
  return p.string();
}

std::vector<std::string> listing(const fs::path& folder) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(folder)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(CliBootstrap, StudyFilesOfEachSubsetAreThoseOfAPlainScanOfIt) {
  test::TempDir dir;
  const std::string base = test::maxact_binary() + " scan " + test::fixture("llama").string() +
                           " --corpus " + corpus(dir) + " --ids-native -q --samples 3 ";
  const fs::path out = dir / "study";
  const auto r = run_command(base + "--bootstrap 2 --seed 4 --format study -o " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(listing(out), (std::vector<std::string>{
                              "llama_s3_bootstrap.json", "llama_s3_r0_activation_stats.json",
                              "llama_s3_r0_top5_stats.json", "llama_s3_r1_activation_stats.json",
                              "llama_s3_r1_top5_stats.json"}));
  EXPECT_NE(r.out.find("CV "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("written      " + (out / "llama_s3_r0_activation_stats.json").string()),
            std::string::npos)
      << r.out;
  const auto b = json::parse(test::read_file(out / "llama_s3_bootstrap.json"));
  EXPECT_EQ(b["schema"], "maxact.scan.bootstrap");
  ASSERT_EQ(b["subsets"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    // Subset i is what --samples 3 --seed 4+i selects (no length buckets here, which would be
    // drawn from --seed 4 for every subset): a plain scan of it writes the same bytes.
    const fs::path plain = dir / ("plain" + std::to_string(i));
    const auto p = run_command(base + "--seed " + std::to_string(4 + i) + " --format study -o " +
                               plain.string());
    ASSERT_EQ(p.exit_code, 0) << p.err;
    const std::string stem = "llama_s3_r" + std::to_string(i) + "_";
    for (const std::string kind : {"activation_stats.json", "top5_stats.json"}) {
      EXPECT_EQ(test::read_file(out / (stem + kind)), test::read_file(plain / ("llama_" + kind)))
          << stem + kind;
    }
    const auto act = json::parse(test::read_file(out / (stem + "activation_stats.json")));
    EXPECT_EQ(act["num_samples"], 3);
    // Every tap the study names is scanned, not only those its maximum is taken over.
    EXPECT_TRUE(act["per_layer_stats"].contains("layer_1_mlp_gate"));
    EXPECT_EQ(act["global_max_activation"].get<double>(),
              b["subsets"][i]["global_max"]["value"].get<double>());
    EXPECT_EQ(b["subsets"][i]["seed"], 4 + i);
  }
  const auto& s = b["abs_global_max"];
  const double mean = s["mean"], sd = s["std"], cv = s["cv_percent"];
  EXPECT_NEAR(cv, sd / mean * 100.0, 1e-12 * cv);
}

TEST(CliBootstrap, StudyOutputsRefusedBeforeScanning) {
  test::TempDir dir;
  const std::string base = test::maxact_binary() + " scan " + test::fixture("llama").string() +
                           " --corpus " + corpus(dir) +
                           " --ids-native -q --samples 3 --bootstrap 2 --format study ";
  auto expect_fail = [&](const std::string& args, const std::string& msg) {
    const auto r = run_command(base + args);
    EXPECT_EQ(r.exit_code, 1) << args;
    EXPECT_NE(r.err.find(msg), std::string::npos) << args << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  };
  expect_fail("", "--format study needs -o FOLDER");
  // -o names a file: left as it was.
  test::write_file(dir / "file", "keep");
  expect_fail("-o " + (dir / "file").string(), "needs a folder here, not a file");
  EXPECT_EQ(test::read_file(dir / "file"), "keep");
  expect_fail("-o " + (dir / "missing" / "study").string(), "does not exist");
  EXPECT_FALSE(fs::exists(dir / "missing"));
  // One of the files could not be written (a folder has its name): none is.
  fs::create_directories(dir / "out" / "llama_s3_r1_top5_stats.json");
  expect_fail("-o " + (dir / "out").string(), "is a folder, not a file");
  EXPECT_EQ(listing(dir / "out"), std::vector<std::string>{"llama_s3_r1_top5_stats.json"});
  expect_fail("-o " + (dir / "new").string() + " --csv " + (dir / "t.csv").string(),
              "--csv does not apply to --bootstrap");
  EXPECT_FALSE(fs::exists(dir / "new"));
}

}  // namespace
}  // namespace maxact
