// Typed, checked access to a scan report's JSON for the exports: a missing key or a value of the
// wrong type is an error naming the file and the place, never a crash or a silent default.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace maxact {

class ReportReader {
 public:
  ReportReader(const nlohmann::json& root, std::string file)
      : root_(root), file_(std::move(file)) {}
  const nlohmann::json& root() const { return root_; }
  // `where` names the enclosing value in messages ("" = the top level).
  const nlohmann::json& member(const nlohmann::json& o, const char* key,
                               const std::string& where) const;
  // An array, of `size` elements when size >= 0.
  const nlohmann::json& array(const nlohmann::json& v, const std::string& where,
                              int64_t size = -1) const;
  std::string string(const nlohmann::json& v, const std::string& where) const;
  int64_t integer(const nlohmann::json& v, const std::string& where) const;
  double number(const nlohmann::json& v, const std::string& where) const;
  [[noreturn]] void fail(const std::string& what) const;

 private:
  const nlohmann::json& root_;
  std::string file_;
};

}  // namespace maxact
