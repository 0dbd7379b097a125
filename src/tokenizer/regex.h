// PCRE2 (UTF + Unicode properties + JIT) behind a small interface: the tokenizer's Split
// pre-tokenizers and Replace normalizers use Oniguruma-compatible patterns with lookahead.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace maxact {

class Regex {
 public:
  // `where` names the tokenizer component for error messages.
  Regex(const std::string& pattern, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Non-overlapping matches left to right, as (begin, end) byte offsets. After an empty match
  // the search resumes one character later (Oniguruma's find_iter).
  void find_all(std::string_view s, std::vector<std::pair<std::size_t, std::size_t>>& out) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace maxact
