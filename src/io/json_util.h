// Strict JSON parsing for the files maxact reads: syntax errors and duplicate object keys (which
// nlohmann::json would otherwise resolve silently, last one wins) become errors naming the file.
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "maxact/error.h"

namespace maxact {

struct DuplicateKey {
  std::string key;
  std::string parent;  // dotted path of the enclosing object ("" at top level)
  int depth;           // 1 = key of the top-level object
};

using OnDuplicateKey = std::function<Error(const DuplicateKey&)>;

nlohmann::json parse_json(std::string_view text, const std::string& file, ErrorCode syntax_code,
                          const OnDuplicateKey& on_duplicate);

// Reads a whole (small) text file; throws kIo naming the file.
std::string read_text_file(const std::filesystem::path& path);

// A short description of a JSON value's type for error messages ("a string", "an array").
std::string json_type_name(const nlohmann::json& v);

}  // namespace maxact
