// Pre-tokenizers of tokenizer.json: each splits every current piece independently.
#include "tokenizer/components.h"
#include "tokenizer/utf8.h"

namespace maxact::tok {
namespace {
using nlohmann::json;
using Matches = std::vector<std::pair<std::size_t, std::size_t>>;

// Matches of a per-character predicate (tokenizers' `impl Pattern for Fn(char) -> bool`).
template <typename Pred>
void char_matches(std::string_view s, Pred pred, Matches& out) {
  out.clear();
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t b = i;
    if (pred(utf8::next(s, i))) out.emplace_back(b, i);
  }
}

// Applies `split_one(piece, out)` to every piece.
template <typename F>
void for_each_piece(std::vector<Piece>& pieces, F split_one) {
  std::vector<Piece> out;
  out.reserve(pieces.size() * 2);
  for (const Piece& p : pieces) split_one(p, out);
  pieces = std::move(out);
}

class Split final : public PreTokenizer {
 public:
  Split(const json& j, const std::string& where)
      : pattern_(field(j, "pattern", where), where),
        behavior_(parse_split_behavior(field(j, "behavior", where), where)),
        invert_(bool_field(j, "invert", false, where)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    Matches m;
    for_each_piece(pieces, [&](const Piece& p, std::vector<Piece>& out) {
      pattern_.find(p.text, m);
      split_piece(p, m, behavior_, invert_, out);
    });
  }

 private:
  Pattern pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

class ByteLevel final : public PreTokenizer {
 public:
  ByteLevel(const json& j, const std::string& where)
      : add_prefix_space_(bool_field(j, "add_prefix_space", true, where)),
        use_regex_(bool_field(j, "use_regex", true, where)) {
    if (use_regex_) {
      regex_ = std::make_unique<Regex>(
          R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", where);
    }
  }
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    Matches m;
    for_each_piece(pieces, [&](const Piece& p, std::vector<Piece>& out) {
      const bool prefix = add_prefix_space_ && (p.text.empty() || p.text[0] != ' ');
      Piece q{prefix ? " " + p.text : p.text, p.at_start};
      const std::size_t first = out.size();
      if (use_regex_) {
        regex_->find_all(q.text, m);
        split_piece(q, m, SplitBehavior::kIsolated, false, out);
      } else if (!q.text.empty()) {
        out.push_back(std::move(q));
      }
      for (std::size_t k = first; k < out.size(); ++k) {
        std::string mapped;
        mapped.reserve(out[k].text.size() * 2);
        for (unsigned char b : out[k].text) mapped += byte_to_char(b);
        out[k].text = std::move(mapped);
      }
    });
  }

 private:
  bool add_prefix_space_, use_regex_;
  std::unique_ptr<Regex> regex_;
};

class Metaspace final : public PreTokenizer {
 public:
  enum class Scheme { kAlways, kFirst, kNever };
  Metaspace(const json& j, const std::string& where) {
    const std::string rep = string_field(j, "replacement", where);
    std::size_t i = 0;
    if (rep.empty() || (utf8::next(rep, i), i != rep.size())) {
      malformed(where, "'replacement' must be one character");
    }
    rep_ = rep;
    const std::string scheme =
        j.contains("prepend_scheme") ? string_field(j, "prepend_scheme", where) : "always";
    if (scheme == "always") {
      scheme_ = Scheme::kAlways;
    } else if (scheme == "first") {
      scheme_ = Scheme::kFirst;
    } else if (scheme == "never") {
      scheme_ = Scheme::kNever;
    } else {
      malformed(where, "unknown prepend_scheme '" + scheme + "'");
    }
    if (j.contains("add_prefix_space") && !bool_field(j, "add_prefix_space", true, where)) {
      if (scheme_ != Scheme::kNever && j.contains("prepend_scheme")) {
        malformed(where, "add_prefix_space does not match declared prepend_scheme");
      }
      scheme_ = Scheme::kNever;
    }
    split_ = bool_field(j, "split", true, where);
  }
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    Matches m;
    for_each_piece(pieces, [&](const Piece& p, std::vector<Piece>& out) {
      Piece q{std::string(), p.at_start};
      q.text.reserve(p.text.size() + 8);
      for (char ch : p.text) {
        if (ch == ' ') {
          q.text += rep_;
        } else {
          q.text += ch;
        }
      }
      const bool starts = q.text.starts_with(rep_);
      if ((scheme_ == Scheme::kAlways && !starts) ||
          (scheme_ == Scheme::kFirst && !starts && p.at_start)) {
        q.text.insert(0, rep_);
      }
      if (!split_) {
        if (!q.text.empty()) out.push_back(std::move(q));
        return;
      }
      m.clear();
      for (std::size_t pos = q.text.find(rep_); pos != std::string::npos;
           pos = q.text.find(rep_, pos + rep_.size())) {
        m.emplace_back(pos, pos + rep_.size());
      }
      split_piece(q, m, SplitBehavior::kMergedWithNext, false, out);
    });
  }

