#include "model/gguf_names.h"

#include <fmt/format.h>

namespace maxact {

namespace {

bool family_is(const ModelSpec& s, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (s.family == n) return true;
  }
  return false;
}

// gguf-py's names (constants.py, TENSOR_NAMES), as the converter (llama.cpp's conversion/*.py)
// maps these HF modules; where one HF tensor becomes several GGUF ones, each reads the same input.
std::vector<const char*> base_names(const ModelSpec& s, GgufLinear w) {
  switch (w) {
    case GgufLinear::kAttnQ:
      return {"attn_q"};
    case GgufLinear::kAttnK:
      return {"attn_k"};
    case GgufLinear::kAttnV:
      return {"attn_v"};
    case GgufLinear::kAttnQkv:  // Ling v1's query_key_value is split; phi3 and Ling 2.0 keep it
      if (family_is(s, {"bailing_moe"})) return {"attn_q", "attn_k", "attn_v"};
      return {"attn_qkv"};
    case GgufLinear::kAttnOut:
      return {"attn_output"};
    case GgufLinear::kFfnGate:
      return {"ffn_gate"};
    case GgufLinear::kFfnUp:
      return {"ffn_up"};
    case GgufLinear::kFfnGateUp:  // phi3: kept fused as ffn_up
      return {"ffn_up"};
    case GgufLinear::kFfnDown:
      return {"ffn_down"};
    case GgufLinear::kRouter:
      return {"ffn_gate_inp"};
    case GgufLinear::kExpertsGateUp:  // split (gpt-oss: de-interleaved), never kept fused by
                                      // default
      return {"ffn_gate_exps", "ffn_up_exps"};
    case GgufLinear::kExpertsDown:
      return {"ffn_down_exps"};
    case GgufLinear::kSharedGate:
      return {"ffn_gate_shexp"};
    case GgufLinear::kSharedUp:
      return {"ffn_up_shexp"};
    case GgufLinear::kSharedDown:
      return {"ffn_down_shexp"};
    case GgufLinear::kSharedRouter:
      return {"ffn_gate_inp_shexp"};
    case GgufLinear::kLinQkvz:  // qwen3_next: split into q|k|v and z
      return {"attn_qkv", "attn_gate"};
    case GgufLinear::kLinBa:
      return {"ssm_ba"};
    case GgufLinear::kLinQkv:
      return {"attn_qkv"};
    case GgufLinear::kLinZ:
      return {"attn_gate"};
    case GgufLinear::kLinB:
      return {"ssm_beta"};
    case GgufLinear::kLinA:
      return {"ssm_alpha"};
    case GgufLinear::kLinOut:
      return {"ssm_out"};
    case GgufLinear::kOutput:
      // Only a stored lm_head becomes output.weight; the Gemma 1/2 converters drop it.
      if (s.tie_word_embeddings || family_is(s, {"gemma", "gemma2"})) return {};
      return {"output"};
  }
  return {};
}

}  // namespace

GgufLinearNames gguf_linear_names(const ModelSpec& s, int layer, GgufLinear w) {
  GgufLinearNames out;
  for (const char* n : base_names(s, w)) {
    out.names.push_back(w == GgufLinear::kOutput ? std::string(n)
                                                 : fmt::format("blk.{}.{}", layer, n));
  }
  // Qwen3.5 (not Qwen3-Next) groups value heads by their position within a key head's group.
  const LinearAttnSpec& la = s.linear_attn;
  if (w == GgufLinear::kLinOut && family_is(s, {"qwen3_5", "qwen3_5_moe"}) &&
      la.num_k_heads != la.num_v_heads) {
    out.input_order = {la.num_k_heads, la.num_v_heads, la.v_head_dim};
  }
  return out;
}

}  // namespace maxact
