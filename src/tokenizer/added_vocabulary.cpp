#include "tokenizer/added_vocabulary.h"

#include <algorithm>

#include "tokenizer/utf8.h"

namespace maxact::tok {

void TokenTrie::add(std::string_view pattern, int32_t index) {
  int32_t node = 0;
  for (unsigned char b : pattern) {
    int32_t child = -1;
    if (node == 0) {
      child = root_next_[b] > 0 ? root_next_[b] : -1;
    } else {
      auto& nx = nodes_[static_cast<std::size_t>(node)].next;
      auto it = std::lower_bound(nx.begin(), nx.end(), std::make_pair(b, int32_t{-1}));
      if (it != nx.end() && it->first == b) child = it->second;
    }
    if (child < 0) {
      child = static_cast<int32_t>(nodes_.size());
      nodes_.push_back(Node{});
      if (node == 0) {
        root_next_[b] = child;
      } else {
        auto& nx = nodes_[static_cast<std::size_t>(node)].next;
        nx.insert(std::lower_bound(nx.begin(), nx.end(), std::make_pair(b, int32_t{-1})),
                  {b, child});
      }
    }
    node = child;
  }
  if (nodes_[static_cast<std::size_t>(node)].index < 0)
    nodes_[static_cast<std::size_t>(node)].index = index;
}

std::size_t TokenTrie::longest_at(std::string_view s, std::size_t pos, int32_t* index) const {
  std::size_t best = 0;
  int32_t node = 0;
  for (std::size_t i = pos; i < s.size(); ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (node == 0) {
      node = root_next_[b];
      if (node == 0) break;
    } else {
      const auto& nx = nodes_[static_cast<std::size_t>(node)].next;
      auto it = std::lower_bound(nx.begin(), nx.end(), std::make_pair(b, int32_t{-1}));
      if (it == nx.end() || it->first != b) break;
      node = it->second;
    }
    if (nodes_[static_cast<std::size_t>(node)].index >= 0) {
      best = i + 1;
      *index = nodes_[static_cast<std::size_t>(node)].index;
    }
  }
  return best;
}

namespace {

// Rust regex \w at the end of s[..pos] / start of s[pos..].
bool ends_with_word(std::string_view s, std::size_t pos) {
  if (pos == 0) return false;
  std::size_t b = pos - 1;
  while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
  std::size_t i = b;
  return utf8::is_word(utf8::next(s, i));
}

bool starts_with_word(std::string_view s, std::size_t pos) {
  if (pos >= s.size()) return false;
  std::size_t i = pos;
  return utf8::is_word(utf8::next(s, i));
}

// Start of the whitespace run ending at pos, not before `floor` (the end of the previous
// match, which tokenizers clamps to anyway): keeps lstrip linear in long whitespace runs.
std::size_t whitespace_run_start(std::string_view s, std::size_t pos, std::size_t floor) {
  while (pos > floor) {
    std::size_t b = pos - 1;
    while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
    std::size_t i = b;
    if (!utf8::is_whitespace(utf8::next(s, i))) break;
    pos = b;
  }
  return pos;
}

// End of the whitespace run starting at pos.
std::size_t whitespace_run_end(std::string_view s, std::size_t pos) {
  while (pos < s.size()) {
    std::size_t i = pos;
    if (!utf8::is_whitespace(utf8::next(s, i))) break;
    pos = i;
  }
  return pos;
}

}  // namespace

void find_added(std::string_view s, const TokenTrie& trie, const std::vector<AddedToken>& tokens,
                bool special_as_text, std::vector<Span>& out) {
  out.clear();
  if (s.empty()) return;
  if (trie.empty()) {
    out.push_back({0, s.size(), -1});
    return;
  }
  std::size_t start_offset = 0;
  std::size_t pos = 0;
  while (pos < s.size()) {
    int32_t idx = -1;
    const std::size_t end = trie.longest_at(s, pos, &idx);
    if (end == 0) {
      ++pos;
      continue;
    }
    std::size_t start = pos, stop = end;
    pos = end;  // leftmost-longest matches never overlap, accepted or not
    const AddedToken& t = tokens[static_cast<std::size_t>(idx)];
    if (special_as_text && t.special) continue;
    if (t.single_word) {
      const bool start_ok = start == 0 || !ends_with_word(s, start);
      const bool stop_ok = stop == s.size() || !starts_with_word(s, stop);
      if (!start_ok || !stop_ok) continue;
    }
    if (t.lstrip) start = whitespace_run_start(s, start, start_offset);
    if (t.rstrip) stop = whitespace_run_end(s, stop);
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, idx});
    start_offset = stop;
  }
  if (start_offset != s.size()) out.push_back({start_offset, s.size(), -1});
}

}  // namespace maxact::tok