 private:
  std::string rep_;
  Scheme scheme_ = Scheme::kAlways;
  bool split_ = true;
};

class CharClassSplit final : public PreTokenizer {
 public:
  using Pred = bool (*)(char32_t);
  CharClassSplit(Pred pred, SplitBehavior behavior) : pred_(pred), behavior_(behavior) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    Matches m;
    for_each_piece(pieces, [&](const Piece& p, std::vector<Piece>& out) {
      char_matches(p.text, pred_, m);
      split_piece(p, m, behavior_, false, out);
    });
  }

 private:
  Pred pred_;
  SplitBehavior behavior_;
};

// Whitespace: runs of \w+ or [^\w\s]+ (Rust regex classes), everything else dropped.
class Whitespace final : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    Matches m;
    for_each_piece(pieces, [&](const Piece& p, std::vector<Piece>& out) {
      m.clear();
      const std::string& s = p.text;
      std::size_t i = 0;
      while (i < s.size()) {
        std::size_t j = i;
        const char32_t c = utf8::next(s, j);
        if (utf8::is_whitespace(c) && !utf8::is_word(c)) {
          i = j;
          continue;
        }
        const bool word = utf8::is_word(c);
        std::size_t end = j;
        while (end < s.size()) {
          std::size_t k = end;
          const char32_t d = utf8::next(s, k);
          const bool same =
              word ? utf8::is_word(d) : (!utf8::is_word(d) && !utf8::is_whitespace(d));
          if (!same) break;
          end = k;
        }
        m.emplace_back(i, end);
        i = end;
      }
      split_piece(p, m, SplitBehavior::kRemoved, true, out);
    });
  }
};

class Sequence final : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> parts) : parts_(std::move(parts)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (const auto& p : parts_) p->pre_tokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = string_field(j, "type", where);
  if (type == "Split") return std::make_unique<Split>(j, where);
  if (type == "ByteLevel") return std::make_unique<ByteLevel>(j, where);
  if (type == "Metaspace") return std::make_unique<Metaspace>(j, where);
  if (type == "Digits") {
    return std::make_unique<CharClassSplit>(&utf8::is_numeric,
                                            bool_field(j, "individual_digits", false, where)
                                                ? SplitBehavior::kIsolated
                                                : SplitBehavior::kContiguous);
  }
  if (type == "Whitespace") return std::make_unique<Whitespace>();
  if (type == "WhitespaceSplit") {
    return std::make_unique<CharClassSplit>(&utf8::is_whitespace, SplitBehavior::kRemoved);
  }
  if (type == "Punctuation") {
    const SplitBehavior b = j.contains("behavior") ? parse_split_behavior(j["behavior"], where)
                                                   : SplitBehavior::kIsolated;
    return std::make_unique<CharClassSplit>(&utf8::is_punctuation, b);
  }
  if (type == "Sequence") {
    return std::make_unique<Sequence>(
        make_list<PreTokenizer>(j, "pretokenizers", where, make_pre_tokenizer));
  }
  unsupported(where, "pre-tokenizer type '" + type +
                         "' is not supported (Split, ByteLevel, Metaspace, Digits, Whitespace, "
                         "WhitespaceSplit, Punctuation, Sequence)");
}

}  // namespace maxact::tok
