#include "export/report_reader.h"

#include <fmt/format.h>

#include "io/json_util.h"
#include "maxact/error.h"

namespace maxact {
using nlohmann::json;

void ReportReader::fail(const std::string& what) const {
  throw Error(ErrorCode::kOption, file_ + ": " + what);
}

const json& ReportReader::member(const json& o, const char* key, const std::string& where) const {
  const std::string at = where.empty() ? std::string(key) : where + "." + key;
  if (!o.is_object()) fail(fmt::format("{} must be an object, found {}", where, json_type_name(o)));
  const auto it = o.find(key);
  if (it == o.end()) fail(fmt::format("{} is missing (is this a maxact scan report?)", at));
  return *it;
}

const json& ReportReader::array(const json& v, const std::string& where, int64_t size) const {
  if (!v.is_array()) fail(fmt::format("{} must be an array, found {}", where, json_type_name(v)));
  if (size >= 0 && static_cast<int64_t>(v.size()) != size) {
    fail(fmt::format("{} has {} elements, expected {}", where, v.size(), size));
  }
  return v;
}

std::string ReportReader::string(const json& v, const std::string& where) const {
  if (!v.is_string()) fail(fmt::format("{} must be a string, found {}", where, json_excerpt(v)));
  return v.get<std::string>();
}

int64_t ReportReader::integer(const json& v, const std::string& where) const {
  if (!v.is_number_integer()) {
    fail(fmt::format("{} must be an integer, found {}", where, json_excerpt(v)));
  }
  return v.is_number_unsigned()
             ? static_cast<int64_t>(std::min<uint64_t>(v.get<uint64_t>(), INT64_MAX))
             : v.get<int64_t>();
}

double ReportReader::number(const json& v, const std::string& where) const {
  if (!v.is_number()) fail(fmt::format("{} must be a number, found {}", where, json_excerpt(v)));
  return v.get<double>();
}

}  // namespace maxact
