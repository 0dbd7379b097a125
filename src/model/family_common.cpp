#include "model/family_common.h"

#include <algorithm>
#include <cmath>

#include "io/json_util.h"

namespace maxact {
using nlohmann::json;

int64_t read_basic_dims(const ConfigReader& c, ModelSpec& s, const ConfigDefaults& d) {
  s.vocab_size = c.get_int("vocab_size", d.vocab_size);
  s.hidden_size = static_cast<int>(c.get_int("hidden_size", d.hidden_size));
  s.num_layers = static_cast<int>(c.get_int("num_hidden_layers", d.num_layers));
  auto& a = s.attention;
  a.num_heads = static_cast<int>(c.get_int("num_attention_heads", d.num_heads));
  // num_key_value_heads: null or absent -> num_attention_heads (bailing v1 writes 0 for "unset").
  const int64_t kv = c.get_int("num_key_value_heads", d.num_kv_heads);
  a.num_kv_heads = static_cast<int>(kv > 0 ? kv : a.num_heads);
  if (s.vocab_size <= 0) c.fail("vocab_size", "must be positive");
  if (s.hidden_size <= 0) c.fail("hidden_size", "must be positive");
  if (s.num_layers <= 0) c.fail("num_hidden_layers", "must be positive");
  if (a.num_heads <= 0) c.fail("num_attention_heads", "must be positive");
  if (a.num_heads % a.num_kv_heads != 0) {
    c.fail("num_key_value_heads", "(" + std::to_string(a.num_kv_heads) +
                                      ") must divide num_attention_heads (" +
                                      std::to_string(a.num_heads) + ")");
  }
  const int64_t hd =
      c.get_int("head_dim", d.head_dim > 0 ? d.head_dim : s.hidden_size / a.num_heads);
  if (hd <= 0) c.fail("head_dim", "must be positive");
  a.head_dim = static_cast<int>(hd);
  a.scale = 1.0 / std::sqrt(static_cast<double>(a.head_dim));
  s.rms_norm_eps = c.get_double("rms_norm_eps", d.rms_norm_eps);
  s.max_position_embeddings = c.get_int("max_position_embeddings", d.max_position_embeddings);
  if (!(s.rms_norm_eps >= 0)) c.fail("rms_norm_eps", "must be non-negative");
  // tie_word_embeddings may be written at either level (Qwen3.5 writes both); either one true ties.
  bool tie = d.tie_word_embeddings;
  bool seen = false;
  const auto text = c.root().find("text_config");
  const json* inner = c.has_text_config() ? &*text : nullptr;
  for (const json* obj : {&c.root(), inner}) {
    if (obj == nullptr) continue;
    auto it = obj->find("tie_word_embeddings");
    if (it == obj->end() || it->is_null()) continue;
    if (!it->is_boolean()) c.fail("tie_word_embeddings", "must be true or false");
    tie = seen ? (tie || it->get<bool>()) : it->get<bool>();
    seen = true;
  }
  s.tie_word_embeddings = tie;
  if (const std::string act = c.get_string("hidden_act", "silu");
      d.silu_from_hidden_act && act != "silu" && act != "swish") {
    throw Error(ErrorCode::kUnsupported, c.file() + ": hidden_act " + quote_untrusted(act) +
                                             " is not supported for this family (silu)");
  }
  const int64_t inter = c.get_int("intermediate_size", d.intermediate_size);
  if (inter < 0) c.fail("intermediate_size", "must be non-negative");
  return inter;
}

namespace {

RopeKind parse_rope_kind(const ConfigReader& c, const std::string& name, const std::string& where,
                         bool legacy_yarn_is_longrope) {
  if (name == "default" || name == "mrope") return RopeKind::kDefault;
  if (name == "linear") return RopeKind::kLinear;
  if (name == "dynamic") return RopeKind::kDynamic;
  if (name == "llama3") return RopeKind::kLlama3;
  if (name == "yarn") return legacy_yarn_is_longrope ? RopeKind::kLongRope : RopeKind::kYarn;
  if (name == "longrope" || name == "su") return RopeKind::kLongRope;
  c.fail(where, "has unsupported rope type '" + name +
                    "' (supported: default, mrope, linear, dynamic, llama3, yarn, longrope)");
}

std::vector<double> double_list(const ConfigReader& c, const json& obj, const std::string& key,
                                const std::string& where) {
  std::vector<double> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_array()) c.fail(where + "." + key, "must be a list of numbers");
  for (const auto& v : *it) {
    if (!v.is_number()) c.fail(where + "." + key, "must be a list of numbers");
    out.push_back(v.get<double>());
  }
  return out;
}

}  // namespace

