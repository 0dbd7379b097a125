// Normalizers of tokenizer.json. Unicode normalization forms come from utf8proc.
#include <utf8proc.h>

#include <cstdlib>

#include "maxact/error.h"
#include "tokenizer/components.h"
#include "tokenizer/utf8.h"

namespace maxact::tok {
namespace {
using nlohmann::json;

class UnicodeForm final : public Normalizer {
 public:
  explicit UnicodeForm(int options) : options_(options) {}
  void apply(std::string& s, bool& /*dropped_prefix*/) const override {
    if (s.empty()) return;
    utf8proc_uint8_t* out = nullptr;
    const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                static_cast<utf8proc_ssize_t>(s.size()), &out,
                                static_cast<utf8proc_option_t>(options_));
    if (n < 0) {
      throw Error(ErrorCode::kTokenizer,
                  std::string("unicode normalization failed: ") + utf8proc_errmsg(n));
    }
    s.assign(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
    std::free(out);
  }

 private:
  int options_;
};

// Rust char::to_lowercase, applied per character without context (no final-sigma rule).
class Lowercase final : public Normalizer {
 public:
  void apply(std::string& s, bool& /*dropped_prefix*/) const override {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
      const char32_t c = utf8::next(s, i);
      if (c == 0x130) {  // the one unconditional multi-character lowercase mapping
        out += "i\xCC\x87";
        continue;
      }
      utf8::append(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
    }
    s = std::move(out);
  }
};

class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string p) : p_(std::move(p)) {}
  void apply(std::string& s, bool& /*dropped_prefix*/) const override {
    if (!s.empty()) s.insert(0, p_);
  }

 private:
  std::string p_;
};

class Replace final : public Normalizer {
 public:
  Replace(const json& j, const std::string& where)
      : pattern_(field(j, "pattern", where), where), content_(string_field(j, "content", where)) {}
  void apply(std::string& s, bool& dropped_prefix) const override {
    if (pattern_.replace_all(s, content_)) dropped_prefix = true;
  }

 private:
  Pattern pattern_;
  std::string content_;
};

class Strip final : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void apply(std::string& s, bool& dropped_prefix) const override {
    std::size_t b = 0, e = s.size();
    if (left_) {
      while (b < e) {
        std::size_t i = b;
        if (!utf8::is_whitespace(utf8::next(s, i))) break;
        b = i;
      }
    }
    if (right_) {
      while (e > b) {
        std::size_t start = e - 1;
        while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
        std::size_t i = start;
        if (!utf8::is_whitespace(utf8::next(s, i))) break;
        e = start;
      }
    }
    if (b > 0) dropped_prefix = true;
    s = s.substr(b, e - b);
  }

 private:
  bool left_, right_;
};

class Sequence final : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  void apply(std::string& s, bool& dropped_prefix) const override {
    for (const auto& p : parts_) p->normalize(s, dropped_prefix);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = string_field(j, "type", where);
  constexpr int kStable = UTF8PROC_STABLE;
  if (type == "NFC") return std::make_unique<UnicodeForm>(kStable | UTF8PROC_COMPOSE);
  if (type == "NFD") return std::make_unique<UnicodeForm>(kStable | UTF8PROC_DECOMPOSE);
  if (type == "NFKC") {
    return std::make_unique<UnicodeForm>(kStable | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
  }
  if (type == "NFKD") {
    return std::make_unique<UnicodeForm>(kStable | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
  }
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "Prepend") return std::make_unique<Prepend>(string_field(j, "prepend", where));
  if (type == "Replace") return std::make_unique<Replace>(j, where);
  if (type == "Strip") {
    return std::make_unique<Strip>(bool_field(j, "strip_left", true, where),
                                   bool_field(j, "strip_right", true, where));
  }
  if (type == "Sequence") {
    return std::make_unique<Sequence>(
        make_list<Normalizer>(j, "normalizers", where, make_normalizer));
  }
  unsupported(where, "normalizer type '" + type +
                         "' is not supported (NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, "
                         "Strip, Sequence)");
}

}  // namespace maxact::tok
