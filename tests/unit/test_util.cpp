#include "test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace maxact::test {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "maxact-test-XXXXXX").string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string raw_safetensors(const std::string& header, const std::string& data,
                            int64_t header_len) {
  const uint64_t n = header_len < 0 ? header.size() : static_cast<uint64_t>(header_len);
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

std::string bytes_of(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

void expect_error(const std::function<void()>& f, ErrorCode code,
                  const std::vector<std::string>& parts) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(error_code_name(e.code()), error_code_name(code)) << "message: " << e.what();
    for (const auto& p : parts) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "expected '" << p << "' in: " << e.what();
    }
    return;
  }
  ADD_FAILURE() << "expected an error of kind " << error_code_name(code);
}

fs::path fixture(const std::string& name) {
  return fs::path(MAXACT_FIXTURE_DIR) / name;
}

CommandResult run_command(const std::string& cmd) {
  TempDir tmp;
  const fs::path out = tmp / "out", err = tmp / "err";
  const std::string full = cmd + " >" + out.string() + " 2>" + err.string();
  const int status = std::system(full.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

std::vector<TokenSequence> sequences_of_lengths(const std::vector<int>& lengths, int vocab,
                                                unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<TokenSequence> out;
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    TokenSequence s;
    s.sample = i;
    s.category = i % 3 == 0 ? "code" : (i % 3 == 1 ? "math" : "");
    for (int p = 0; p < lengths[i]; ++p) s.ids.push_back(static_cast<int32_t>(rng() % vocab));
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<TokenSequence> random_sequences(int n, int max_len, int vocab, unsigned seed) {
  std::mt19937 rng(seed + 1000);
  std::vector<int> lengths;
  for (int i = 0; i < n; ++i)
    lengths.push_back(1 + static_cast<int>(rng() % static_cast<unsigned>(max_len)));
  return sequences_of_lengths(lengths, vocab, seed);
}

std::vector<Mutation> mutations(const nlohmann::json& base, int n, unsigned seed) {
  using nlohmann::json;
  std::vector<std::string> leaves;
  const json flat = base.flatten();  // kept: items() only refers to it
  for (const auto& [path, v] : flat.items()) leaves.push_back(path);
  const json replacements[] = {nullptr, "x", -1, 1e300, json::array(), json::object(), 3};
  std::mt19937 rng(seed);
  std::vector<Mutation> out;
  for (int i = 0; i < n; ++i) {
    json m = base;
    json::json_pointer p(leaves[rng() % leaves.size()]);
    for (unsigned up = rng() % 3; up > 0 && !p.empty(); --up) p = p.parent_pointer();
    m[p] = replacements[rng() % std::size(replacements)];
    out.push_back({p.to_string(), std::move(m)});
  }
  return out;
}

}  // namespace maxact::test