RopeSpec rope_from_object(const ConfigReader& c, const json& obj, const std::string& where,
                          const ModelSpec& s, double default_theta, double default_partial,
                          bool legacy_yarn_is_longrope) {
  const std::string& f = c.file();
  const int head_dim = s.attention.head_dim;
  RopeSpec r;
  r.max_position = s.max_position_embeddings;
  r.theta = ConfigReader::obj_double(obj, "rope_theta", where, f).value_or(default_theta);
  std::string type = "default";
  for (const char* k : {"rope_type", "type"}) {
    auto it = obj.find(k);
    if (it != obj.end() && !it->is_null()) {
      if (!it->is_string()) c.fail(where + "." + k, "must be a string");
      type = it->get<std::string>();
      break;
    }
  }
  r.kind = parse_rope_kind(c, type, where, legacy_yarn_is_longrope);
  const double partial = ConfigReader::obj_double(obj, "partial_rotary_factor", where, f)
                             .value_or(c.get_double("partial_rotary_factor", default_partial));
  if (!(partial > 0 && partial <= 1)) c.fail("partial_rotary_factor", "must be in (0, 1]");
  r.rotary_dim = static_cast<int>(static_cast<double>(head_dim) * partial);
  if (r.rotary_dim % 2 != 0 || r.rotary_dim == 0) {
    c.fail("partial_rotary_factor", "gives an odd or empty rotary dimension " +
                                        std::to_string(r.rotary_dim) + " of head_dim " +
                                        std::to_string(head_dim));
  }
  r.factor = ConfigReader::obj_double(obj, "factor", where, f).value_or(1.0);
  r.low_freq_factor = ConfigReader::obj_double(obj, "low_freq_factor", where, f).value_or(1.0);
  r.high_freq_factor = ConfigReader::obj_double(obj, "high_freq_factor", where, f).value_or(4.0);
  r.original_max_position = ConfigReader::obj_int(obj, "original_max_position_embeddings", where, f)
                                .value_or(c.get_int("original_max_position_embeddings", 0));
  r.beta_fast = ConfigReader::obj_double(obj, "beta_fast", where, f).value_or(32.0);
  r.beta_slow = ConfigReader::obj_double(obj, "beta_slow", where, f).value_or(1.0);
  r.attention_factor = ConfigReader::obj_double(obj, "attention_factor", where, f);
  r.mscale = ConfigReader::obj_double(obj, "mscale", where, f);
  r.mscale_all_dim = ConfigReader::obj_double(obj, "mscale_all_dim", where, f);
  if (auto it = obj.find("truncate"); it != obj.end() && !it->is_null()) {
    if (!it->is_boolean()) c.fail(where + ".truncate", "must be true or false");
    r.truncate = it->get<bool>();
  }
  r.short_factor = double_list(c, obj, "short_factor", where);
  r.long_factor = double_list(c, obj, "long_factor", where);

  const bool scaled = r.kind == RopeKind::kLinear || r.kind == RopeKind::kDynamic ||
                      r.kind == RopeKind::kLlama3 || r.kind == RopeKind::kYarn;
  if (scaled && !(r.factor > 0)) c.fail(where + ".factor", "must be positive");
  if (r.kind == RopeKind::kLlama3 && r.original_max_position <= 0) {
    c.fail(where + ".original_max_position_embeddings", "is required for llama3 RoPE");
  }
  if (r.kind == RopeKind::kYarn && r.original_max_position <= 0) {
    // HF falls back to max_position_embeddings when the original length is not given.
    r.original_max_position = r.max_position;
  }
  if (r.kind == RopeKind::kLongRope) {
    const std::size_t half = static_cast<std::size_t>(r.rotary_dim / 2);
    if (r.short_factor.size() != half || r.long_factor.size() != half) {
      c.fail(where, "longrope short_factor/long_factor must have rotary_dim/2 = " +
                        std::to_string(half) + " entries");
    }
    if (r.original_max_position <= 0) {
      c.fail("original_max_position_embeddings", "is required for longrope");
    }
  }
  return r;
}

RopeSpec read_rope(const ConfigReader& c, const ModelSpec& s, double default_theta,
                   double default_partial, bool legacy_yarn_is_longrope) {
  if (const json* rp = c.find("rope_parameters")) {
    if (!rp->is_object()) c.fail("rope_parameters", "must be an object");
    return rope_from_object(c, *rp, "rope_parameters", s, default_theta, default_partial,
                            legacy_yarn_is_longrope);
  }
  json obj = json::object();
  if (const json* rs = c.find("rope_scaling")) {
    if (!rs->is_object()) c.fail("rope_scaling", "must be an object or null");
    obj = *rs;
  }
  if (auto theta = c.opt_double("rope_theta")) obj["rope_theta"] = *theta;
  return rope_from_object(c, obj, "rope_scaling", s, default_theta, default_partial,
                          legacy_yarn_is_longrope);
}

