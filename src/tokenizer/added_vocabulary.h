// Added tokens of tokenizer.json: matched in the text before the model sees it, leftmost-longest,
// with lstrip / rstrip / single_word as tokenizers/src/tokenizer/added_vocabulary.rs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace maxact::tok {

struct AddedToken {
  std::string content;
  std::string pattern;  // what is matched: content, or its normalized form when `normalized`
  int32_t id = -1;
  bool special = false, normalized = false, lstrip = false, rstrip = false, single_word = false;
};

// A byte trie over token patterns answering leftmost-longest matches.
class TokenTrie {
 public:
  void add(std::string_view pattern, int32_t index);
  bool empty() const { return nodes_.size() <= 1; }
  // Longest pattern starting at s[pos]: returns its end, or 0 with *index untouched if none.
  std::size_t longest_at(std::string_view s, std::size_t pos, int32_t* index) const;

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> next;  // sorted by byte
    int32_t index = -1;
  };
  std::vector<Node> nodes_{Node{}};
  int32_t root_next_[256] = {};  // 0 = none (node 0 is the root, never a child)
};

// A span of a text segment: either plain text or an added token.
struct Span {
  std::size_t begin, end;
  int32_t token = -1;  // index into the added-token list, -1 for text
};

// Splits `s` by the added tokens of `trie` (HF find_matches): a rejected match (single_word,
// or a special token while special_as_text) is skipped without searching inside it again.
void find_added(std::string_view s, const TokenTrie& trie, const std::vector<AddedToken>& tokens,
                bool special_as_text, std::vector<Span>& out);

}  // namespace maxact::tok
