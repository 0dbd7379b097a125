// Decoders of tokenizer.json: token strings back to text, so corpora stored as another model's
// ids can be re-tokenized.
#include "tokenizer/components.h"
#include "tokenizer/utf8.h"

namespace maxact::tok {
namespace {
using nlohmann::json;

class ByteLevel final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const std::string& t : tokens) {
      std::string mapped;
      bool all = true;
      for (std::size_t i = 0; i < t.size();) {
        const int b = char_to_byte(utf8::next(t, i));
        if (b < 0) {
          all = false;
          break;
        }
        mapped += static_cast<char>(b);
      }
      bytes += all ? mapped : t;
    }
    utf8::repair(bytes);  // String::from_utf8_lossy
    tokens.assign(1, std::move(bytes));
  }
};

class Metaspace final : public Decoder {
 public:
  Metaspace(std::string rep, bool prepend) : rep_(std::move(rep)), prepend_(prepend) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      const std::string& t = tokens[i];
      for (std::size_t p = 0; p < t.size();) {
        if (t.compare(p, rep_.size(), rep_) == 0) {
          if (!(i == 0 && prepend_)) out += ' ';
          p += rep_.size();
        } else {
          out += t[p++];
        }
      }
      tokens[i] = std::move(out);
    }
  }

 private:
  std::string rep_;
  bool prepend_;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class ByteFallback final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    auto flush = [&] {
      if (pending.empty()) return;
      if (utf8::valid(pending)) {
        out.push_back(pending);
      } else {
        for (std::size_t k = 0; k < pending.size(); ++k) out.emplace_back("\xEF\xBF\xBD");
      }
      pending.clear();
    };
    for (std::string& t : tokens) {
      if (t.size() == 6 && t.starts_with("<0x") && t.back() == '>' && hex_value(t[3]) >= 0 &&
          hex_value(t[4]) >= 0) {
        pending += static_cast<char>(hex_value(t[3]) * 16 + hex_value(t[4]));
        continue;
      }
      flush();
      out.push_back(std::move(t));
    }
    flush();
    tokens = std::move(out);
  }
};

class Fuse final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

class Strip final : public Decoder {
 public:
  Strip(char32_t content, std::size_t start, std::size_t stop)
      : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) {
      std::vector<char32_t> chars;
      for (std::size_t i = 0; i < t.size();) chars.push_back(utf8::next(t, i));
      std::size_t b = 0, e = chars.size();
      for (std::size_t i = 0; i < start_ && i < chars.size() && chars[i] == content_; ++i)
        b = i + 1;
      for (std::size_t i = 0;
           i < stop_ && i < chars.size() && chars[chars.size() - 1 - i] == content_; ++i) {
        e = chars.size() - 1 - i;
      }
      std::string out;
      for (std::size_t i = b; i < e; ++i) utf8::append(out, chars[i]);
      t = std::move(out);
    }
  }

 private:
  char32_t content_;
  std::size_t start_, stop_;
};

class Replace final : public Decoder {
 public:
  Replace(const json& j, const std::string& where)
      : pattern_(field(j, "pattern", where), where), content_(string_field(j, "content", where)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) pattern_.replace_all(t, content_);
  }

 private:
  Pattern pattern_;
  std::string content_;
};

class Sequence final : public Decoder {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Decoder>> parts) : parts_(std::move(parts)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& p : parts_) p->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

std::size_t size_field(const json& j, const char* key, const std::string& where) {
  const json& v = field(j, key, where);
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
    malformed(where, std::string("'") + key + "' must be a non-negative integer");
  }
  return v.get<std::size_t>();
}

char32_t char_field(const json& j, const char* key, const std::string& where) {
  const std::string s = string_field(j, key, where);
  std::size_t i = 0;
  if (s.empty()) malformed(where, std::string("'") + key + "' must be one character");
  const char32_t c = utf8::next(s, i);
  if (i != s.size()) malformed(where, std::string("'") + key + "' must be one character");
  return c;
}

}  // namespace

std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = string_field(j, "type", where);
  if (type == "ByteLevel") return std::make_unique<ByteLevel>();
  if (type == "Metaspace") {
    std::string scheme = j.contains("prepend_scheme") ? string_field(j, "prepend_scheme", where)
                                                      : std::string("always");
    if (j.contains("add_prefix_space") && !bool_field(j, "add_prefix_space", true, where)) {
      scheme = "never";
    }
    std::string rep;
    utf8::append(rep, char_field(j, "replacement", where));
    return std::make_unique<Metaspace>(rep, scheme != "never");
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallback>();
  if (type == "Fuse") return std::make_unique<Fuse>();
  if (type == "Strip") {
    return std::make_unique<Strip>(char_field(j, "content", where), size_field(j, "start", where),
                                   size_field(j, "stop", where));
  }
  if (type == "Replace") return std::make_unique<Replace>(j, where);
  if (type == "Sequence") {
    return std::make_unique<Sequence>(make_list<Decoder>(j, "decoders", where, make_decoder));
  }
  unsupported(where, "decoder type '" + type +
                         "' is not supported (ByteLevel, Metaspace, ByteFallback, Fuse, Strip, "
                         "Replace, Sequence)");
}

}  // namespace maxact::tok
