// A model's architecture as data: what config.json says, normalised across families, plus the
// table of tensors the forward pass needs. Built by one small adapter per Hugging Face model_type
// (src/model/families/); the engine reads only this.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "maxact/dtype.h"
#include "maxact/module_names.h"

namespace maxact {

// docs/NUMERICS.md §3: N1 = bf(w * bf(x r)), N2 = x r (1 + w), N3 = fp32 weight.
enum class NormKind { kPlain, kOnePlus, kFp32Weight };
enum class Activation { kSilu, kGeluTanh, kGelu };
enum class MixerKind { kAttention, kGatedDeltaNet };
enum class MlpKind { kDense, kDenseFusedGateUp, kMoe };
enum class RopeKind { kDefault, kLinear, kDynamic, kLlama3, kYarn, kLongRope };
// docs/NUMERICS.md §7: routers R1, R2, R3 and combines C1, C2, C3, in enum order.
enum class RouterKind { kSoftmaxTopK, kTopKSoftmax, kSigmoidGroupLimited };
enum class CombineKind { kExpertOrderInDtype, kFp32OverSlots, kFp32OverAllExperts };
// How routed experts are stored on disk.
enum class ExpertStorage {
  kPerExpert,    // ...experts.{e}.{gate,up,down}_proj.weight (Mixtral: w1/w3/w2)
  kFusedGateUp,  // Qwen3.5-MoE: experts.gate_up_proj [E, 2I, H], experts.down_proj [E, H, I]
  kGptOssDense,  // gpt-oss bf16: gate_up_proj [E, H, 2I] (interleaved), down_proj [E, I, H]
  kGptOssMxfp4,  // gpt-oss MXFP4: *_blocks / *_scales + biases
};
// gpt-oss's expert layout (MXFP4 or bf16): fused gate_up with interleaved columns, with biases.
inline bool gpt_oss_storage(ExpertStorage s) {
  return s == ExpertStorage::kGptOssDense || s == ExpertStorage::kGptOssMxfp4;
}
// kFp8Tensor: FP8 E4M3 Linear weights with one scale each ("x.weight_scale"), as compressed-tensors
// (float-quantized, strategy tensor) and ModelOpt FP8 checkpoints store them, maxact's FP8 export
// among them.
enum class Quantization { kNone, kFp8Block, kMxfp4, kFp8Tensor };

struct RopeSpec {
  RopeKind kind = RopeKind::kDefault;
  double theta = 10000.0;
  int rotary_dim = 0;  // dims rotated per head (head_dim * partial_rotary_factor)
  double factor = 1.0;
  double low_freq_factor = 1.0, high_freq_factor = 4.0;  // llama3
  int64_t original_max_position = 0;                     // llama3 / yarn / longrope
  int64_t max_position = 0;                              // max_position_embeddings
  double beta_fast = 32.0, beta_slow = 1.0;              // yarn
  std::optional<double> attention_factor;                // yarn / longrope
  std::optional<double> mscale, mscale_all_dim;          // yarn
  bool truncate = true;                                  // yarn
  std::vector<double> short_factor, long_factor;         // longrope
};

struct AttentionSpec {
  int num_heads = 0, num_kv_heads = 0, head_dim = 0;
  bool q_bias = false, k_bias = false, v_bias = false, o_bias = false;
  bool fused_qkv = false;    // phi3 qkv_proj, bailing query_key_value
  bool qk_norm = false;      // per-head q/k RMSNorm (kind = ModelSpec::norm, except bailing N1)
  bool output_gate = false;  // qwen3_next / qwen3_5: q_proj carries a sigmoid gate per head
  bool sinks = false;        // gpt-oss
  double scale = 0.0;        // softmax scale applied to q k^T
  bool scale_q_first = false;  // bailing v1: S = D(D(q · scale) kᵀ) instead of D(D(q kᵀ) · scale)
  double logit_softcap = 0.0;  // gemma2 (0 = none)
};

// Gated DeltaNet, docs/NUMERICS.md §8. Its output norm (linear_attn.norm) is always the gated
// N4 norm with a plain weight, whatever ModelSpec::norm says for the other norms.
struct LinearAttnSpec {
  int num_k_heads = 0, num_v_heads = 0, k_head_dim = 0, v_head_dim = 0, conv_kernel = 0;
  bool fused_qkvz = false;  // qwen3_next in_proj_qkvz / in_proj_ba; qwen3_5 separate projections
};

struct MoeSpec {
  int num_experts = 0, top_k = 0, intermediate = 0;
  RouterKind router = RouterKind::kSoftmaxTopK;
  CombineKind combine = CombineKind::kExpertOrderInDtype;
  bool norm_topk_prob = false;
  bool router_bias = false;  // gpt-oss
  bool expert_bias = false;  // bailing v2 (selection bias)
  bool router_fp32 = false;  // bailing v2: router logits kept in fp32 (an fp32 GEMM on D values)
  int num_groups = 1, topk_groups = 1;
  double routed_scaling = 1.0;
  int shared_intermediate = 0;  // 0 = no shared expert
  bool shared_gate = false;     // qwen3_next / qwen3_5_moe sigmoid gate on the shared expert
  ExpertStorage storage = ExpertStorage::kPerExpert;
  double swiglu_limit = 0.0;  // gpt-oss clamp
};

struct LayerSpec {
  MixerKind mixer = MixerKind::kAttention;
  int sliding_window = 0;  // 0 = full causal attention
  int rope_table = 0;      // index into ModelSpec::rope (gemma3: 0 global, 1 local)
  MlpKind mlp = MlpKind::kDense;
  int intermediate = 0;  // dense MLP width on this layer
};

// One tensor the forward pass reads, by canonical name (wrapper prefixes removed).
struct TensorReq {
  enum class Role { kEmbedding, kLmHead, kNorm, kWeight, kBias, kExpert, kOther };
  std::string name;
  std::vector<int64_t> shape;  // shape on disk
  Role role = Role::kWeight;
  int layer = -1;       // -1 = not in a decoder layer
  int experts_in = 0;   // routed experts this tensor holds (kExpert): 1 per-expert, E fused
  bool linear = false;  // a Linear weight: may be stored FP8 block-quantized
  // Raw U8 quantized data (MXFP4 blocks / scales) instead of a float tensor; parameters per stored
  // element (2 for packed FP4 pairs, 0 for scales, which are not parameters).
  bool packed_u8 = false;
  int params_per_element = 1;
};

struct ModelSpec {
  std::string family;      // the adapter that built it ("llama", "gemma3", ...): reports, messages
  std::string model_type;  // as given in config.json (outer model_type for wrappers)
  std::string architecture;  // architectures[0] if present
  std::string
      module_prefix;  // hook-visible path of the decoder stack ("model", "model.language_model")
  int64_t vocab_size = 0;
  int hidden_size = 0;
  int num_layers = 0;
  int mtp_layers = 0;  // multi-token-prediction layers stored after the stack (Ling 2.0)
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  NormKind norm = NormKind::kPlain;
  Activation activation = Activation::kSilu;
  bool sandwich_norms = false;  // gemma2/3 pre/post feed-forward + post-attention norms
  bool embed_scale = false;     // gemma: embeddings * bf(sqrt(hidden))
  double final_logit_softcap = 0.0;
  bool tie_word_embeddings = false;
  bool norm_head = false;  // bailing v1
  AttentionSpec attention;
  ModuleNames names;           // the family's module names: the single source of every name
  std::vector<RopeSpec> rope;  // one table, or two (gemma3: global, local)
  LinearAttnSpec linear_attn;
  MoeSpec moe;
  std::vector<LayerSpec> layers;
  Quantization quantization = Quantization::kNone;
  int64_t fp8_block_out = 128, fp8_block_in = 128;
  std::vector<TensorReq> tensors;
};

std::string_view norm_kind_name(NormKind k);
std::string_view activation_name(Activation a);
std::string_view mixer_kind_name(MixerKind k);
std::string_view mlp_kind_name(MlpKind k);
std::string_view rope_kind_name(RopeKind k);
std::string_view router_kind_name(RouterKind k);
std::string_view expert_storage_name(ExpertStorage s);
std::string_view quantization_name(Quantization q);

// Whether the scan engine runs this configuration: every family's adapter builds specs it runs,
// but an MoE router / combination / expert storage outside those the engine implements is
// refused, with the reason. The one owner of that answer (inspect, scan and the CLI ask here).
struct ScanSupport {
  bool supported = false;
  std::string reason;  // "fp32 and bf16", or why not
};
ScanSupport scan_support(const ModelSpec& spec);
// Throws kUnsupported "<where>: scanning is not supported: <reason>" unless it is.
void require_scan_support(const ModelSpec& spec, const std::string& where);

// Every model_type maxact accepts, in a stable order (for "not supported" messages).
const std::vector<std::string>& supported_model_types();

}  // namespace maxact
