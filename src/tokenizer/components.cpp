#include <algorithm>
#include <array>

#include "maxact/error.h"
#include "tokenizer/components.h"
#include "tokenizer/utf8.h"

namespace maxact::tok {
using nlohmann::json;

void unsupported(const std::string& where, const std::string& what) {
  throw Error(ErrorCode::kUnsupported, where + ": " + what);
}

void malformed(const std::string& where, const std::string& what) {
  throw Error(ErrorCode::kTokenizer, where + ": " + what);
}

const json& field(const json& j, const char* key, const std::string& where) {
  if (!j.is_object()) malformed(where, "must be an object");
  auto it = j.find(key);
  if (it == j.end()) malformed(where, std::string("missing '") + key + "'");
  return *it;
}

std::string string_field(const json& j, const char* key, const std::string& where) {
  const json& v = field(j, key, where);
  if (!v.is_string()) malformed(where, std::string("'") + key + "' must be a string");
  return v.get<std::string>();
}

bool bool_field(const json& j, const char* key, bool fallback, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) malformed(where, std::string("'") + key + "' must be true or false");
  return it->get<bool>();
}

Pattern::Pattern(const json& j, const std::string& where) {
  if (j.is_object() && j.contains("String") && j["String"].is_string()) {
    literal_ = j["String"].get<std::string>();
    if (literal_.empty()) malformed(where, "empty String pattern");
  } else if (j.is_object() && j.contains("Regex") && j["Regex"].is_string()) {
    regex_ = std::make_unique<Regex>(j["Regex"].get<std::string>(), where);
  } else {
    malformed(where, "pattern must be {\"String\": ...} or {\"Regex\": ...}");
  }
}

void Pattern::find(std::string_view s,
                   std::vector<std::pair<std::size_t, std::size_t>>& out) const {
  if (regex_) {
    regex_->find_all(s, out);
    return;
  }
  out.clear();
  for (std::size_t p = s.find(literal_); p != std::string_view::npos;
       p = s.find(literal_, p + literal_.size())) {
    out.emplace_back(p, p + literal_.size());
  }
}

namespace {
thread_local std::size_t g_replace_limit = static_cast<std::size_t>(-1);
}

ReplaceBudget::ReplaceBudget(std::size_t text_bytes) : saved_(g_replace_limit) {
  g_replace_limit = std::min(saved_, 4 * text_bytes + 1024);
}
ReplaceBudget::~ReplaceBudget() {
  g_replace_limit = saved_;
}
std::size_t ReplaceBudget::limit() {
  return g_replace_limit;
}

bool Pattern::replace_all(std::string& s, const std::string& content) const {
  std::vector<std::pair<std::size_t, std::size_t>> m;
  find(s, m);
  if (m.empty()) return false;
  const bool dropped_start = m.front().first == 0 && m.front().second > 0 && content.empty();
  std::string out;
  std::size_t prev = 0;
  for (auto [b, e] : m) {
    out.append(s, prev, b - prev);
    out += content;
    prev = e;
    if (out.size() > g_replace_limit) {
      throw Error(ErrorCode::kTokenizer,
                  "a Replace step grows the text past " + std::to_string(g_replace_limit) +
                      " bytes (4x its input + 1 KiB); refusing a tokenizer whose normalizer or "
                      "decoder expands text without bound");
    }
  }
  out.append(s, prev, std::string::npos);
  s = std::move(out);
  return dropped_start;
}

SplitBehavior parse_split_behavior(const json& j, const std::string& where) {
  if (!j.is_string()) malformed(where, "'behavior' must be a string");
  const std::string b = j.get<std::string>();
  if (b == "Removed") return SplitBehavior::kRemoved;
  if (b == "Isolated") return SplitBehavior::kIsolated;
  if (b == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (b == "Contiguous") return SplitBehavior::kContiguous;
  unsupported(where, "unknown split behavior '" + b + "'");
}

void split_piece(const Piece& p, const std::vector<std::pair<std::size_t, std::size_t>>& matches,
                 SplitBehavior behavior, bool invert, std::vector<Piece>& out) {
  // (begin, end, is_match) runs covering the piece, as tokenizers' Pattern::find_matches.
  struct Run {
    std::size_t b, e;
    bool m;
  };
  std::vector<Run> runs;
  const std::size_t n = p.text.size();
  if (n == 0) return;
  std::size_t prev = 0;
  for (auto [b, e] : matches) {
    if (prev != b) runs.push_back({prev, b, false});
    runs.push_back({b, e, true});
    prev = e;
  }
  if (prev != n) runs.push_back({prev, n, false});
  if (invert) {
    for (auto& r : runs) r.m = !r.m;
  }
  // Isolated keeps every run, Removed drops the matches; the merging behaviours fold a match
  // into a neighbouring run first (a folded run is never a match).
  std::vector<Run> merged;
  const std::vector<Run>* result = &runs;
  // Left to right, a run joins the previous piece while join(its match, previous match) holds.
  auto fold = [&](auto join) {
    bool previous_match = false;
    for (const Run& r : runs) {
      if (join(r.m, previous_match) && !merged.empty()) {
        merged.back().e = r.e;
      } else {
        merged.push_back({r.b, r.e, false});
      }
      previous_match = r.m;
    }
    result = &merged;
  };
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (auto& r : runs) r.m = false;
      break;
    case SplitBehavior::kRemoved:
      break;
    case SplitBehavior::kMergedWithPrevious:
      fold([](bool match, bool previous_match) { return match && !previous_match; });
      break;
    case SplitBehavior::kMergedWithNext:
      // tokenizers folds from the right; read left to right, a match joins the run after it
      // unless that run is a match too.
      for (std::size_t k = 0; k < runs.size(); ++k) {
        const bool joins_next = runs[k].m && k + 1 < runs.size() && !runs[k + 1].m;
        merged.push_back({runs[k].b, runs[joins_next ? k + 1 : k].e, false});
        if (joins_next) ++k;
      }
      result = &merged;
      break;
    case SplitBehavior::kContiguous:
      fold([](bool match, bool previous_match) { return match == previous_match; });
      break;
  }
  for (const Run& r : *result) {
    if (r.m || r.e == r.b) continue;  // removed delimiters and empty pieces
    out.push_back({p.text.substr(r.b, r.e - r.b), p.at_start && r.b == 0});
  }
}

namespace {

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the other 68 to U+0100 onwards.
struct ByteMap {
  std::array<std::string, 256> to_char;
  std::array<char32_t, 256> cp{};
  ByteMap() {
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      cp[b] = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next++);
      utf8::append(to_char[b], cp[b]);
    }
  }
};

const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

}  // namespace

const std::string& byte_to_char(unsigned char b) {
  return byte_map().to_char[b];
}

int char_to_byte(char32_t c) {
  if (c < 0x21 || c > 0x143) return -1;
  const auto& m = byte_map();
  if (c < 256)
    return (c <= 0x7E || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE) ? static_cast<int>(c) : -1;
  for (int b = 0; b < 256; ++b) {
    if (m.cp[b] == c) return b;
  }
  return -1;
}

}  // namespace maxact::tok
