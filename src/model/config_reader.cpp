#include "model/config_reader.h"

#include <cmath>
#include <limits>

#include "io/json_util.h"

namespace maxact {
using nlohmann::json;

ConfigReader::ConfigReader(json root, std::string file)
    : root_(std::move(root)), file_(std::move(file)) {
  if (!root_.is_object()) {
    throw Error(ErrorCode::kConfig,
                file_ + ": config must be a JSON object, found " + json_type_name(root_));
  }
  auto it = root_.find("text_config");
  if (it != root_.end() && !it->is_null()) {
    if (!it->is_object()) fail("text_config", "must be an object, found " + json_type_name(*it));
    text_ = &*it;
  }
}

std::string ConfigReader::outer_model_type() const {
  auto it = root_.find("model_type");
  if (it == root_.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

std::string ConfigReader::inner_model_type() const {
  if (text_ != nullptr) {
    auto it = text_->find("model_type");
    if (it != text_->end() && it->is_string()) return it->get<std::string>();
  }
  return outer_model_type();
}

const json* ConfigReader::find(const std::string& key) const {
  if (text_ != nullptr) {
    // A key written in text_config, even as null, is the language model's; the top level is
    // consulted only for keys text_config does not have (wrappers keep some there).
    auto it = text_->find(key);
    if (it != text_->end()) return it->is_null() ? nullptr : &*it;
  }
  auto it = root_.find(key);
  if (it != root_.end() && !it->is_null()) return &*it;
  return nullptr;
}

bool ConfigReader::present(const std::string& key) const {
  return (text_ != nullptr && text_->contains(key)) || root_.contains(key);
}

int64_t ConfigReader::get_int_null_zero(const std::string& key, int64_t fallback) const {
  if (!present(key)) return fallback;
  return opt_int(key).value_or(0);
}

int ConfigReader::get_window(const std::string& key, int64_t fallback) const {
  const int64_t w = get_int_null_zero(key, fallback);
  if (w < 0 || w > 0x7FFFFFFF) fail(key, "must be a window size between 0 and 2^31 - 1");
  return static_cast<int>(w);
}

void ConfigReader::fail(const std::string& key, const std::string& problem) const {
  throw Error(ErrorCode::kConfig, file_ + ": '" + key + "' " + problem);
}

namespace {

// JSON numbers like 4096.0 are accepted as integers (some exporters write floats).
bool to_int(const json& v, int64_t& out) {
  if (v.is_number_integer() || v.is_number_unsigned()) {
    if (v.is_number_unsigned() &&
        v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return false;
    }
    out = v.get<int64_t>();
    return true;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) {
      out = static_cast<int64_t>(d);
      return true;
    }
  }
  return false;
}

}  // namespace

std::optional<int64_t> ConfigReader::opt_int(const std::string& key) const {
  const json* v = find(key);
  if (v == nullptr) return std::nullopt;
  int64_t out = 0;
  if (!to_int(*v, out)) fail(key, "must be an integer, found " + v->dump());
  return out;
}

int64_t ConfigReader::get_int(const std::string& key, int64_t fallback) const {
  return opt_int(key).value_or(fallback);
}

int64_t ConfigReader::require_int(const std::string& key) const {
  auto v = opt_int(key);
  if (!v) fail(key, "is required but missing");
  return *v;
}

std::optional<double> ConfigReader::opt_double(const std::string& key) const {
  const json* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number()) fail(key, "must be a number, found " + v->dump());
  return v->get<double>();
}

double ConfigReader::get_double(const std::string& key, double fallback) const {
  return opt_double(key).value_or(fallback);
}

bool ConfigReader::get_bool(const std::string& key, bool fallback) const {
  const json* v = find(key);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) fail(key, "must be true or false, found " + v->dump());
  return v->get<bool>();
}

std::string ConfigReader::get_string(const std::string& key, const std::string& fallback) const {
  const json* v = find(key);
  if (v == nullptr) return fallback;
  if (!v->is_string()) fail(key, "must be a string, found " + v->dump());
  return v->get<std::string>();
}

std::vector<int64_t> ConfigReader::get_int_list(const std::string& key) const {
  const json* v = find(key);
  std::vector<int64_t> out;
  if (v == nullptr) return out;
  if (!v->is_array()) fail(key, "must be a list of integers, found " + json_type_name(*v));
  for (const auto& e : *v) {
    int64_t x = 0;
    if (!to_int(e, x)) fail(key, "must be a list of integers, found element " + e.dump());
    out.push_back(x);
  }
  return out;
}

std::vector<std::string> ConfigReader::get_string_list(const std::string& key) const {
  const json* v = find(key);
  std::vector<std::string> out;
  if (v == nullptr) return out;
  if (!v->is_array()) fail(key, "must be a list of strings, found " + json_type_name(*v));
  for (const auto& e : *v) {
    if (!e.is_string()) fail(key, "must be a list of strings, found element " + e.dump());
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::optional<double> ConfigReader::obj_double(const json& obj, const std::string& key,
                                               const std::string& where, const std::string& file) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) {
    throw Error(ErrorCode::kConfig,
                file + ": '" + where + "." + key + "' must be a number, found " + it->dump());
  }
  return it->get<double>();
}

std::optional<int64_t> ConfigReader::obj_int(const json& obj, const std::string& key,
                                             const std::string& where, const std::string& file) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  int64_t out = 0;
  if (!to_int(*it, out)) {
    throw Error(ErrorCode::kConfig,
                file + ": '" + where + "." + key + "' must be an integer, found " + it->dump());
  }
  return out;
}

}  // namespace maxact
