#include "maxact/model_spec.h"

#include "maxact/error.h"

namespace maxact {

std::string layer_tensor_prefix(int layer) {
  return "model.layers." + std::to_string(layer) + ".";
}

std::string_view norm_kind_name(NormKind k) {
  switch (k) {
    case NormKind::kPlain:
      return "rmsnorm";
    case NormKind::kOnePlus:
      return "rmsnorm_1p";
    case NormKind::kFp32Weight:
      return "rmsnorm_fp32";
  }
  return "?";
}

std::string_view activation_name(Activation a) {
  switch (a) {
    case Activation::kSilu:
      return "silu";
    case Activation::kGeluTanh:
      return "gelu_tanh";
    case Activation::kGelu:
      return "gelu";
  }
  return "?";
}

std::string_view mixer_kind_name(MixerKind k) {
  return k == MixerKind::kAttention ? "attention" : "gated_deltanet";
}

std::string_view mlp_kind_name(MlpKind k) {
  switch (k) {
    case MlpKind::kDense:
      return "dense";
    case MlpKind::kDenseFusedGateUp:
      return "dense_fused";
    case MlpKind::kMoe:
      return "moe";
  }
  return "?";
}

std::string_view rope_kind_name(RopeKind k) {
  switch (k) {
    case RopeKind::kDefault:
      return "default";
    case RopeKind::kLinear:
      return "linear";
    case RopeKind::kDynamic:
      return "dynamic";
    case RopeKind::kLlama3:
      return "llama3";
    case RopeKind::kYarn:
      return "yarn";
    case RopeKind::kLongRope:
      return "longrope";
  }
  return "?";
}

std::string_view router_kind_name(RouterKind k) {
  switch (k) {
    case RouterKind::kSoftmaxTopK:
      return "softmax_topk";
    case RouterKind::kTopKSoftmax:
      return "topk_softmax";
    case RouterKind::kSigmoidGroupLimited:
      return "sigmoid_group_topk";
  }
  return "?";
}

std::string_view expert_storage_name(ExpertStorage s) {
  switch (s) {
    case ExpertStorage::kPerExpert:
      return "per_expert";
    case ExpertStorage::kFusedGateUp:
      return "fused_gate_up";
    case ExpertStorage::kGptOssDense:
      return "gpt_oss_dense";
    case ExpertStorage::kGptOssMxfp4:
      return "mxfp4";
  }
  return "?";
}

std::string_view quantization_name(Quantization q) {
  switch (q) {
    case Quantization::kNone:
      return "none";
    case Quantization::kFp8Block:
      return "fp8_block";
    case Quantization::kMxfp4:
      return "mxfp4";
    case Quantization::kFp8Tensor:
      return "fp8_tensor";
  }
  return "?";
}

}  // namespace maxact

namespace maxact {

ScanSupport scan_support(const ModelSpec& spec) {
  const MoeSpec& m = spec.moe;
  // The MoE blocks the engine implements, by their routing and storage (not by family):
  // softmax top-k combined in expert order (Mixtral, Qwen MoE; a shared expert only gated);
  // Ling's fp32 combine over slots (softmax or sigmoid group router; an ungated shared expert);
  // gpt-oss's top-k-then-softmax over all experts with its clamped GLU, in its own storage.
  bool moe_ok = false;
  if (gpt_oss_storage(m.storage)) {
    moe_ok = m.router == RouterKind::kTopKSoftmax &&
             m.combine == CombineKind::kFp32OverAllExperts && m.swiglu_limit > 0 &&
             m.shared_intermediate == 0;
  } else if (m.combine == CombineKind::kExpertOrderInDtype) {
    moe_ok = m.router == RouterKind::kSoftmaxTopK && (m.shared_intermediate == 0 || m.shared_gate);
  } else if (m.combine == CombineKind::kFp32OverSlots) {
    moe_ok = m.router != RouterKind::kTopKSoftmax && !m.shared_gate;
  }
  for (const LayerSpec& L : spec.layers) {
    if (L.mlp == MlpKind::kMoe && !moe_ok) {
      return {false, "this " + std::string(spec.family) +
                         " configuration (its MoE router or expert storage) is not implemented"};
    }
  }
  return {true, "fp32 and bf16"};
}

void require_scan_support(const ModelSpec& spec, const std::string& where) {
  if (const ScanSupport sup = scan_support(spec); !sup.supported) {
    throw Error(ErrorCode::kUnsupported, where + ": scanning is not supported: " + sup.reason);
  }
}

}  // namespace maxact
