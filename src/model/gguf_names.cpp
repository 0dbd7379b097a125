#include "model/gguf_names.h"

#include <fmt/format.h>

#include <array>

namespace maxact {

namespace {

bool family_is(const ModelSpec& s, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (s.family == n) return true;
  }
  return false;
}

// gguf-py's names (constants.py, TENSOR_NAMES), as the converter (llama.cpp's conversion/*.py)
// maps these HF modules, in GgufLinear's order; where one HF tensor becomes several GGUF ones,
// each reads the same input. Family exceptions are in base_names below.
// At most two GGUF tensors per Linear (nullptr: none).
constexpr std::array<std::array<const char*, 2>, kGgufLinears> kNames{{
    {"attn_q", nullptr},
    {"attn_k", nullptr},
    {"attn_v", nullptr},
    {"attn_qkv", nullptr},
    {"attn_output", nullptr},
    {"ffn_gate", nullptr},
    {"ffn_up", nullptr},
    {"ffn_up", nullptr},  // phi3's gate_up_proj: kept fused as ffn_up
    {"ffn_down", nullptr},
    {"ffn_gate_inp", nullptr},
    {"ffn_gate_exps", "ffn_up_exps"},  // split (gpt-oss: de-interleaved), not fused by default
    {"ffn_down_exps", nullptr},
    {"ffn_gate_shexp", nullptr},
    {"ffn_up_shexp", nullptr},
    {"ffn_down_shexp", nullptr},
    {"ffn_gate_inp_shexp", nullptr},
    {"attn_qkv", "attn_gate"},  // qwen3_next's in_proj_qkvz: split into q|k|v and z
    {"ssm_ba", nullptr},
    {"attn_qkv", nullptr},
    {"attn_gate", nullptr},
    {"ssm_beta", nullptr},
    {"ssm_alpha", nullptr},
    {"ssm_out", nullptr},
    {"output", nullptr},
}};

std::vector<const char*> base_names(const ModelSpec& s, GgufLinear w) {
  // Ling v1 splits query_key_value into q / k / v; phi3 and Ling 2.0 keep it fused.
  if (w == GgufLinear::kAttnQkv && family_is(s, {"bailing_moe"})) {
    return {"attn_q", "attn_k", "attn_v"};
  }
  // Only a stored lm_head becomes output.weight; the Gemma 1/2 converters drop it.
  if (w == GgufLinear::kOutput && (s.tie_word_embeddings || family_is(s, {"gemma", "gemma2"}))) {
    return {};
  }
  std::vector<const char*> out;
  for (const char* n : kNames[static_cast<std::size_t>(w)]) {
    if (n != nullptr) out.push_back(n);
  }
  return out;
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
