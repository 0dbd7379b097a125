// model_type -> adapter table, and parse_model_config which drives it.
#include <array>

#include "io/json_util.h"
#include "maxact/model.h"
#include "model/config_reader.h"
#include "model/families/families.h"
#include "model/family_common.h"

namespace maxact {
namespace {

struct Entry {
  const char* model_type;
  ModelSpec (*build)(const ConfigReader&);
};

// Inner (text_config) model_types are listed too, so a bare text config also works.
constexpr std::array<Entry, 21> kFamilies{{
    {"llama", families::llama},
    {"mistral", families::mistral},
    {"mixtral", families::mixtral},
    {"qwen2", families::qwen2},
    {"qwen2_5_vl", families::qwen2_5_vl},
    {"qwen2_5_vl_text", families::qwen2_5_vl},
    {"qwen3", families::qwen3},
    {"qwen3_moe", families::qwen3_moe},
    {"qwen3_next", families::qwen3_next},
    {"qwen3_5", families::qwen3_5},
    {"qwen3_5_text", families::qwen3_5},
    {"qwen3_5_moe", families::qwen3_5_moe},
    {"qwen3_5_moe_text", families::qwen3_5_moe},
    {"gemma", families::gemma},
    {"gemma2", families::gemma2},
    {"gemma3", families::gemma3},
    {"gemma3_text", families::gemma3},
    {"gpt_oss", families::gpt_oss},
    {"phi3", families::phi3},
    {"bailing_moe", families::bailing_moe},
    {"bailing_moe_v2", families::bailing_moe_v2},
}};

const Entry* find_entry(const std::string& type) {
  for (const auto& e : kFamilies) {
    if (type == e.model_type) return &e;
  }
  return nullptr;
}

// Remote-code checkpoints name the class in `architectures` even when model_type is generic.
const Entry* find_by_architecture(const std::string& arch) {
  if (arch == "BailingMoeForCausalLM") return find_entry("bailing_moe");
  if (arch == "BailingMoeV2ForCausalLM") return find_entry("bailing_moe_v2");
  return nullptr;
}

}  // namespace

const std::vector<std::string>& supported_model_types() {
  static const std::vector<std::string> types = [] {
    std::vector<std::string> t;
    for (const auto& e : kFamilies) {
      t.emplace_back(e.model_type);
    }
    return t;
  }();
  return types;
}

namespace {

ModelSpec parse_model_config_unguarded(const std::filesystem::path& config_json) {
  const std::string file = config_json.string();
  std::error_code ec;
  if (!std::filesystem::exists(config_json, ec)) {
    throw Error(ErrorCode::kConfig,
                file + ": missing (a Hugging Face model folder has config.json)");
  }
  nlohmann::json root = parse_json(read_text_file(config_json), file, ErrorCode::kConfig,
                                   duplicate_key_error(file, ErrorCode::kConfig));
  ConfigReader c(std::move(root), file);
  std::string arch;
  if (const auto* a = c.root().contains("architectures") ? &c.root()["architectures"] : nullptr;
      a != nullptr && a->is_array() && !a->empty() && (*a)[0].is_string()) {
    arch = (*a)[0].get<std::string>();
  }
  for (const nlohmann::json* obj :
       {&c.root(), c.has_text_config() ? &c.root()["text_config"] : nullptr}) {
    if (obj == nullptr) continue;
    if (auto it = obj->find("model_type"); it != obj->end() && !it->is_null() && !it->is_string()) {
      c.fail("model_type", "must be a string, found " + json_excerpt(*it));
    }
  }
  const std::string outer = c.outer_model_type(), inner = c.inner_model_type();
  // Remote-code families are named by their class first: Ling configs have been published with
  // a model_type that does not match the class.
  const Entry* e = find_by_architecture(arch);
  if (e == nullptr) e = find_entry(outer);
  if (e == nullptr) e = find_entry(inner);
  if (e == nullptr) {
    std::string list;
    for (const auto& t : supported_model_types()) list += (list.empty() ? "" : ", ") + t;
    const std::string what =
        outer.empty() ? std::string("no model_type") : "model_type " + quote_untrusted(outer);
    throw Error(ErrorCode::kUnsupported,
                file + ": " + what + " is not supported by maxact (supported: " + list + ")");
  }
  ModelSpec s = e->build(c);
  s.model_type = outer.empty() ? e->model_type : outer;
  s.architecture = arch;
  // HF >= 4.52 puts the language model of *ForConditionalGeneration under model.language_model.
  const bool wrapped = arch.size() > 24 && arch.ends_with("ForConditionalGeneration");
  s.module_prefix = wrapped ? "model.language_model" : "model";
  if (s.quantization == Quantization::kNone) read_quantization(c, s);
  // MXFP4 is implemented for gpt-oss's expert layout only (its adapter reads the quantization
  // itself and picks that storage).
  if (s.quantization == Quantization::kMxfp4 && s.moe.storage != ExpertStorage::kGptOssMxfp4) {
    throw Error(ErrorCode::kUnsupported,
                file + ": MXFP4 quantization is supported for gpt_oss experts only");
  }
  return s;
}

}  // namespace

ModelSpec parse_model_config(const std::filesystem::path& config_json) {
  // The adapters read typed values throughout; a wrong type that slipped past their checks is
  // still bad input naming the file, never an internal error.
  try {
    return parse_model_config_unguarded(config_json);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kConfig,
                config_json.string() + ": malformed config: " + json_error_text(e));
  }
}

}  // namespace maxact
