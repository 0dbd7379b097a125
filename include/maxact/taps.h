// Taps: the named places where the forward pass publishes activations. Each decoder layer's taps
// are data built from the family's name table (ModuleNames) and the layer's kind — only the taps
// a layer has, in the order the forward pass computes them. Reports list taps in this order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "maxact/model_spec.h"

namespace maxact {

// Which component of the model a tap belongs to; the study's global maximum is taken over
// kEmbedding, kHidden, kAttention, kMlp and kFinalNorm only.
enum class Component {
  kEmbedding,
  kNorm,         // input / post-attention / pre- and post-feedforward norms, q/k norms
  kProjection,   // q/k/v, gate/up outputs
  kKvCache,      // k after norm + RoPE, v: what a KV cache stores
  kLinearInput,  // inputs of o_proj / down_proj
  kAttention,    // self_attn output (o_proj output, before any post norm)
  kResidMid,     // residual stream between the two sub-blocks
  kMlp,          // MLP output
  kHidden,       // decoder-layer output (residual stream)
  kFinalNorm,
  kRouter,  // MoE router logits
};
std::string_view component_name(Component c);
bool component_in_study_max(Component c);

// The places in a decoder layer where the engine publishes: an identifier, not an order (a
// layer's taps come in forward order from layer_taps). A layer has a subset of them.
enum class TapPoint {
  kInputNorm,
  kQ,
  kK,
  kV,
  kQkv,  // fused projection (phi3 qkv_proj, Ling query_key_value)
  kQNorm,
  kKNorm,
  kKCache,
  kVCache,
  kOProjIn,  // o_proj's input, or a Gated DeltaNet's out_proj input
  kAttn,     // the token mixer's output
  kPostAttnNorm,
  kResidMid,
  kPreFfNorm,
  kGate,
  kUp,
  kGateUp,  // fused projection (phi3 gate_up_proj)
  kDownIn,
  kMlp,
  kPostFfNorm,
  kRouter,         // MoE router logits (`mlp.gate` / `block_sparse_moe.gate` / `mlp.router`)
  kRouterWeights,  // the routing weights each token's top-k experts are combined with
  kExpertDownIn,   // input of the experts' down projections, every (token, expert) pair
  kSharedDownIn,   // input of the shared expert's down projection
  kSharedOut,      // the shared expert's output, before its gate and the routed experts' sum
  kSharedGate,     // qwen3_next / qwen3.5-MoE: the shared expert's gate logit
  // Gated DeltaNet layers (linear_attn): the input projections as stored (qwen3_next fused
  // qkvz / ba, qwen3.5 qkv / z / b / a), the causal conv's output after SiLU (the kernel's q|k|v),
  // and max |S| of each value head's recurrent state after each 64-token chunk.
  kLinQkvz,
  kLinBa,
  kLinQkv,
  kLinZ,
  kLinB,
  kLinA,
  kLinConv,
  kLinState,
  kLayer,  // the decoder layer's output: the residual stream
};
constexpr int kTapPoints = static_cast<int>(TapPoint::kLayer) + 1;

// A Linear layer that reads a tap's rows, under the names calibration tools use: its Hugging Face
// module path (SmoothQuant's act_scales key; for routed experts, the experts' module) and the GGUF
// weight names llama.cpp's converter gives it (several when it splits or duplicates one HF
// tensor, e.g. gpt-oss's interleaved gate_up), without ".weight".
// How llama.cpp's converter reorders a weight's input channels (Qwen3.5's out_proj, when key and
// value heads differ): value head g * R + r (R = value_heads / key_heads) becomes r * key_heads +
// g, head_dim channels each. key_heads = 0: kept in order.
struct GgufInputOrder {
  int key_heads = 0, value_heads = 0;
  int64_t head_dim = 0;
  bool operator==(const GgufInputOrder& o) const = default;
};

struct GgufLinearNames {
  std::vector<std::string> names;
  GgufInputOrder input_order;
};

struct LinearUse {
  std::string module;
  std::vector<std::string> gguf;
  GgufInputOrder gguf_input_order;
  // Every routed expert of the layer: its statistics per expert are the scan's expert inputs
  // (ScanResult::expert_inputs: `in` or `down_in`), not the tap's, which pools all experts.
  enum class Experts { kNone, kIn, kDownIn } experts = Experts::kNone;
  // The experts' own weights reading these rows, as their checkpoint names them: per expert
  // "...experts.{e}.gate_proj" ("{e}" stands for the expert id), or the fused tensor of all
  // experts ("...experts.gate_up_proj").
  std::vector<std::string> expert_modules;
  bool operator==(const LinearUse& o) const = default;
};

struct TapInfo {
  std::string name;        // Hugging Face module path (+ ":in", ":resid_mid", ":k_cache", ...)
  std::string study_name;  // the study's name, or "" when the study has no such hook
  Component component = Component::kHidden;
  int layer = -1;  // -1 outside the decoder stack
  int64_t channels = 0;
  bool linear_input = false;  // the input of linear layers: where a W8A8 / FP8 quantizer acts
  std::string study_alias;    // a second study name for the same values (router: _moe_gate)
  TapPoint point = TapPoint::kLayer;  // within a decoder layer (layer >= 0)
  std::vector<LinearUse> feeds;       // the Linears whose input these rows are
};

// The taps of decoder layer `layer`, in forward order.
std::vector<TapInfo> layer_taps(const ModelSpec& spec, int layer);
TapInfo embedding_tap(const ModelSpec& spec);
TapInfo final_norm_tap(const ModelSpec& spec);
// Every tap a model publishes, in forward order.
std::vector<TapInfo> model_taps(const ModelSpec& spec);

// Shell-style glob (`*`, `?`, `[...]`) on whole names.
bool glob_match(std::string_view pattern, std::string_view name);
// Whether `pattern` selects the tap: by its Hugging Face name, study name or study alias. The
// one matcher of --taps and --quant-taps.
bool tap_matches(std::string_view pattern, const TapInfo& tap);

}  // namespace maxact
