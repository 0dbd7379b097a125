#include "io/json_util.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_set>
#include <vector>

#include "io/mapped_file.h"

namespace maxact {
namespace {

using json = nlohmann::json;

struct DuplicateFound {
  DuplicateKey dup;
};

struct TooDeep {};

// A SAX pass that builds nothing: it checks nesting depth and (optionally) duplicate keys in one
// linear sweep, so the DOM parse that follows only ever sees sane input. (nlohmann's callback
// parser rescans the parent object at every object end: quadratic in the number of keys.)
class Validator {
 public:
  explicit Validator(bool check_duplicates) : check_duplicates_(check_duplicates) {}

  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(json::number_integer_t) { return true; }
  bool number_unsigned(json::number_unsigned_t) { return true; }
  bool number_float(json::number_float_t, const std::string&) { return true; }
  bool string(std::string&) { return true; }
  bool binary(json::binary_t&) { return true; }
  bool start_object(std::size_t) { return push(true); }
  bool start_array(std::size_t) { return push(false); }
  bool end_object() { return pop(); }
  bool end_array() { return pop(); }
  bool key(std::string& k) {
    Frame& top = stack_.back();
    if (check_duplicates_ && !top.keys.insert(k).second) {
      std::string parent;
      for (std::size_t i = 0; i + 1 < stack_.size(); ++i) {
        if (!stack_[i].is_object) continue;
        if (!parent.empty()) parent += '.';
        parent += stack_[i].last_key;
      }
      throw DuplicateFound{{k, parent, static_cast<int>(stack_.size())}};
    }
    top.last_key = k;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    message_ = e.what();
    return false;
  }
  const std::string& message() const { return message_; }

 private:
  struct Frame {
    std::unordered_set<std::string> keys;
    std::string last_key;
    bool is_object;
  };
  bool push(bool is_object) {
    if (stack_.size() >= static_cast<std::size_t>(kMaxJsonDepth)) throw TooDeep{};
    stack_.push_back({{}, {}, is_object});
    return true;
  }
  bool pop() {
    if (!stack_.empty()) stack_.pop_back();
    return true;
  }
  bool check_duplicates_;
  std::vector<Frame> stack_;
  std::string message_;
};

// nlohmann prefixes "[json.exception.parse_error.101] "; keep the human part.
std::string strip_prefix(std::string what) {
  if (auto pos = what.find("] "); pos != std::string::npos) what = what.substr(pos + 2);
  return what;
}

json parse_checked(std::string_view text, const std::string& file, ErrorCode syntax_code,
                   const OnDuplicateKey* on_duplicate) {
  Validator v(on_duplicate != nullptr);
  try {
    if (!json::sax_parse(text.begin(), text.end(), &v)) {
      throw Error(syntax_code, file + ": malformed JSON: " + strip_prefix(v.message()));
    }
    return json::parse(text.begin(), text.end());
  } catch (const DuplicateFound& d) {
    throw(*on_duplicate)(d.dup);
  } catch (const TooDeep&) {
    throw Error(syntax_code, file + ": malformed JSON: nested more than " +
                                 std::to_string(kMaxJsonDepth) + " levels deep");
  } catch (const json::exception& e) {
    // out_of_range for numbers beyond double (1e999): bad input too.
    throw Error(syntax_code, file + ": malformed JSON: " + json_error_text(e));
  }
}

}  // namespace

json parse_json(std::string_view text, const std::string& file, ErrorCode syntax_code,
                const OnDuplicateKey& on_duplicate) {
  return parse_checked(text, file, syntax_code, &on_duplicate);
}

OnDuplicateKey duplicate_key_error(const std::string& file, ErrorCode code) {
  return [file, code](const DuplicateKey& d) {
    return Error(code, file + ": key " + quote_untrusted(d.key) + " appears twice" +
                           (d.parent.empty() ? "" : " in " + quote_untrusted(d.parent)));
  };
}

json parse_json(std::string_view text, const std::string& file, ErrorCode syntax_code) {
  return parse_checked(text, file, syntax_code, nullptr);
}

std::string read_text_file(const std::filesystem::path& path, uint64_t max_bytes) {
  uint64_t size = 0;
  const int fd = open_regular_file(path.string(), size);
  if (size > max_bytes) {
    ::close(fd);
    throw Error(ErrorCode::kIo, path.string() + ": " + std::to_string(size) +
                                    " bytes, more than the " + std::to_string(max_bytes) +
                                    "-byte limit for this file");
  }
  std::string out(static_cast<std::size_t>(size), '\0');
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : 0;
      ::close(fd);
      throw Error(ErrorCode::kIo, path.string() + ": read error" +
                                      (err ? std::string(": ") + std::strerror(err)
                                           : std::string(": file shrank while being read")));
    }
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return out;
}

std::string json_error_text(const json::exception& e) {
  return strip_prefix(e.what());
}

std::string json_type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number";
    default:
      return "a binary value";
  }
}

std::string json_excerpt(const json& v) {
  if (v.is_string()) return quote_untrusted(v.get_ref<const std::string&>());
  if (v.is_structured()) {
    return json_type_name(v) + " of " + std::to_string(v.size()) +
           (v.is_array() ? " element(s)" : " key(s)");
  }
  return quote_untrusted(v.dump(-1, ' ', false, json::error_handler_t::replace), 48, false);
}

}  // namespace maxact
