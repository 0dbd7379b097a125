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

// The range of every integer key maxact reads, in one place: a value outside it is an error
// naming the key, never a narrowed, wrapped or absurd size (hidden_size 2^32 + 192 read as 192;
// num_hidden_layers 1e8 allocating until memory runs out). Limits sit far beyond any released
// model. Keys not listed must fit a 32-bit int.
struct IntRange {
  const char* key;
  int64_t min, max;
};
constexpr int64_t kK = 1024;
constexpr IntRange kIntRanges[] = {
    {"vocab_size", 1, 16 * kK* kK},
    {"hidden_size", 1, 128 * kK},
    {"num_hidden_layers", 1, 4 * kK},
    {"num_attention_heads", 1, 4 * kK},
    {"num_key_value_heads", 0, 4 * kK},  // 0: "same as num_attention_heads" (Ling v1)
    {"head_dim", 1, 16 * kK},
    {"intermediate_size", 0, kK* kK},
    {"moe_intermediate_size", 0, kK* kK},
    {"shared_expert_intermediate_size", 0, kK* kK},
    {"moe_shared_expert_intermediate_size", 0, kK* kK},
    {"max_position_embeddings", 1, kK* kK* kK},
    {"original_max_position_embeddings", 0, kK* kK* kK},
    {"num_experts", 1, 64 * kK},
    {"num_local_experts", 1, 64 * kK},
    {"num_experts_per_tok", 1, 64 * kK},
    {"experts_per_token", 1, 64 * kK},
    {"num_shared_experts", 0, kK},
    {"n_group", 1, 64 * kK},
    {"topk_group", 1, 64 * kK},
    {"linear_num_key_heads", 1, 4 * kK},
    {"linear_num_value_heads", 1, 4 * kK},
    {"linear_key_head_dim", 1, 16 * kK},
    {"linear_value_head_dim", 1, 16 * kK},
    {"linear_conv_kernel_dim", 1, 64},
    {"full_attention_interval", 1, 4 * kK},
    {"decoder_sparse_step", 1, 4 * kK},
    {"first_k_dense_replace", 0, 4 * kK},
    {"max_window_layers", 0, 4 * kK},
    {"sliding_window_pattern", 1, 4 * kK},
    {"num_nextn_predict_layers", 0, 64},
};

// Floating-point keys that must be positive (a zero or negative value scans to NaN everywhere)
// or non-negative.
struct DoubleRange {
  const char* key;
  bool positive;  // > 0; otherwise >= 0
};
constexpr DoubleRange kDoubleRanges[] = {
    {"rope_theta", true},
    {"rope_local_base_freq", true},
    {"query_pre_attn_scalar", true},
    {"factor", true},
    {"swiglu_limit", true},
    {"routed_scaling_factor", true},
    {"rms_norm_eps", false},
    {"layer_norm_eps", false},
    {"attn_logit_softcapping", false},
    {"final_logit_softcapping", false},
    {"attention_factor", false},
    {"mscale", false},
    {"mscale_all_dim", false},
    {"beta_fast", false},
    {"beta_slow", false},
    {"low_freq_factor", true},
    {"high_freq_factor", true},
};

// "" when `v` is allowed for `key`, else the problem.
std::string int_range_problem(const std::string& key, int64_t v) {
  int64_t lo = -0x7FFFFFFF, hi = 0x7FFFFFFF;
  for (const IntRange& r : kIntRanges) {
    if (key == r.key) lo = r.min, hi = r.max;
  }
  if (v >= lo && v <= hi) return {};
  return "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", found " +
         std::to_string(v);
}

std::string double_range_problem(const std::string& key, double v) {
  if (!std::isfinite(v)) return "must be finite";
  for (const DoubleRange& r : kDoubleRanges) {
    if (key != r.key) continue;
    if (r.positive && !(v > 0)) return "must be positive, found " + std::to_string(v);
    if (!r.positive && !(v >= 0)) return "must be non-negative, found " + std::to_string(v);
  }
  return {};
}

}  // namespace

std::optional<int64_t> ConfigReader::opt_int(const std::string& key) const {
  const json* v = find(key);
  if (v == nullptr) return std::nullopt;
  int64_t out = 0;
  if (!to_int(*v, out)) fail(key, "must be an integer, found " + json_excerpt(*v));
  if (auto problem = int_range_problem(key, out); !problem.empty()) fail(key, problem);
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
  if (!v->is_number()) fail(key, "must be a number, found " + json_excerpt(*v));
  if (auto problem = double_range_problem(key, v->get<double>()); !problem.empty()) {
    fail(key, problem);
  }
  return v->get<double>();
}

double ConfigReader::get_double(const std::string& key, double fallback) const {
  return opt_double(key).value_or(fallback);
}

bool ConfigReader::get_bool(const std::string& key, bool fallback) const {
  const json* v = find(key);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) fail(key, "must be true or false, found " + json_excerpt(*v));
  return v->get<bool>();
}

std::string ConfigReader::get_string(const std::string& key, const std::string& fallback) const {
  const json* v = find(key);
  if (v == nullptr) return fallback;
  if (!v->is_string()) fail(key, "must be a string, found " + json_excerpt(*v));
  return v->get<std::string>();
}

std::vector<int64_t> ConfigReader::get_int_list(const std::string& key) const {
  const json* v = find(key);
  std::vector<int64_t> out;
  if (v == nullptr) return out;
  if (!v->is_array()) fail(key, "must be a list of integers, found " + json_type_name(*v));
  for (const auto& e : *v) {
    int64_t x = 0;
    if (!to_int(e, x)) fail(key, "must be a list of integers, found element " + json_excerpt(e));
    if (auto problem = int_range_problem(key, x); !problem.empty())
      fail(key, "elements " + problem);
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
    if (!e.is_string()) fail(key, "must be a list of strings, found element " + json_excerpt(e));
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::optional<double> ConfigReader::obj_double(const json& obj, const std::string& key,
                                               const std::string& where, const std::string& file) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) {
    throw Error(ErrorCode::kConfig, file + ": '" + where + "." + key +
                                        "' must be a number, found " + json_excerpt(*it));
  }
  if (auto problem = double_range_problem(key, it->get<double>()); !problem.empty()) {
    throw Error(ErrorCode::kConfig, file + ": '" + where + "." + key + "' " + problem);
  }
  return it->get<double>();
}

std::optional<int64_t> ConfigReader::obj_int(const json& obj, const std::string& key,
                                             const std::string& where, const std::string& file) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  int64_t out = 0;
  if (!to_int(*it, out)) {
    throw Error(ErrorCode::kConfig, file + ": '" + where + "." + key +
                                        "' must be an integer, found " + json_excerpt(*it));
  }
  if (auto problem = int_range_problem(key, out); !problem.empty()) {
    throw Error(ErrorCode::kConfig, file + ": '" + where + "." + key + "' " + problem);
  }
  return out;
}

}  // namespace maxact
