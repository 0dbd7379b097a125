// Building blocks shared by the per-family adapters: reading the common config keys, RoPE
// parameters, layer types, and appending the usual tensor groups to a ModelSpec.
#pragma once

#include <string>
#include <vector>

#include "maxact/model_spec.h"
#include "model/config_reader.h"

namespace maxact {

// Documented defaults of a family's config class, used when a key is absent.
struct ConfigDefaults {
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_layers = 32;
  int64_t num_heads = 32;
  int64_t num_kv_heads = 0;  // 0: equal to num_heads
  int64_t head_dim = 0;      // 0: hidden_size / num_heads
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  int64_t max_position_embeddings = 2048;
  // The MLP is SiLU-gated and Hugging Face takes its activation from hidden_act: any other value
  // is refused rather than scanned as SiLU. Gemma reads hidden_activation instead (its
  // hidden_act is ignored upstream too); gpt-oss has its own clamped GLU.
  bool silu_from_hidden_act = true;
};

// Reads vocab/hidden/layers/heads/kv heads/head_dim/eps/tie and checks they are consistent.
// Returns intermediate_size (the dense MLP width).
int64_t read_basic_dims(const ConfigReader& c, ModelSpec& s, const ConfigDefaults& d);

// RoPE from `rope_parameters` (v5) or `rope_theta` + `rope_scaling` (v4), with
// partial_rotary_factor at top level or inside the RoPE dict. `legacy_yarn_is_longrope`: phi3's
// old configs call longrope "yarn" or "su".
RopeSpec read_rope(const ConfigReader& c, const ModelSpec& s, double default_theta,
                   double default_partial, bool legacy_yarn_is_longrope = false);
// RoPE from one dict of v5 `rope_parameters` form ({"rope_type", "rope_theta", ...}), using the
// spec's head_dim and max_position_embeddings (call read_basic_dims first).
RopeSpec rope_from_object(const ConfigReader& c, const nlohmann::json& obj,
                          const std::string& where, const ModelSpec& s, double default_theta,
                          double default_partial, bool legacy_yarn_is_longrope);

// `layer_types` if present (validated: one per layer, each among `allowed`), else empty.
std::vector<std::string> read_layer_types(const ConfigReader& c, int num_layers,
                                          const std::vector<std::string>& allowed);

// Reads quantization_config: FP8 block and MXFP4 (anything else is "not supported").
void read_quantization(const ConfigReader& c, ModelSpec& s);

// Tensor-table helpers, named from ModelSpec::names (set them first). Shapes are [out, in] for
// Linear weights; `module` arguments are paths relative to the decoder layer.
TensorReq& add_tensor(ModelSpec& s, std::string name, std::vector<int64_t> shape,
                      TensorReq::Role role, int layer = -1, bool linear = false,
                      int experts_in = 0);
void add_linear(ModelSpec& s, const std::string& module, int64_t out, int64_t in, int layer,
                bool bias = false);
void add_norm(ModelSpec& s, const std::string& module, int64_t dim, int layer = -1);
// A norm of the hidden size in decoder layer `layer`.
void add_layer_norm(ModelSpec& s, int layer, const std::string& name);
// The embedding, the final norm and (unless tied) lm_head.
void add_embedding_and_head(ModelSpec& s);
// q/k/v (or the fused qkv) and o projections with the biases AttentionSpec asks for, q/k norms
// when qk_norm, sinks when sinks. q_out_factor 2: q_proj carries an output gate per head.
void add_attention(ModelSpec& s, int layer, int64_t q_out_factor = 1);
// A gated MLP (SwiGLU or GeGLU: the activation is ModelSpec::activation) of width `inter` under
// `module`: gate/up/down projections, or gate_up/down when `fused_gate_up`.
void add_gated_mlp(ModelSpec& s, const std::string& module, int64_t inter, int layer, bool bias,
                   bool fused_gate_up = false);
// The router and per-expert routed experts (MoeSpec::storage kPerExpert) of layer `layer`.
void add_per_expert_moe(ModelSpec& s, int layer);
// The shared expert (and its gate when MoeSpec::shared_gate) of layer `layer`, if any.
void add_shared_expert(ModelSpec& s, int layer);

}  // namespace maxact
