// Strict JSON parsing for the files maxact reads: syntax errors, duplicate object keys (which
// nlohmann::json would otherwise resolve silently, last one wins) and nesting deeper than any
// real file needs become errors naming the file. Parsing is linear in the text's size.
#pragma once

#include <cstdint>
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

// Deepest nesting of arrays / objects accepted. Real configs, tokenizers, headers and reports
// nest at most about 6 levels; the limit keeps hostile input from exhausting the stack of any
// recursive walk (dump, conversions, comparisons) later on.
inline constexpr int kMaxJsonDepth = 64;

nlohmann::json parse_json(std::string_view text, const std::string& file, ErrorCode syntax_code,
                          const OnDuplicateKey& on_duplicate);
// The usual duplicate-key error: "FILE: key 'k' appears twice [in 'parent']" with `code`.
OnDuplicateKey duplicate_key_error(const std::string& file, ErrorCode code);
// The same without duplicate-key checks (the first error names `file` and uses `syntax_code`).
nlohmann::json parse_json(std::string_view text, const std::string& file, ErrorCode syntax_code);

// Largest text file read whole (config.json, tokenizer.json, index, reports): far above any real
// one (a 262 k-token tokenizer.json is ~35 MB), far below what would exhaust memory.
inline constexpr uint64_t kMaxTextFileBytes = uint64_t{1} << 30;

// Reads a whole regular file (refusing FIFOs, devices and files over `max_bytes`); throws kIo
// naming the file.
std::string read_text_file(const std::filesystem::path& path,
                           uint64_t max_bytes = kMaxTextFileBytes);

// An nlohmann exception's message without its "[json.exception.type_error.302] " prefix.
std::string json_error_text(const nlohmann::json::exception& e);

// A short description of a JSON value's type for error messages ("a string", "an array").
std::string json_type_name(const nlohmann::json& v);

// A JSON value for an error message: scalars as short escaped text, containers as their type and
// size (never the whole untrusted value).
std::string json_excerpt(const nlohmann::json& v);

}  // namespace maxact
