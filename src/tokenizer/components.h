// The pipeline stages of a Hugging Face tokenizer.json, each built from its JSON object. Only
// token ids matter to maxact, so pieces carry text and one bit of offset information instead of
// full alignments.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/regex.h"

namespace maxact::tok {

// A piece of input text on its way to the model.
struct Piece {
  std::string text;
  bool at_start = false;  // begins at offset 0 of the original input (Metaspace "first")
};

// The most bytes a Replace step may produce while one text is normalized or decoded: four times
// the text plus 1 KiB, set by the caller for the whole chain (thread-local). Real replacements
// (" " -> "\u2581") stay far below; a chain of expanding ones (each "a" -> a thousand "a"s,
// three times over) would otherwise grow until memory runs out.
class ReplaceBudget {
 public:
  explicit ReplaceBudget(std::size_t text_bytes);
  ~ReplaceBudget();
  ReplaceBudget(const ReplaceBudget&) = delete;
  ReplaceBudget& operator=(const ReplaceBudget&) = delete;
  static std::size_t limit();

 private:
  std::size_t saved_;
};

// A String or Regex pattern from tokenizer.json, producing (begin, end) matches.
class Pattern {
 public:
  Pattern(const nlohmann::json& j, const std::string& where);
  void find(std::string_view s, std::vector<std::pair<std::size_t, std::size_t>>& out) const;
  // Replaces every match by `content` (the Replace normalizer and decoder). Returns true when a
  // non-empty match at offset 0 was replaced by nothing (the text lost its first characters).
  bool replace_all(std::string& s, const std::string& content) const;

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
};

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
SplitBehavior parse_split_behavior(const nlohmann::json& j, const std::string& where);

// Splits `p` by the matches of a pattern (or any matcher) with Hugging Face's delimiter
// behaviours; appends the non-empty pieces to `out`.
void split_piece(const Piece& p, const std::vector<std::pair<std::size_t, std::size_t>>& matches,
                 SplitBehavior behavior, bool invert, std::vector<Piece>& out);

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  void normalize(std::string& s) const {
    bool dropped = false;
    apply(s, dropped);
  }
  // `dropped_prefix` is set when the text no longer begins with (an image of) the first original
  // character, e.g. Strip removed leading spaces: Metaspace's "first" scheme then sees an offset
  // other than 0, as tokenizers' alignments would.
  void normalize(std::string& s, bool& dropped_prefix) const { apply(s, dropped_prefix); }

 protected:
  virtual void apply(std::string& s, bool& dropped_prefix) const = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces `pieces` by their pre-tokenization (each piece independently).
  virtual void pre_tokenize(std::vector<Piece>& pieces) const = 0;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// Factories: `where` is the JSON path used in error messages ("normalizer.normalizers[1]").
// A null JSON value gives nullptr (no stage).
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j, const std::string& where);
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j, const std::string& where);
std::unique_ptr<Decoder> make_decoder(const nlohmann::json& j, const std::string& where);

// The GPT-2 byte <-> printable character map used by ByteLevel.
const std::string& byte_to_char(unsigned char b);
// -1 when the code point is not one of the 256 byte characters.
int char_to_byte(char32_t c);

// The members of a Sequence component (`key`: "normalizers", "pretokenizers", "decoders"), each
// built by `make` with its JSON path; null members are skipped.
template <typename T, typename Make>
std::vector<std::unique_ptr<T>> make_list(const nlohmann::json& j, const char* key,
                                          const std::string& where, Make make);

// Helpers for reading tokenizer.json fields with errors that name the component.
const nlohmann::json& field(const nlohmann::json& j, const char* key, const std::string& where);
std::string string_field(const nlohmann::json& j, const char* key, const std::string& where);
bool bool_field(const nlohmann::json& j, const char* key, bool fallback, const std::string& where);
[[noreturn]] void unsupported(const std::string& where, const std::string& what);
[[noreturn]] void malformed(const std::string& where, const std::string& what);

template <typename T, typename Make>
std::vector<std::unique_ptr<T>> make_list(const nlohmann::json& j, const char* key,
                                          const std::string& where, Make make) {
  const nlohmann::json& list = field(j, key, where);
  if (!list.is_array()) malformed(where, std::string("'") + key + "' must be a list");
  std::vector<std::unique_ptr<T>> parts;
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto p = make(list[i], where + "." + key + "[" + std::to_string(i) + "]");
    if (p) parts.push_back(std::move(p));
  }
  return parts;
}

}  // namespace maxact::tok
