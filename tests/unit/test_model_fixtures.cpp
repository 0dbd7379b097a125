// Opening generated fixtures of every family: parameter counts against the generator's own
// accounting, wrapper prefixes, quantized layouts, and tensor-table mismatches reported at once.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "maxact/inspect.h"
#include "maxact/model.h"
#include "test_util.h"

namespace maxact {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::expect_error;
using test::fixture;
using test::TempDir;

json manifest() {
  return json::parse(test::read_file(fixture("manifest.json")));
}

TEST(Fixtures, EveryFamilyOpensWithIndependentParameterCounts) {
  const json m = manifest();
  std::set<std::string> families;
  for (const auto& [name, info] : m.items()) {
    SCOPED_TRACE(name);
    const Model model = Model::open_dir(fixture(name));
    EXPECT_EQ(model.spec().family, info["family"].get<std::string>());
    const ParamCounts pc = count_params(model.spec());
    EXPECT_EQ(pc.total, info["params_total"].get<int64_t>());
    EXPECT_EQ(pc.active, info["params_active"].get<int64_t>());
    EXPECT_EQ(pc.routed_experts, info["params_routed"].get<int64_t>());
    EXPECT_EQ(model.checkpoint().tensor_bytes(), info["bytes"].get<uint64_t>());
    EXPECT_EQ(model.checkpoint().tensors().size(), info["tensors_on_disk"].get<std::size_t>());
    EXPECT_EQ(model.checkpoint().shards().size(),
              static_cast<std::size_t>(std::max(1, info["shards"].get<int>())));
    EXPECT_TRUE(model.unused_tensors().empty()) << model.unused_tensors().front();
    families.insert(info["family"].get<std::string>());
  }
  // The matrix covers every supported family.
  EXPECT_EQ(families.size(), 17u);
}

TEST(Fixtures, WrappedCheckpointsNormaliseNamesAndIgnoreOtherTowers) {
  for (const char* name : {"gemma3_wrapped", "qwen2_5_vl_wrapped", "qwen3_5_moe_wrapped"}) {
    SCOPED_TRACE(name);
    const Model m = Model::open_dir(fixture(name));
    EXPECT_FALSE(m.ignored_tensors().empty());
    EXPECT_EQ(m.spec().module_prefix, "model.language_model");
    ASSERT_NE(m.find("model.layers.0.input_layernorm.weight"), nullptr);
    const std::string disk = m.find("model.layers.0.input_layernorm.weight")->tensor->name;
    EXPECT_TRUE(disk.starts_with("language_model.model.") ||
                disk.starts_with("model.language_model."))
        << disk;
  }
  EXPECT_EQ(Model::open_dir(fixture("gemma3")).spec().module_prefix, "model");
}

TEST(Fixtures, QuantizedLayoutsBind) {
  const Model fp8 = Model::open_dir(fixture("qwen3_fp8"));
  EXPECT_EQ(fp8.spec().quantization, Quantization::kFp8Block);
  const BoundTensor* q = fp8.find("model.layers.1.self_attn.q_proj.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->tensor->dtype, DType::kF8E4M3);
  ASSERT_NE(q->scale_inv, nullptr);
  EXPECT_EQ(q->scale_inv->shape, (std::vector<int64_t>{2, 2}));  // [64, 64] in 32x32 blocks
  EXPECT_EQ(fp8.find("model.embed_tokens.weight")->scale_inv, nullptr);

  const Model mx = Model::open_dir(fixture("gpt_oss"));
  EXPECT_EQ(mx.spec().moe.storage, ExpertStorage::kGptOssMxfp4);
  EXPECT_EQ(mx.find("model.layers.0.mlp.experts.gate_up_proj_blocks")->tensor->dtype, DType::kU8);
  const Model dense = Model::open_dir(fixture("gpt_oss_bf16"));
  EXPECT_EQ(dense.spec().moe.storage, ExpertStorage::kGptOssDense);
  // Same logical parameters either way.
  EXPECT_EQ(count_params(mx.spec()).total, count_params(dense.spec()).total);
}

// A writable copy of a fixture whose config.json can be edited.
class Edited : public ::testing::Test {
 protected:
  void copy(const std::string& name) {
    fs::copy(fixture(name), dir.path(), fs::copy_options::recursive);
    config = json::parse(test::read_file(dir / "config.json"));
  }
  void save() { test::write_file(dir / "config.json", config.dump()); }
  TempDir dir;
  json config;
};

TEST_F(Edited, AllShapeMismatchesReportedAtOnce) {
  copy("llama");
  config["intermediate_size"] = 100;  // gate, up, down of both layers are now wrong
  save();
  expect_error([&] { Model::open_dir(dir.path()); }, ErrorCode::kTensorMismatch,
               {"6 problem(s)", "model.layers.0.mlp.gate_proj.weight", "[96, 64]",
                "expected [100, 64]", "model.layers.1.mlp.down_proj.weight"});
}

TEST_F(Edited, MissingTensorsListed) {
  copy("llama");
  config["num_hidden_layers"] = 3;
  save();
  // Layer 2: 2 norms + q/k/v/o weights and biases + 3 MLP weights = 13 tensors.
  expect_error([&] { Model::open_dir(dir.path()); }, ErrorCode::kTensorMismatch,
               {"13 problem(s)", "missing model.layers.2.self_attn.q_proj.bias [64]"});
}

TEST_F(Edited, CheckpointWithMoreLayersThanConfig) {
  copy("llama");
  config["num_hidden_layers"] = 1;
  save();
  expect_error([&] { Model::open_dir(dir.path()); }, ErrorCode::kTensorMismatch,
               {"tensors of layer 1 present", "num_hidden_layers = 1"});
}

TEST_F(Edited, MtpLayersOfLing2AreIgnoredOnlyWhenDeclared) {
  copy("bailing_moe_v2");
  EXPECT_FALSE(Model::open_dir(dir.path()).ignored_tensors().empty());
  config["num_nextn_predict_layers"] = 0;
  save();
  expect_error([&] { Model::open_dir(dir.path()); }, ErrorCode::kTensorMismatch,
               {"tensors of layer 2 present"});
}

TEST_F(Edited, TieFollowsTheCheckpoint) {
  copy("llama");  // has lm_head.weight
  config["tie_word_embeddings"] = true;
  save();
  Model m = Model::open_dir(dir.path());
  EXPECT_FALSE(m.spec().tie_word_embeddings);
  EXPECT_NE(m.find("lm_head.weight"), nullptr);
  EXPECT_EQ(count_params(m.spec()).total,
            manifest()["llama"]["params_total"].get<int64_t>());  // the head counts
}

TEST_F(Edited, MissingHeadMeansTied) {
  copy("qwen3");  // tied: no lm_head.weight
  config["tie_word_embeddings"] = false;
  save();
  Model m = Model::open_dir(dir.path());
  EXPECT_TRUE(m.spec().tie_word_embeddings);
  EXPECT_EQ(m.find("lm_head.weight"), nullptr);
}

TEST_F(Edited, GatedAttentionNeedsDoubleQProj) {
  copy("qwen3_5");
  config["text_config"]["attn_output_gate"] = false;  // q_proj would be Hq*hd rows
  save();
  expect_error([&] { Model::open_dir(dir.path()); }, ErrorCode::kTensorMismatch,
               {"model.layers.3.self_attn.q_proj.weight", "[128, 64]", "expected [64, 64]"});
}

TEST_F(Edited, Fp8WeightsNeedQuantizationConfig) {
  copy("qwen3_fp8");
  config.erase("quantization_config");
  save();
  expect_error([&] { Model::open_dir(dir.path()); }, ErrorCode::kTensorMismatch,
               {"no quantization_config"});
}

TEST_F(Edited, Fp8BlockSizeMustMatchScales) {
  copy("qwen3_fp8");
  config["quantization_config"]["weight_block_size"] = {16, 16};
  save();
  expect_error([&] { Model::open_dir(dir.path()); }, ErrorCode::kTensorMismatch,
               {"weight_scale_inv", "expected [4, 4]"});
}

TEST_F(Edited, NonFloatWeightRejected) {
  TempDir d;
  fs::copy(fixture("llama") / "config.json", d / "config.json");
  json c = json::parse(test::read_file(d / "config.json"));
  c["num_hidden_layers"] = 1;
  c["vocab_size"] = 4;
  c["hidden_size"] = 4;
  c["intermediate_size"] = 4;
  c["num_attention_heads"] = 1;
  c["num_key_value_heads"] = 1;
  c["head_dim"] = 4;
  c["attention_bias"] = false;
  test::write_file(d / "config.json", c.dump());
  std::vector<TensorData> t;
  auto add = [&](const std::string& n, std::vector<int64_t> shape, DType dt = DType::kF32) {
    int64_t numel = 1;
    for (auto x : shape) numel *= x;
    t.push_back({n, dt, shape,
                 std::vector<unsigned char>(static_cast<std::size_t>(numel) * dtype_size(dt))});
  };
  add("model.embed_tokens.weight", {4, 4});
  add("lm_head.weight", {4, 4});
  add("model.norm.weight", {4}, DType::kI32);
  for (const char* n : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
    add(std::string("model.layers.0.self_attn.") + n + ".weight", {4, 4});
  }
  for (const char* n : {"gate_proj", "up_proj", "down_proj"}) {
    add(std::string("model.layers.0.mlp.") + n + ".weight", {4, 4});
  }
  add("model.layers.0.input_layernorm.weight", {4}, DType::kF8E4M3);
  add("model.layers.0.post_attention_layernorm.weight", {4});
  add("model.layers.0.self_attn.rotary_emb.inv_freq", {2});  // old checkpoints carry it
  write_safetensors(d / "model.safetensors", t);
  expect_error([&] { Model::open_dir(d.path()); }, ErrorCode::kTensorMismatch,
               {"2 problem(s)", "model.norm.weight", "I32, expected a floating-point type",
                "input_layernorm.weight", "only Linear weights may be FP8"});
}

TEST(Fixtures, InspectJsonDescribesTheModel) {
  const Model m = Model::open_dir(fixture("qwen3_next"));
  const json j = inspect_json(m);
  EXPECT_EQ(j["family"], "qwen3_next");
  EXPECT_EQ(j["num_layers"], 4);
  EXPECT_EQ(j["layers"][0]["mixer"], "gated_deltanet");
  EXPECT_EQ(j["layers"][3]["mixer"], "attention");
  EXPECT_EQ(j["moe"]["num_experts"], 4);
  EXPECT_EQ(j["moe"]["top_k"], 2);
  EXPECT_EQ(j["attention"]["output_gate"], true);
  EXPECT_EQ(j["storage"]["by_dtype"]["BF16"]["bytes"], m.checkpoint().tensor_bytes());
  EXPECT_EQ(j["scan"]["supported"], true);
  EXPECT_EQ(j["tokenizer"], false);
  const std::string text = inspect_text(m);
  EXPECT_NE(text.find("0-2            gated_deltanet + moe(4 experts, top 2)"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace maxact

namespace maxact {
namespace {

// Real trained weights (stories260K, llama2.c format) converted to the Hugging Face layout by
// tests/reference/stories260k.py: the loader must read exactly the original floats, with q/k
// rows permuted from interleaved to rotate-half pairs.
TEST(RealWeights, Stories260kReadsTheOriginalFloats) {
  const Model m = Model::open_dir(fixture("stories260k"));
  EXPECT_EQ(count_params(m.spec()).total, 260032);  // "260K"
  EXPECT_TRUE(m.spec().tie_word_embeddings);
  const std::string raw = test::read_file(MAXACT_STORIES260K);
  auto original = [&](std::size_t float_index) {
    float v;
    std::memcpy(&v, raw.data() + 28 + 4 * float_index, 4);
    return v;
  };
  const int dim = 64, vocab = 512, layers = 5, hd = 8;
  // Embedding row 7.
  std::vector<float> row(dim);
  read_rows_f32(*m.find("model.embed_tokens.weight")->tensor, 7, 8, row.data());
  for (int c = 0; c < dim; ++c) EXPECT_EQ(row[c], original(7 * dim + c)) << c;
  // Layer 2 q_proj: HF row h*hd + j comes from llama2.c row h*hd + 2j (j < hd/2) or
  // h*hd + 2(j - hd/2) + 1.
  const std::size_t wq = static_cast<std::size_t>(vocab * dim + layers * dim + 2 * dim * dim);
  const auto& q = *m.find("model.layers.2.self_attn.q_proj.weight")->tensor;
  for (int h : {0, 5}) {
    for (int j = 0; j < hd; ++j) {
      const int src = h * hd + (j < hd / 2 ? 2 * j : 2 * (j - hd / 2) + 1);
      read_rows_f32(q, h * hd + j, h * hd + j + 1, row.data());
      EXPECT_EQ(row[3], original(wq + static_cast<std::size_t>(src * dim + 3))) << h << " " << j;
    }
  }
}

}  // namespace
}  // namespace maxact
