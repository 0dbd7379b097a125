#include "io/json_util.h"

#include <fstream>
#include <sstream>
#include <unordered_set>
#include <vector>

namespace maxact {
namespace {

struct DuplicateFound {
  DuplicateKey dup;
};

}  // namespace

nlohmann::json parse_json(std::string_view text, const std::string& file, ErrorCode syntax_code,
                          const OnDuplicateKey& on_duplicate) {
  struct Frame {
    std::unordered_set<std::string> keys;
    std::string last_key;
    bool is_object;
  };
  std::vector<Frame> stack;
  using Event = nlohmann::json::parse_event_t;
  auto callback = [&](int /*depth*/, Event event, nlohmann::json& parsed) {
    switch (event) {
      case Event::object_start:
        stack.push_back({{}, {}, true});
        break;
      case Event::array_start:
        stack.push_back({{}, {}, false});
        break;
      case Event::object_end:
      case Event::array_end:
        if (!stack.empty()) stack.pop_back();
        break;
      case Event::key: {
        Frame& top = stack.back();
        std::string key = parsed.get<std::string>();
        if (!top.keys.insert(key).second) {
          std::string parent;
          for (std::size_t i = 0; i + 1 < stack.size(); ++i) {
            if (!stack[i].is_object) continue;
            if (!parent.empty()) parent += '.';
            parent += stack[i].last_key;
          }
          throw DuplicateFound{{key, parent, static_cast<int>(stack.size())}};
        }
        top.last_key = std::move(key);
        break;
      }
      case Event::value:
        break;
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), callback);
  } catch (const DuplicateFound& d) {
    throw on_duplicate(d.dup);
  } catch (const nlohmann::json::exception& e) {
    // parse_error for syntax, out_of_range for numbers beyond double (1e999): both are bad input.
    std::string what = e.what();
    // nlohmann prefixes "[json.exception.parse_error.101] "; keep the human part.
    if (auto pos = what.find("] "); pos != std::string::npos) what = what.substr(pos + 2);
    throw Error(syntax_code, file + ": malformed JSON: " + what);
  }
}

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, path.string() + ": cannot open for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error(ErrorCode::kIo, path.string() + ": read error");
  return ss.str();
}

std::string json_type_name(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::array:
      return "an array";
    case nlohmann::json::value_t::string:
      return "a string";
    case nlohmann::json::value_t::boolean:
      return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      return "an integer";
    case nlohmann::json::value_t::number_float:
      return "a number";
    default:
      return "a binary value";
  }
}

}  // namespace maxact
