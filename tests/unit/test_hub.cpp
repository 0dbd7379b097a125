// Offline resolution of hub ids in a fake Hugging Face cache tree.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>

#include "maxact/hub.h"
#include "maxact/inspect.h"
#include "maxact/model.h"
#include "test_util.h"

namespace maxact {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::TempDir;

const std::string kHash1 = "0123456789abcdef0123456789abcdef01234567";
const std::string kHash2 = "fedcba9876543210fedcba9876543210fedcba98";

// Sets environment variables for the test's lifetime, restoring the previous values after.
class EnvGuard {
 public:
  ~EnvGuard() {
    for (auto& [k, v] : saved_) {
      if (v) {
        ::setenv(k.c_str(), v->c_str(), 1);
      } else {
        ::unsetenv(k.c_str());
      }
    }
  }
  void set(const std::string& k, const std::optional<std::string>& v) {
    if (!saved_.count(k)) {
      const char* old = std::getenv(k.c_str());
      saved_[k] = old ? std::optional<std::string>(old) : std::nullopt;
    }
    if (v) {
      ::setenv(k.c_str(), v->c_str(), 1);
    } else {
      ::unsetenv(k.c_str());
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

// models--org--name with refs/main -> kHash1 and refs/v2 -> kHash2, both snapshots present.
fs::path make_repo(const fs::path& cache, const std::string& org, const std::string& name) {
  const fs::path repo = cache / ("models--" + org + "--" + name);
  fs::create_directories(repo / "refs");
  fs::create_directories(repo / "snapshots" / kHash1);
  fs::create_directories(repo / "snapshots" / kHash2);
  test::write_file(repo / "refs" / "main", kHash1);  // HF writes no trailing newline
  test::write_file(repo / "refs" / "v2", kHash2 + "\n");
  return repo;
}

class Hub : public ::testing::Test {
 protected:
  void SetUp() override {
    env.set("HF_HUB_CACHE", std::nullopt);
    env.set("HUGGINGFACE_HUB_CACHE", std::nullopt);
    env.set("HF_HOME", std::nullopt);
    env.set("XDG_CACHE_HOME", std::nullopt);
    env.set("HOME", (tmp / "home").string());
  }
  EnvGuard env;
  TempDir tmp;
};

TEST_F(Hub, HubCacheVariable) {
  env.set("HF_HUB_CACHE", (tmp / "cache").string());
  const fs::path repo = make_repo(tmp / "cache", "org", "model");
  ResolvedModel r = resolve_model("org/model");
  EXPECT_EQ(r.dir, repo / "snapshots" / kHash1);
  EXPECT_NE(r.origin.find("org/model@main"), std::string::npos);
  EXPECT_EQ(resolve_model("org/model@v2").dir, repo / "snapshots" / kHash2);
  EXPECT_EQ(resolve_model("org/model@" + kHash2).dir, repo / "snapshots" / kHash2);
}

TEST_F(Hub, HfHomeThenHomeFallbacks) {
  env.set("HF_HOME", (tmp / "hfhome").string());
  const fs::path repo1 = make_repo(tmp / "hfhome" / "hub", "a", "b");
  EXPECT_EQ(resolve_model("a/b").dir, repo1 / "snapshots" / kHash1);
  env.set("HF_HOME", std::nullopt);
  const fs::path repo2 = make_repo(tmp / "home" / ".cache" / "huggingface" / "hub", "a", "b");
  EXPECT_EQ(resolve_model("a/b").dir, repo2 / "snapshots" / kHash1);
  env.set("XDG_CACHE_HOME", (tmp / "xdg").string());
  const fs::path repo3 = make_repo(tmp / "xdg" / "huggingface" / "hub", "a", "b");
  EXPECT_EQ(resolve_model("a/b").dir, repo3 / "snapshots" / kHash1);
}

TEST_F(Hub, PrecedenceWithSeveralVariablesSet) {
  const fs::path a = make_repo(tmp / "a", "o", "m");
  const fs::path b = make_repo(tmp / "b", "o", "m");
  const fs::path c = make_repo(tmp / "c" / "hub", "o", "m");
  env.set("HF_HOME", (tmp / "c").string());
  env.set("HUGGINGFACE_HUB_CACHE", (tmp / "b").string());
  env.set("HF_HUB_CACHE", (tmp / "a").string());
  EXPECT_EQ(resolve_model("o/m").dir, a / "snapshots" / kHash1);
  env.set("HF_HUB_CACHE", std::nullopt);
  EXPECT_EQ(resolve_model("o/m").dir, b / "snapshots" / kHash1);  // the legacy name
  env.set("HUGGINGFACE_HUB_CACHE", std::nullopt);
  EXPECT_EQ(resolve_model("o/m").dir, c / "snapshots" / kHash1);
}

TEST_F(Hub, PathsExpandUserAndVariables) {
  const fs::path repo = make_repo(tmp / "home" / "hfcache", "o", "m");
  env.set("HF_HUB_CACHE", "~/hfcache");
  EXPECT_EQ(resolve_model("o/m").dir, repo / "snapshots" / kHash1);
  env.set("MAXACT_TEST_ROOT", tmp.path().string());
  env.set("HF_HUB_CACHE", "${MAXACT_TEST_ROOT}/home/hfcache");
  EXPECT_EQ(resolve_model("o/m").dir, repo / "snapshots" / kHash1);
  env.set("HF_HUB_CACHE", "$MAXACT_TEST_ROOT/home/hfcache");
  EXPECT_EQ(resolve_model("o/m").dir, repo / "snapshots" / kHash1);
}

TEST_F(Hub, SingleSegmentIds) {
  env.set("HF_HUB_CACHE", (tmp / "cache").string());
  const fs::path repo = tmp / "cache" / "models--gpt2";
  fs::create_directories(repo / "refs");
  fs::create_directories(repo / "snapshots" / kHash1);
  test::write_file(repo / "refs" / "main", kHash1);
  EXPECT_EQ(resolve_model("gpt2").dir, repo / "snapshots" / kHash1);
}

TEST_F(Hub, ErrorsSayWhereTheyLooked) {
  env.set("HF_HUB_CACHE", (tmp / "cache").string());
  expect_error([] { resolve_model("org/absent"); }, ErrorCode::kNotFound,
               {"org/absent", (tmp / "cache" / "models--org--absent").string(), "(absent)"});
  make_repo(tmp / "cache", "org", "model");
  expect_error([] { resolve_model("org/model@nope"); }, ErrorCode::kNotFound,
               {"revision 'nope'", "no refs/nope"});
  fs::remove_all(tmp / "cache" / "models--org--model" / "snapshots" / kHash2);
  expect_error([] { resolve_model("org/model@v2"); }, ErrorCode::kNotFound,
               {"no snapshots/" + kHash2});
  test::write_file(tmp / "cache" / "models--org--model" / "refs" / "main", "garbage");
  expect_error([] { resolve_model("org/model"); }, ErrorCode::kNotFound,
               {"refs/main", "does not hold a commit hash"});
  expect_error([] { resolve_model("not an id"); }, ErrorCode::kNotFound,
               {"not a hub id of the form org/name[@revision]"});
  for (const char* bad : {"org/model@../x", "org/model@/etc/passwd", "org/model@a//b", "org/model@",
                          "org/model@refs/../../x"}) {
    expect_error([&] { resolve_model(bad); }, ErrorCode::kNotFound, {"invalid revision"});
  }
}

TEST_F(Hub, FolderArgumentWins) {
  fs::create_directories(tmp / "org" / "model");
  const fs::path cwd = fs::current_path();
  fs::current_path(tmp.path());
  const ResolvedModel r = resolve_model("org/model");
  fs::current_path(cwd);
  EXPECT_EQ(r.dir, fs::path("org/model"));
  EXPECT_NE(r.origin.find("folder"), std::string::npos);
}

TEST_F(Hub, OpensModelThroughBlobSymlinks) {
  // The real cache layout: snapshot files are symlinks into blobs/.
  env.set("HF_HUB_CACHE", (tmp / "cache").string());
  const fs::path repo = make_repo(tmp / "cache", "acme", "tiny-llama");
  fs::create_directories(repo / "blobs");
  for (const auto& e : fs::directory_iterator(test::fixture("llama_sharded"))) {
    const std::string name = e.path().filename().string();
    const fs::path blob = repo / "blobs" / ("blob-" + name);
    fs::copy_file(e.path(), blob);
    fs::create_symlink(fs::path("../../blobs") / ("blob-" + name),
                       repo / "snapshots" / kHash1 / name);
  }
  const Model m = Model::open("acme/tiny-llama");
  EXPECT_EQ(m.spec().family, "llama");
  EXPECT_EQ(m.checkpoint().shards().size(), 3u);
  EXPECT_NE(m.origin().find("snapshot " + kHash1), std::string::npos);
}

}  // namespace
}  // namespace maxact
