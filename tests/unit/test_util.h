// Helpers shared by the unit tests: temporary folders, raw file writing, error expectations.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "maxact/error.h"
#include "maxact/sequences.h"

namespace maxact::test {

// A fresh folder under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

void write_file(const std::filesystem::path& p, const std::string& bytes);
std::string read_file(const std::filesystem::path& p);
// A safetensors file from a header text and a data section, header length as given (or its size).
std::string raw_safetensors(const std::string& header, const std::string& data,
                            int64_t header_len = -1);
std::string bytes_of(const std::vector<float>& v);

// Runs f, expects an Error with `code` whose message contains every string in `parts`.
void expect_error(const std::function<void()>& f, ErrorCode code,
                  const std::vector<std::string>& parts);

std::filesystem::path fixture(const std::string& name);

struct CommandResult {
  int exit_code;
  std::string out, err;
};
CommandResult run_command(const std::string& cmd);
// The maxact program under test.
inline std::string maxact_binary() {
  return MAXACT_BINARY;
}

// Sequences of the given lengths with random ids; categories cycle code, math, none.
std::vector<TokenSequence> sequences_of_lengths(const std::vector<int>& lengths, int vocab,
                                                unsigned seed);
// n sequences of random lengths 1..max_len.
std::vector<TokenSequence> random_sequences(int n, int max_len, int vocab, unsigned seed);

// `n` copies of a report, each with one value (or a container up to two levels above a leaf)
// replaced by null, a string, a negative or huge number, an empty container or 3; with the JSON
// pointer replaced. What a reader of reports must turn into errors, never crashes.
struct Mutation {
  std::string pointer;
  nlohmann::json report;
};
std::vector<Mutation> mutations(const nlohmann::json& base, int n, unsigned seed);

}  // namespace maxact::test
