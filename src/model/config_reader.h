// Typed access to config.json. Keys are looked up in `text_config` first (VLM / hybrid wrappers
// nest the language model there) and then at top level; null counts as absent, as it does for the
// Hugging Face config classes. A key of the wrong type is an error naming the file and the key.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "maxact/error.h"

namespace maxact {

class ConfigReader {
 public:
  ConfigReader(nlohmann::json root, std::string file);

  const std::string& file() const { return file_; }
  const nlohmann::json& root() const { return root_; }
  bool has_text_config() const { return text_ != nullptr; }
  // The outer and inner model_type ("gemma3" / "gemma3_text"; equal without a wrapper).
  std::string outer_model_type() const;
  std::string inner_model_type() const;

  // Text config first, then top level; nullptr when absent or null.
  const nlohmann::json* find(const std::string& key) const;
  bool has(const std::string& key) const { return find(key) != nullptr; }
  // True when the key is written, even as null (sliding_window: null means "no window", while an
  // absent key means the config class default).
  bool present(const std::string& key) const;
  // An integer key where null means 0 ("disabled") and absence means `fallback`.
  int64_t get_int_null_zero(const std::string& key, int64_t fallback) const;
  // A sliding-window size: null / 0 = none; negative or beyond int range is an error.
  int get_window(const std::string& key, int64_t fallback) const;

  int64_t get_int(const std::string& key, int64_t fallback) const;
  int64_t require_int(const std::string& key) const;
  std::optional<int64_t> opt_int(const std::string& key) const;
  double get_double(const std::string& key, double fallback) const;
  std::optional<double> opt_double(const std::string& key) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> get_int_list(const std::string& key) const;
  std::vector<std::string> get_string_list(const std::string& key) const;

  // Typed reads from a sub-object (rope_scaling, rope_parameters, quantization_config).
  static std::optional<double> obj_double(const nlohmann::json& obj, const std::string& key,
                                          const std::string& where, const std::string& file);
  static std::optional<int64_t> obj_int(const nlohmann::json& obj, const std::string& key,
                                        const std::string& where, const std::string& file);

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const;

 private:
  nlohmann::json root_;
  const nlohmann::json* text_ = nullptr;
  std::string file_;
};

}  // namespace maxact