std::vector<std::string> read_layer_types(const ConfigReader& c, int num_layers,
                                          const std::vector<std::string>& allowed) {
  std::vector<std::string> types = c.get_string_list("layer_types");
  if (types.empty()) return types;
  // Checkpoints with MTP layers may list more types than decoder layers; only the first count.
  if (types.size() < static_cast<std::size_t>(num_layers)) {
    c.fail("layer_types", "has " + std::to_string(types.size()) + " entries for " +
                              std::to_string(num_layers) + " layers");
  }
  types.resize(static_cast<std::size_t>(num_layers));
  for (const auto& t : types) {
    if (std::find(allowed.begin(), allowed.end(), t) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      c.fail("layer_types", "contains '" + t + "' (expected one of: " + list + ")");
    }
  }
  return types;
}

// compressed-tensors: no weight groups (a KV-cache-only checkpoint: weights as they are), or FP8
// weights with one scale per tensor.
void read_compressed_tensors(const ConfigReader& c, const json& q, ModelSpec& s) {
  const auto groups = q.find("config_groups");
  if (groups == q.end() || !groups->is_object()) {
    c.fail("quantization_config.config_groups", "must be an object");
  }
  for (const auto& [name, g] : groups->items()) {
    const json* w = g.is_object() && g.contains("weights") ? &g["weights"] : nullptr;
    if (w == nullptr || !w->is_object() || w->value("type", "") != "float" ||
        w->value("num_bits", 0) != 8 || w->value("strategy", "") != "tensor") {
      throw Error(ErrorCode::kUnsupported,
                  c.file() + ": quantization_config.config_groups." + quote_untrusted(name) +
                      ": only 8-bit float weights with one scale per tensor are supported");
    }
    s.quantization = Quantization::kFp8Tensor;
  }
}

void read_quantization(const ConfigReader& c, ModelSpec& s) {
  const json* q = c.find("quantization_config");
  if (q == nullptr) return;
  if (!q->is_object()) c.fail("quantization_config", "must be an object");
  std::string method;
  if (auto it = q->find("quant_method"); it != q->end() && it->is_string()) {
    method = it->get<std::string>();
  }
  if (method == "fp8") {
    s.quantization = Quantization::kFp8Block;
    if (auto it = q->find("weight_block_size"); it != q->end() && !it->is_null()) {
      if (!it->is_array() || it->size() != 2 || !(*it)[0].is_number_integer() ||
          !(*it)[1].is_number_integer() || (*it)[0].get<int64_t>() <= 0 ||
          (*it)[1].get<int64_t>() <= 0) {
        c.fail("quantization_config.weight_block_size", "must be two positive integers");
      }
      s.fp8_block_out = (*it)[0].get<int64_t>();
      s.fp8_block_in = (*it)[1].get<int64_t>();
    } else {
      c.fail("quantization_config.weight_block_size",
             "is missing: only block-wise FP8 (weight_scale_inv per block) is supported");
    }
  } else if (method == "mxfp4") {
    s.quantization = Quantization::kMxfp4;
  } else if (method == "compressed-tensors") {
    read_compressed_tensors(c, *q, s);
  } else if (method == "modelopt") {
    const auto algo = q->find("quant_algo");
    if (algo == q->end() || *algo != "FP8") {
      throw Error(ErrorCode::kUnsupported,
                  c.file() +
                      ": quantization_config: only ModelOpt's quant_algo FP8 (per-tensor "
                      "weight scales) is supported");
    }
    s.quantization = Quantization::kFp8Tensor;
  } else {
    throw Error(ErrorCode::kUnsupported,
                c.file() + ": quantization_config.quant_method '" + method +
                    "' is not supported (supported: fp8 with weight_block_size, mxfp4, "
                    "compressed-tensors and modelopt FP8 with per-tensor weight scales)");
  }
}

TensorReq& add_tensor(ModelSpec& s, std::string name, std::vector<int64_t> shape,
                      TensorReq::Role role, int layer, bool linear, int experts_in) {
  TensorReq t;
  t.name = std::move(name);
  t.shape = std::move(shape);
  t.role = role;
  t.layer = layer;
  t.linear = linear;
  t.experts_in = experts_in;
  s.tensors.push_back(std::move(t));
  return s.tensors.back();
}

