// config.json -> ModelSpec: defaults, nesting, RoPE forms, per-layer types, and config errors.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "maxact/model.h"
#include "test_util.h"

namespace maxact {
namespace {

using nlohmann::json;
using test::expect_error;
using test::TempDir;

class Config : public ::testing::Test {
 protected:
  ModelSpec parse(const json& j) {
    test::write_file(dir / "config.json", j.dump());
    return parse_model_config(dir / "config.json");
  }
  void expect_fail(const json& j, ErrorCode code, std::vector<std::string> parts) {
    test::write_file(dir / "config.json", j.dump());
    parts.push_back("config.json");
    expect_error([&] { parse_model_config(dir / "config.json"); }, code, parts);
  }
  static json small(const std::string& type) {
    return {{"model_type", type},      {"vocab_size", 100},      {"hidden_size", 32},
            {"intermediate_size", 48}, {"num_hidden_layers", 4}, {"num_attention_heads", 4},
            {"num_key_value_heads", 2}};
  }
  TempDir dir;
};

TEST_F(Config, UnknownModelTypeListsSupported) {
  expect_fail(small("falcon"), ErrorCode::kUnsupported,
              {"model_type 'falcon' is not supported", "llama", "gemma3", "bailing_moe_v2"});
  json j = small("llama");
  j.erase("model_type");
  expect_fail(j, ErrorCode::kUnsupported, {"no model_type"});
}

TEST_F(Config, BadFiles) {
  expect_error([&] { parse_model_config(dir / "config.json"); }, ErrorCode::kConfig,
               {"config.json", "missing"});
  test::write_file(dir / "config.json", "{\"model_type\": \"llama\",");
  expect_error([&] { parse_model_config(dir / "config.json"); }, ErrorCode::kConfig,
               {"config.json", "malformed JSON"});
  test::write_file(dir / "config.json", R"({"model_type": "llama", "rope_theta": 1e999})");
  expect_error([&] { parse_model_config(dir / "config.json"); }, ErrorCode::kConfig,
               {"config.json", "malformed JSON"});
  test::write_file(dir / "config.json",
                   R"({"model_type": "llama", "hidden_size": 8, "hidden_size": 16})");
  expect_error([&] { parse_model_config(dir / "config.json"); }, ErrorCode::kConfig,
               {"'hidden_size' appears twice"});
}

TEST_F(Config, WrongTypesNameTheKey) {
  json j = small("llama");
  j["hidden_size"] = "large";
  expect_fail(j, ErrorCode::kConfig, {"'hidden_size'", "integer"});
  j = small("llama");
  j["rms_norm_eps"] = "tiny";
  expect_fail(j, ErrorCode::kConfig, {"'rms_norm_eps'", "number"});
  j = small("llama");
  j["num_key_value_heads"] = 3;
  expect_fail(j, ErrorCode::kConfig, {"'num_key_value_heads'", "must divide"});
  j = small("llama");
  j["tie_word_embeddings"] = "yes";
  expect_fail(j, ErrorCode::kConfig, {"'tie_word_embeddings'"});
}

TEST_F(Config, LlamaDefaultsAndDerivedHeadDim) {
  json j = small("llama");
  j["num_key_value_heads"] = nullptr;  // null -> num_attention_heads
  const ModelSpec s = parse(j);
  EXPECT_EQ(s.family, "llama");
  EXPECT_EQ(s.attention.num_kv_heads, 4);
  EXPECT_EQ(s.attention.head_dim, 8);
  EXPECT_DOUBLE_EQ(s.attention.scale, 1.0 / std::sqrt(8.0));
  EXPECT_DOUBLE_EQ(s.rms_norm_eps, 1e-6);
  EXPECT_FALSE(s.tie_word_embeddings);
  ASSERT_EQ(s.rope.size(), 1u);
  EXPECT_EQ(s.rope[0].kind, RopeKind::kDefault);
  EXPECT_EQ(s.rope[0].theta, 10000.0);
  EXPECT_EQ(s.rope[0].rotary_dim, 8);
  EXPECT_EQ(s.module_prefix, "model");
  ASSERT_EQ(s.layers.size(), 4u);
  for (const auto& L : s.layers) {
    EXPECT_EQ(L.sliding_window, 0);
    EXPECT_EQ(L.intermediate, 48);
  }
  j["head_dim"] = 16;  // explicit head_dim wins (Mistral-Nemo, Qwen3, Gemma)
  EXPECT_EQ(parse(j).attention.head_dim, 16);
}

TEST_F(Config, RopeV4AndV5FormsAgree) {
  json v4 = small("llama");
  v4["rope_theta"] = 500000.0;
  v4["rope_scaling"] = {{"type", "llama3"},
                        {"factor", 8.0},
                        {"low_freq_factor", 1.0},
                        {"high_freq_factor", 4.0},
                        {"original_max_position_embeddings", 8192}};
  json v5 = small("llama");
  v5["rope_parameters"] = {{"rope_type", "llama3"},   {"rope_theta", 500000.0},
                           {"factor", 8.0},           {"low_freq_factor", 1.0},
                           {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  for (const json& j : {v4, v5}) {
    const RopeSpec r = parse(j).rope[0];
    EXPECT_EQ(r.kind, RopeKind::kLlama3);
    EXPECT_EQ(r.theta, 500000.0);
    EXPECT_EQ(r.factor, 8.0);
    EXPECT_EQ(r.high_freq_factor, 4.0);
    EXPECT_EQ(r.original_max_position, 8192);
  }
}

TEST_F(Config, RopeVariantsAndErrors) {
  json j = small("qwen3");
  j["max_position_embeddings"] = 32768;
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  RopeSpec r = parse(j).rope[0];
  EXPECT_EQ(r.kind, RopeKind::kYarn);
  EXPECT_EQ(r.original_max_position, 32768);  // falls back to max_position_embeddings
  j.erase("max_position_embeddings");         // Qwen2Config default 32768 applies then too
  EXPECT_EQ(parse(j).rope[0].original_max_position, 32768);
  EXPECT_EQ(r.beta_fast, 32.0);
  EXPECT_TRUE(r.truncate);
  j["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};
  EXPECT_EQ(parse(j).rope[0].kind, RopeKind::kDynamic);
  j["rope_scaling"] = {{"type", "mrope"}, {"mrope_section", {2, 1, 1}}};
  EXPECT_EQ(parse(j).rope[0].kind, RopeKind::kDefault);
  j["rope_scaling"] = {{"type", "ntk-by-parts"}};
  expect_fail(j, ErrorCode::kConfig, {"unsupported rope type 'ntk-by-parts'"});
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  expect_fail(j, ErrorCode::kConfig, {"original_max_position_embeddings"});
  j = small("qwen3");
  j["head_dim"] = 8;
  j["partial_rotary_factor"] = 0.3;  // 8 * 0.3 = 2.4 -> 2 dims
  EXPECT_EQ(parse(j).rope[0].rotary_dim, 2);
  j["partial_rotary_factor"] = 0.1;
  expect_fail(j, ErrorCode::kConfig, {"partial_rotary_factor"});
}

TEST_F(Config, Phi3LegacyLongRopeNames) {
  json j = small("phi3");
  j["original_max_position_embeddings"] = 4096;
  j["rope_scaling"] = {{"type", "su"},
                       {"short_factor", {1.0, 1.0, 1.0, 1.0}},
                       {"long_factor", {2.0, 2.0, 2.0, 2.0}}};
  RopeSpec r = parse(j).rope[0];
  EXPECT_EQ(r.kind, RopeKind::kLongRope);
  EXPECT_EQ(r.long_factor.size(), 4u);
  j["rope_scaling"]["type"] = "yarn";  // phi3's old name for longrope too
  EXPECT_EQ(parse(j).rope[0].kind, RopeKind::kLongRope);
  j["rope_scaling"]["short_factor"] = {1.0};
  expect_fail(j, ErrorCode::kConfig, {"short_factor/long_factor", "4 entries"});
}

TEST_F(Config, MistralSlidingWindowNullVersusAbsent) {
  json j = small("mistral");
  EXPECT_EQ(parse(j).layers[0].sliding_window, 4096);  // MistralConfig default
  j["sliding_window"] = nullptr;                       // v0.2+: no window
  EXPECT_EQ(parse(j).layers[0].sliding_window, 0);
  j["sliding_window"] = 64;
  EXPECT_EQ(parse(j).layers[3].sliding_window, 64);
}

TEST_F(Config, Qwen2SlidingLayers) {
  json j = small("qwen2");
  j["use_sliding_window"] = true;
  j["sliding_window"] = 16;
  j["max_window_layers"] = 2;
  ModelSpec s = parse(j);
  EXPECT_EQ(s.layers[1].sliding_window, 0);
  EXPECT_EQ(s.layers[2].sliding_window, 16);
  EXPECT_TRUE(s.attention.q_bias);
  EXPECT_FALSE(s.attention.o_bias);
  j["use_sliding_window"] = false;
  EXPECT_EQ(parse(j).layers[3].sliding_window, 0);
  j["use_sliding_window"] = true;
  j["layer_types"] = {"sliding_attention", "full_attention", "full_attention", "full_attention"};
  s = parse(j);
  EXPECT_EQ(s.layers[0].sliding_window, 16);
  EXPECT_EQ(s.layers[2].sliding_window, 0);
  j["layer_types"] = {"sliding_attention"};
  expect_fail(j, ErrorCode::kConfig, {"'layer_types'", "1 entries for 4 layers"});
}

TEST_F(Config, Qwen3MoeLayerSelection) {
  json j = small("qwen3_moe");
  j["num_experts"] = 8;
  j["num_experts_per_tok"] = 2;
  j["moe_intermediate_size"] = 16;
  j["decoder_sparse_step"] = 2;
  j["mlp_only_layers"] = {3};
  const ModelSpec s = parse(j);
  // MoE iff (i+1) % 2 == 0 and i not in mlp_only_layers: only layer 1.
  EXPECT_EQ(s.layers[0].mlp, MlpKind::kDense);
  EXPECT_EQ(s.layers[1].mlp, MlpKind::kMoe);
  EXPECT_EQ(s.layers[2].mlp, MlpKind::kDense);
  EXPECT_EQ(s.layers[3].mlp, MlpKind::kDense);
  EXPECT_FALSE(s.moe.norm_topk_prob);  // Qwen3MoeConfig default
  j["num_experts_per_tok"] = 9;
  expect_fail(j, ErrorCode::kConfig, {"num_experts_per_tok"});
}

TEST_F(Config, TextConfigNestingAndTopLevelTie) {
  json text = small("qwen3_5_text");
  text["head_dim"] = 16;
  text["linear_num_key_heads"] = 2;
  text["linear_num_value_heads"] = 4;
  text["linear_key_head_dim"] = 8;
  text["linear_value_head_dim"] = 8;
  json j = {{"model_type", "qwen3_5"},
            {"architectures", {"Qwen3_5ForConditionalGeneration"}},
            {"tie_word_embeddings", false},
            {"text_config", text}};
  const ModelSpec s = parse(j);
  EXPECT_EQ(s.family, "qwen3_5");
  EXPECT_EQ(s.model_type, "qwen3_5");
  EXPECT_EQ(s.hidden_size, 32);
  EXPECT_EQ(s.module_prefix, "model.language_model");
  EXPECT_EQ(s.norm, NormKind::kOnePlus);
  EXPECT_EQ(s.rope[0].rotary_dim, 4);  // default partial_rotary_factor 0.25 of 16
  EXPECT_FALSE(s.tie_word_embeddings);
  // full_attention_interval 4: layers 0-2 linear, 3 full.
  EXPECT_EQ(s.layers[2].mixer, MixerKind::kGatedDeltaNet);
  EXPECT_EQ(s.layers[3].mixer, MixerKind::kAttention);
  EXPECT_TRUE(s.attention.output_gate);
  // From config.json alone either level true ties; opening a checkpoint then decides by the
  // presence of lm_head.weight (Fixtures.TieFollowsTheCheckpoint).
  j["text_config"]["tie_word_embeddings"] = true;
  EXPECT_TRUE(parse(j).tie_word_embeddings);
  // A key in text_config shadows the top level, even when null.
  j["text_config"]["rms_norm_eps"] = nullptr;
  j["rms_norm_eps"] = 0.5;
  EXPECT_DOUBLE_EQ(parse(j).rms_norm_eps, 1e-6);
}

TEST_F(Config, Gemma3LayerPatternAndTwoRopeTables) {
  json j = small("gemma3_text");
  j["num_hidden_layers"] = 7;
  j["sliding_window"] = 512;
  j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 8.0}};
  ModelSpec s = parse(j);
  ASSERT_EQ(s.rope.size(), 2u);
  EXPECT_EQ(s.rope[0].kind, RopeKind::kLinear);  // global layers only
  EXPECT_EQ(s.rope[0].theta, 1e6);
  EXPECT_EQ(s.rope[1].kind, RopeKind::kDefault);
  EXPECT_EQ(s.rope[1].theta, 10000.0);
  for (int i = 0; i < 7; ++i) {
    const bool global = i == 5;
    EXPECT_EQ(s.layers[i].sliding_window, global ? 0 : 512) << i;
    EXPECT_EQ(s.layers[i].rope_table, global ? 0 : 1) << i;
  }
  EXPECT_TRUE(s.embed_scale);
  EXPECT_TRUE(s.sandwich_norms);
  EXPECT_TRUE(s.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(s.attention.scale, 1.0 / 16.0);  // query_pre_attn_scalar 256 default
  // v5 form: per-layer-type rope_parameters.
  j.erase("rope_scaling");
  j["rope_parameters"] = {
      {"full_attention", {{"rope_type", "linear"}, {"factor", 4.0}, {"rope_theta", 2e6}}},
      {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 5e3}}}};
  s = parse(j);
  EXPECT_EQ(s.rope[0].factor, 4.0);
  EXPECT_EQ(s.rope[0].theta, 2e6);
  EXPECT_EQ(s.rope[1].theta, 5e3);
}

TEST_F(Config, Gemma2Softcaps) {
  json j = small("gemma2");
  ModelSpec s = parse(j);
  EXPECT_EQ(s.attention.logit_softcap, 50.0);
  EXPECT_EQ(s.final_logit_softcap, 30.0);
  EXPECT_EQ(s.layers[0].sliding_window, 4096);  // even layers slide
  EXPECT_EQ(s.layers[1].sliding_window, 0);
  j["attn_logit_softcapping"] = nullptr;
  EXPECT_EQ(parse(j).attention.logit_softcap, 0.0);
}

TEST_F(Config, QuantizationConfig) {
  json j = small("qwen3");
  j["quantization_config"] = {{"quant_method", "fp8"}, {"weight_block_size", {128, 64}}};
  ModelSpec s = parse(j);
  EXPECT_EQ(s.quantization, Quantization::kFp8Block);
  EXPECT_EQ(s.fp8_block_in, 64);
  j["quantization_config"] = {{"quant_method", "gptq"}};
  expect_fail(j, ErrorCode::kUnsupported, {"quant_method 'gptq'"});
  j["quantization_config"] = {{"quant_method", "mxfp4"}};
  expect_fail(j, ErrorCode::kUnsupported, {"gpt_oss experts only"});
  j = small("gpt_oss");
  j["intermediate_size"] = 64;  // MXFP4 needs multiples of 32
  j["quantization_config"] = {{"quant_method", "mxfp4"}};
  s = parse(j);
  EXPECT_EQ(s.moe.storage, ExpertStorage::kGptOssMxfp4);
  EXPECT_EQ(s.layers[0].sliding_window, 128);
  EXPECT_EQ(s.layers[1].sliding_window, 0);
  EXPECT_EQ(s.norm, NormKind::kFp32Weight);
}

// Per-tensor FP8 as compressed-tensors and ModelOpt store it (maxact's FP8 export among them); a
// compressed-tensors config without weight groups (KV-cache scales only) leaves weights as they
// are.
TEST_F(Config, PerTensorFp8Configs) {
  json j = small("qwen3");
  const json args = {{"num_bits", 8}, {"type", "float"}, {"strategy", "tensor"}};
  j["quantization_config"] = {{"quant_method", "compressed-tensors"},
                              {"config_groups", {{"group_0", {{"weights", args}}}}}};
  EXPECT_EQ(parse(j).quantization, Quantization::kFp8Tensor);
  j["quantization_config"]["config_groups"] = json::object();
  EXPECT_EQ(parse(j).quantization, Quantization::kNone);
  j["quantization_config"]["config_groups"] = {
      {"g", {{"weights", {{"num_bits", 4}, {"type", "int"}, {"strategy", "group"}}}}}};
  expect_fail(j, ErrorCode::kUnsupported, {"config_groups.'g'", "8-bit float weights"});
  j["quantization_config"]["config_groups"] = {{"g", 3}};
  expect_fail(j, ErrorCode::kUnsupported, {"config_groups.'g'"});
  j["quantization_config"].erase("config_groups");
  expect_fail(j, ErrorCode::kConfig, {"config_groups"});
  j["quantization_config"] = {{"quant_method", "modelopt"}, {"quant_algo", "FP8"}};
  EXPECT_EQ(parse(j).quantization, Quantization::kFp8Tensor);
  j["quantization_config"]["quant_algo"] = "NVFP4";
  expect_fail(j, ErrorCode::kUnsupported, {"quant_algo FP8"});
}

TEST_F(Config, BailingByArchitecture) {
  json j = small("");
  j.erase("model_type");
  j["architectures"] = {"BailingMoeV2ForCausalLM"};
  j["head_dim"] = 8;
  j["num_experts"] = 8;
  j["n_group"] = 4;
  j["topk_group"] = 2;
  j["num_experts_per_tok"] = 5;  // more than the 2 kept groups of 2 experts hold
  expect_fail(j, ErrorCode::kConfig, {"'num_experts_per_tok'", "topk_group"});
  j["num_experts_per_tok"] = 4;
  const ModelSpec s = parse(j);
  EXPECT_EQ(s.family, "bailing_moe_v2");
  EXPECT_EQ(s.moe.router, RouterKind::kSigmoidGroupLimited);
  EXPECT_EQ(s.layers[0].mlp, MlpKind::kDense);  // first_k_dense_replace default 1
  EXPECT_EQ(s.layers[1].mlp, MlpKind::kMoe);
  EXPECT_EQ(s.rope[0].rotary_dim, 4);  // partial rotary 0.5
  j["n_group"] = 3;
  expect_fail(j, ErrorCode::kConfig, {"'n_group'"});
  // The class name decides for remote-code families, whatever model_type says.
  j["n_group"] = 4;
  j["model_type"] = "bailing_moe";
  EXPECT_EQ(parse(j).family, "bailing_moe_v2");
}

TEST(CanonicalNames, WrapperPrefixes) {
  EXPECT_EQ(canonical_tensor_name("model.language_model.layers.0.mlp.up_proj.weight"),
            "model.layers.0.mlp.up_proj.weight");
  EXPECT_EQ(canonical_tensor_name("language_model.model.norm.weight"), "model.norm.weight");
  EXPECT_EQ(canonical_tensor_name("language_model.lm_head.weight"), "lm_head.weight");
  EXPECT_EQ(canonical_tensor_name("lm_head.weight"), "lm_head.weight");
  EXPECT_EQ(canonical_tensor_name("visual.blocks.0.attn.qkv.weight"), "");
  EXPECT_EQ(canonical_tensor_name("model.visual.merger.mlp.0.weight"), "");
  EXPECT_EQ(canonical_tensor_name("vision_tower.vision_model.x"), "");
  EXPECT_EQ(canonical_tensor_name("multi_modal_projector.w"), "");
  EXPECT_EQ(canonical_tensor_name("mtp.fc.weight"), "");
}

}  // namespace
}  // namespace maxact