void add_linear(ModelSpec& s, const std::string& module, int64_t out, int64_t in, int layer,
                bool bias) {
  add_tensor(s, module + ".weight", {out, in}, TensorReq::Role::kWeight, layer, true);
  if (bias) add_tensor(s, module + ".bias", {out}, TensorReq::Role::kBias, layer);
}

void add_norm(ModelSpec& s, const std::string& module, int64_t dim, int layer) {
  add_tensor(s, module + ".weight", {dim}, TensorReq::Role::kNorm, layer);
}

void add_layer_norm(ModelSpec& s, int layer, const std::string& name) {
  add_norm(s, layer_tensor_prefix(layer) + name, s.hidden_size, layer);
}

void add_embedding_and_head(ModelSpec& s) {
  add_tensor(s, s.names.embed_weight(), {s.vocab_size, s.hidden_size}, TensorReq::Role::kEmbedding);
  add_tensor(s, s.names.final_norm_weight(), {s.hidden_size}, TensorReq::Role::kNorm);
  if (!s.tie_word_embeddings) {
    add_tensor(s, "lm_head.weight", {s.vocab_size, s.hidden_size}, TensorReq::Role::kLmHead, -1,
               true);
  }
}

void add_attention(ModelSpec& s, int layer, int64_t q_out_factor) {
  const auto& a = s.attention;
  const ModuleNames& n = s.names;
  const std::string p = layer_tensor_prefix(layer) + n.attn + ".";
  const int64_t hd = a.head_dim, H = s.hidden_size;
  if (a.fused_qkv) {
    add_linear(s, p + n.qkv, (a.num_heads + 2 * int64_t{a.num_kv_heads}) * hd, H, layer, a.q_bias);
  } else {
    add_linear(s, p + n.q, q_out_factor * a.num_heads * hd, H, layer, a.q_bias);
    add_linear(s, p + n.k, a.num_kv_heads * hd, H, layer, a.k_bias);
    add_linear(s, p + n.v, a.num_kv_heads * hd, H, layer, a.v_bias);
  }
  add_linear(s, p + n.o, H, a.num_heads * hd, layer, a.o_bias);
  if (a.qk_norm) {
    add_norm(s, p + n.q_norm, hd, layer);
    add_norm(s, p + n.k_norm, hd, layer);
  }
  if (a.sinks) add_tensor(s, p + n.sinks, {a.num_heads}, TensorReq::Role::kOther, layer);
}

void add_gated_mlp(ModelSpec& s, const std::string& module, int64_t inter, int layer, bool bias,
                   bool fused_gate_up) {
  const ModuleNames& n = s.names;
  const int64_t H = s.hidden_size;
  const std::string p = layer_tensor_prefix(layer) + module + ".";
  if (fused_gate_up) {
    add_linear(s, p + n.gate_up_proj, 2 * inter, H, layer, bias);
  } else {
    add_linear(s, p + n.gate_proj, inter, H, layer, bias);
    add_linear(s, p + n.up_proj, inter, H, layer, bias);
  }
  add_linear(s, p + n.down_proj, H, inter, layer, bias);
}

void add_per_expert_moe(ModelSpec& s, int layer) {
  const ModuleNames& n = s.names;
  const int64_t H = s.hidden_size, I = s.moe.intermediate;
  const std::string p = layer_tensor_prefix(layer);
  add_linear(s, p + n.moe_part(n.router), s.moe.num_experts, H, layer);
  for (int e = 0; e < s.moe.num_experts; ++e) {
    const std::string x = p + n.moe_part(n.experts) + "." + std::to_string(e) + ".";
    add_tensor(s, x + n.expert_gate + ".weight", {I, H}, TensorReq::Role::kExpert, layer, true, 1);
    add_tensor(s, x + n.expert_up + ".weight", {I, H}, TensorReq::Role::kExpert, layer, true, 1);
    add_tensor(s, x + n.expert_down + ".weight", {H, I}, TensorReq::Role::kExpert, layer, true, 1);
  }
}

void add_shared_expert(ModelSpec& s, int layer) {
  const ModuleNames& n = s.names;
  if (s.moe.shared_intermediate <= 0) return;
  add_gated_mlp(s, n.moe_part(n.shared_expert), s.moe.shared_intermediate, layer, false);
  if (s.moe.shared_gate) {
    add_linear(s, layer_tensor_prefix(layer) + n.moe_part(n.shared_expert_gate), 1, s.hidden_size,
               layer);
  }
}

}  // namespace maxact
