// `maxact scan` end to end: reports written, text and ids corpora, the study's file layout, and
// bad input failing with a clear message and no output file.
#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace maxact {
namespace {

namespace fs = std::filesystem;
using test::run_command;

std::string ids_corpus(const test::TempDir& dir, int32_t bad_id = -1) {
  const auto p = dir / "ids.jsonl";
  std::string s;
  for (int i = 0; i < 5; ++i) {
    nlohmann::json ids = nlohmann::json::array();
    for (int k = 0; k < 10 + 17 * i; ++k) ids.push_back((k * 37 + i * 11) % 256);
    if (i == 3 && bad_id >= 0) ids.push_back(bad_id);
    s += nlohmann::json{{"input_ids", ids}, {"category", i % 2 ? "math" : "code"}}.dump() + "\n";
  }
  test::write_file(p, s);
  return p.string();
}

TEST(CliScan, WritesJsonCsvAndSummary) {
  test::TempDir dir;
  const std::string cmd = test::maxact_binary() + " scan " + test::fixture("qwen3").string() +
                          " --corpus " + ids_corpus(dir) + " --ids-native -q -o " +
                          (dir / "r.json").string() + " --csv " + (dir / "r.csv").string();
  const auto r = run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("global max"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("per category"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("written      " + (dir / "r.json").string() + "\n             " +
                       (dir / "r.csv").string() + "\n"),
            std::string::npos)
      << r.out;
  const auto j = nlohmann::json::parse(test::read_file(dir / "r.json"));
  EXPECT_EQ(j["schema"], "maxact.scan");
  EXPECT_EQ(j["schema_version"], 1);
  EXPECT_EQ(j["run"]["sequences"], 5);
  EXPECT_EQ(j["corpus"]["categories"]["math"]["sequences"], 2);
  EXPECT_TRUE(j["categories"].contains("code"));
  EXPECT_EQ(j["taps"].front()["name"], "model.embed_tokens");
  EXPECT_EQ(j["taps"].back()["name"], "model.norm");
  EXPECT_EQ(j["taps"].back()["study_name"], "final_layernorm");
  const std::string csv = test::read_file(dir / "r.csv");
  EXPECT_EQ(csv.rfind("tap,component,layer,channels,count,max,min,absmax", 0), 0u);
  EXPECT_EQ(static_cast<std::size_t>(std::count(csv.begin(), csv.end(), '\n')),
            j["taps"].size() + 1);
}

TEST(CliScan, WarnsWhenSequencesRunPastTheModelsContext) {
  test::TempDir dir;
  const auto model = dir / "model";
  fs::copy(test::fixture("qwen3"), model, fs::copy_options::recursive);
  auto config = nlohmann::json::parse(test::read_file(model / "config.json"));
  config["max_position_embeddings"] = 20;
  test::write_file(model / "config.json", config.dump());
  const std::string cmd = test::maxact_binary() + " scan " + model.string() + " --corpus " +
                          ids_corpus(dir) + " --ids-native -o " + (dir / "r.json").string();
  // Sequences of 10, 27, 44, 61 and 78 tokens.
  auto r = run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: 4 of 5 sequences are longer than the model's "
                       "max_position_embeddings (20; longest 78 tokens)"),
            std::string::npos)
      << r.err;
  r = run_command(cmd + " --max-seq-len 20");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;
}

TEST(CliScan, StudyNamesAndStudyFiles) {
  test::TempDir dir;
  const std::string base = test::maxact_binary() + " scan " + test::fixture("llama").string() +
                           " --corpus " + ids_corpus(dir) + " --ids-native -q ";
  auto r = run_command(base + "--names study -o " + (dir / "s.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(test::read_file(dir / "s.json"));
  std::vector<std::string> names;
  for (const auto& t : j["taps"]) names.push_back(t["name"]);
  EXPECT_EQ(names,
            (std::vector<std::string>{"embedding_output", "layer_0_attn_output", "layer_0_mlp_gate",
                                      "layer_0_mlp_output", "layer_0_hidden", "layer_1_attn_output",
                                      "layer_1_mlp_gate", "layer_1_mlp_output", "layer_1_hidden",
                                      "final_layernorm"}));
  r = run_command(base + "--format study -o " + (dir / "study").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto act =
      nlohmann::ordered_json::parse(test::read_file(dir / "study" / "llama_activation_stats.json"));
  const auto top = nlohmann::json::parse(test::read_file(dir / "study" / "llama_top5_stats.json"));
  EXPECT_EQ(act.begin().key(), "model_name");
  EXPECT_EQ(act["model_name"], "llama");
  EXPECT_EQ(act["num_hidden_layers"], 2);
  EXPECT_EQ(act["per_layer_stats"].begin().key(), "embedding_output");
  EXPECT_TRUE(act["per_layer_stats"].contains("layer_1_mlp_gate"));
  EXPECT_FALSE(top["per_layer_stats"].contains("layer_1_mlp_gate"));
  // The 100 largest of the 8 entries' first five values, as the study builds its global list.
  EXPECT_EQ(top["global_top5_abs"].size(), 40u);
  EXPECT_EQ(top["global_top5_abs"][0].get<double>(),
            std::fabs(act["global_max_activation"].get<double>()));
  // The study's global max agrees with maxact's own report of the same run.
  EXPECT_EQ(act["global_max_activation"].get<double>(), j["global_max"]["value"].get<double>());
}

// MoE routers are the study's layer_{i}_router_logits and layer_{i}_moe_gate; a Gated DeltaNet
// layer's mixer output is its layer_{i}_attn_output.
TEST(CliScan, StudyNamesOfRoutersAndLinearAttention) {
  test::TempDir dir;
  const std::string base = test::maxact_binary() + " scan " + test::fixture("qwen3_next").string() +
                           " --corpus " + ids_corpus(dir) + " --ids-native -q ";
  auto r = run_command(base + "--format study -o " + (dir / "study").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto act =
      nlohmann::json::parse(test::read_file(dir / "study" / "qwen3_next_activation_stats.json"));
  const auto& per = act["per_layer_stats"];
  ASSERT_TRUE(per.contains("layer_1_router_logits"));
  EXPECT_EQ(per["layer_1_router_logits"], per["layer_1_moe_gate"]);
  r = run_command(base + "-o " + (dir / "r.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(test::read_file(dir / "r.json"));
  int found = 0;
  for (const auto& t : j["taps"]) {
    if (t["name"] == "model.layers.0.linear_attn") {
      ++found;
      EXPECT_EQ(t["study_name"], "layer_0_attn_output");
      EXPECT_EQ(per["layer_0_attn_output"]["max"], t["stats"]["max"]["value"]);
    }
  }
  EXPECT_EQ(found, 1);
}

TEST(CliScan, TextCorpusThroughTheModelsTokenizer) {
  test::TempDir dir;
  const auto model = dir / "model";
  const auto g = run_command(std::string(MAXACT_PYTHON) + " " + MAXACT_FIXTURE_SCRIPT +
                             " --family gemma3 --wrapped --tokenizer --out " + model.string());
  ASSERT_EQ(g.exit_code, 0) << g.err;
  const auto r = run_command(test::maxact_binary() + " scan " + model.string() +
                             " --samples 12 -q -o " + (dir / "r.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(test::read_file(dir / "r.json"));
  EXPECT_EQ(j["corpus"]["origin"], "builtin");
  EXPECT_EQ(j["corpus"]["samples"], 12);
  EXPECT_GT(j["run"]["tokens"].get<int64_t>(), 100);
  EXPECT_TRUE(j["global_max"]["location"].contains("token_text"));
}

TEST(CliScan, BootstrapScansEachSubset) {
  test::TempDir dir;
  const std::string base = test::maxact_binary() + " scan " + test::fixture("llama").string() +
                           " --corpus " + ids_corpus(dir) + " --ids-native -q ";
  auto r = run_command(base + "--samples 3 --bootstrap 2 --seed 4 -o " + (dir / "b.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("stability"), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(test::read_file(dir / "b.json"));
  EXPECT_EQ(j["schema"], "maxact.scan.bootstrap");
  ASSERT_EQ(j["subsets"].size(), 2u);
  EXPECT_EQ(j["subsets"][0]["seed"], 4);
  EXPECT_EQ(j["subsets"][1]["seed"], 5);
  const double lo = j["abs_global_max"]["min"], hi = j["abs_global_max"]["max"];
  for (const auto& e : j["subsets"]) {
    const double v = std::abs(e["global_max"]["value"].get<double>());
    EXPECT_GE(v, lo);
    EXPECT_LE(v, hi);
  }
  r = run_command(base + "--bootstrap 2");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--bootstrap needs --samples"), std::string::npos) << r.err;
}

TEST(CliScan, BadInputFailsWithoutOutput) {
  test::TempDir dir;
  const std::string out = (dir / "r.json").string();
  // A token id beyond the embedding table.
  auto r = run_command(test::maxact_binary() + " scan " + test::fixture("qwen3").string() +
                       " --corpus " + ids_corpus(dir, 256) + " --ids-native -q -o " + out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("token id 256"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_FALSE(fs::exists(out));
  // Text corpus, no tokenizer.json.
  r = run_command(test::maxact_binary() + " scan " + test::fixture("qwen3").string() + " -q -o " +
                  out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no tokenizer.json"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
  // A tap glob that selects nothing.
  r = run_command(test::maxact_binary() + " scan " + test::fixture("llama").string() +
                  " --corpus " + ids_corpus(dir) + " --ids-native -q --taps '*.q_norm' -o " + out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("'*.q_norm' matches no tap"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
  // Outputs that could not be written are refused before the scan, not after it: a missing
  // folder (the scan would fail at its end), a folder given as a file.
  const std::string base = test::maxact_binary() + " scan " + test::fixture("qwen3").string() +
                           " --corpus " + ids_corpus(dir) + " --ids-native -q ";
  r = run_command(base + "-o " + (dir / "missing" / "r.json").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing/r.json: folder " + (dir / "missing").string() + " does not exist"),
            std::string::npos)
      << r.err;
  r = run_command(base + "-o " + out + " --csv " + dir.path().string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is a folder, not a file"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
  // --format study needs a folder.
  r = run_command(test::maxact_binary() + " scan " + test::fixture("qwen3").string() +
                  " --format study");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--format study needs -o"), std::string::npos) << r.err;
  // Usage error.
  r = run_command(test::maxact_binary() + " scan " + test::fixture("qwen3").string() +
                  " --precision fp8");
  EXPECT_EQ(r.exit_code, 2);
}

// Twelve samples of the id corpus in three categories, for --quant's calibration / evaluation
// split.
std::string quant_corpus(const test::TempDir& dir) {
  const auto p = dir / "q.jsonl";
  std::string s;
  for (int i = 0; i < 12; ++i) {
    nlohmann::json ids = nlohmann::json::array();
    for (int k = 0; k < 8 + 5 * i; ++k) ids.push_back((k * 29 + i * 13) % 256);
    s +=
        nlohmann::json{{"input_ids", ids}, {"category", std::string(1, 'a' + i % 3)}}.dump() + "\n";
  }
  test::write_file(p, s);
  return p.string();
}

TEST(CliScan, QuantReportSummaryAndStudyFile) {
  test::TempDir dir;
  const std::string base = test::maxact_binary() + " scan " + test::fixture("llama").string() +
                           " --corpus " + quant_corpus(dir) +
                           " --ids-native -q --quant --calib 4 --eval 6 ";
  auto r = run_command(base + "-o " + (dir / "q.json").string() + " --quant-csv " +
                       (dir / "q.csv").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("quantization"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("int8_per_token"), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(test::read_file(dir / "q.json"));
  const auto& q = j["quant"];
  EXPECT_EQ(q["calibration"]["samples"], 4);
  EXPECT_EQ(q["calibration"]["evaluation_sample_indices"].size(), 6u);
  EXPECT_EQ(j["corpus"]["samples"], 6);  // the scan's statistics are the evaluation samples'
  EXPECT_TRUE(j["options"]["role"].is_null());
  EXPECT_EQ(q["policies"].size(), 10u);
  ASSERT_FALSE(q["taps"].empty());
  for (const auto& t : q["taps"]) {
    EXPECT_TRUE(t["component"] == "hidden" || t["component"] == "norm" ||
                t["component"] == "linear_input")
        << t["tap"];
    const auto& p = t["policies"]["int8_max_abs"];
    EXPECT_EQ(p["threshold"], t["calibration"]["max_abs"]);
    EXPECT_GT(p["all"]["count"].get<int64_t>(), 0);
    EXPECT_TRUE(p["all"]["sqnr_db"].is_number());
    EXPECT_TRUE(t["policies"]["int8_per_token"]["threshold"].is_null());
  }
  EXPECT_TRUE(q["pooled"]["fp16"]["all"]["sqnr_db"].is_number());
  const std::string qcsv = test::read_file(dir / "q.csv");
  EXPECT_EQ(qcsv.rfind("tap,component,layer,channels,policy,threshold", 0), 0u);
  EXPECT_EQ(static_cast<std::size_t>(std::count(qcsv.begin(), qcsv.end(), '\n')),
            q["taps"].size() * 10 + 1);

  // The study's protocol: the peak hidden state, its two policies, its file.
  r = run_command(base + "--protocol study --role moe --format study -o " +
                  (dir / "study").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto s =
      nlohmann::ordered_json::parse(test::read_file(dir / "study" / "llama_quant_sanity.json"));
  std::vector<std::string> keys;
  for (const auto& [k, v] : s.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "model_name", "family", "role", "model_path", "data_path", "bits",
                      "clip_quantile", "calibration_samples", "eval_samples", "max_seq_len",
                      "layer_policy", "selected_layers", "reference_global_max_abs",
                      "reference_global_max_location", "thresholds", "metrics"}));
  EXPECT_EQ(s["layer_policy"], "peak");
  EXPECT_EQ(s["role"], "moe");
  EXPECT_EQ(s["family"], "llama");  // maxact's family is the model_type
  ASSERT_EQ(s["selected_layers"].size(), 1u);
  const std::string layer = s["selected_layers"][0];
  EXPECT_TRUE(layer == "final_layernorm" || layer.find("_hidden") != std::string::npos) << layer;
  ASSERT_EQ(s["metrics"].size(), 2u);
  EXPECT_EQ(s["metrics"][0]["policy"], "clip_q0.999");  // the study sorts by (layer, policy)
  EXPECT_EQ(s["metrics"][1]["policy"], "max_abs");
  EXPECT_LE(s["thresholds"]["clip_q0.999"][layer].get<double>(),
            s["thresholds"]["max_abs"][layer].get<double>());
  EXPECT_GT(s["thresholds"]["clip_q0.999"][layer].get<double>(), 0.0);
  EXPECT_TRUE(s["metrics"][1]["clip_rate"].is_number());
  // A corpus path that is not UTF-8 is written as U+FFFD in every study file, as in the others,
  // rather than failing the run after the scan.
  const std::string odd = (dir / "q\xff.jsonl").string();
  test::write_file(odd, test::read_file(dir / "q.jsonl"));
  r = run_command(test::maxact_binary() + " scan " + test::fixture("llama").string() +
                  " --corpus '" + odd + "' --ids-native -q --quant --calib 4 --eval 6" +
                  " --protocol study --format study -o " + (dir / "odd").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* f : {"llama_quant_sanity.json", "llama_activation_stats.json"}) {
    const std::string text = test::read_file(dir / "odd" / f);
    EXPECT_NE(text.find("q\xEF\xBF\xBD.jsonl"), std::string::npos) << f;
  }

  // Two reports compared.
  r = run_command(base + "--seed 3 -o " + (dir / "q3.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_command(test::maxact_binary() + " compare " + (dir / "q.json").string() + " " +
                  (dir / "q3.json").string() + " -o " + (dir / "c.json").string() + " --csv " +
                  (dir / "c.csv").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Spearman"), std::string::npos) << r.out;
  const auto c = nlohmann::json::parse(test::read_file(dir / "c.json"));
  EXPECT_EQ(c["schema"], "maxact.compare");
  EXPECT_EQ(c["models"].size(), 2u);
  EXPECT_EQ(c["correlation_log10_abs_max_vs_sqnr_db"]["int8_max_abs"]["models"], 2);
  const std::string csv = test::read_file(dir / "c.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3);
}

TEST(CliScan, QuantOptionErrors) {
  test::TempDir dir;
  const std::string base = test::maxact_binary() + " scan " + test::fixture("llama").string() +
                           " --corpus " + quant_corpus(dir) + " --ids-native -q -o " +
                           (dir / "x.json").string();
  auto expect_fail = [&](const std::string& args, const std::string& msg) {
    const auto r = run_command(base + " " + args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_NE(r.err.find(msg), std::string::npos) << args << ": " << r.err;
    EXPECT_FALSE(fs::exists(dir / "x.json")) << args;
  };
  expect_fail("--calib 4", "need --quant");
  expect_fail("--quant-csv q.csv", "need --quant");
  expect_fail("--clip-quantile 0.999", "need --quant");
  expect_fail("--quant --calib 0 --eval 2", "--calib: Value 0 not in range 1");
  expect_fail("--quant --samples 3", "--calib and --eval");
  expect_fail("--quant --calib 8 --eval 8", "16 disjoint samples; the corpus has 12");
  expect_fail("--quant --calib 2 --eval 2 --policies int9", "unknown policy 'int9'");
  expect_fail("--quant --calib 2 --eval 2 --clip-quantile 1.5", "--clip-quantile");
  expect_fail("--quant --calib 2 --eval 2 --quant-taps 'nothing*'", "--quant-taps");
  expect_fail("--quant --calib 2 --eval 2 --quant-layers all --quant-taps '*'", "give one");
  const auto same = run_command(base + " --csv " + (dir / "x.json").string());
  EXPECT_NE(same.exit_code, 0);
  EXPECT_NE(same.err.find("given for two outputs"), std::string::npos) << same.err;
  EXPECT_FALSE(fs::exists(dir / "x.json"));
  const auto r = run_command(test::maxact_binary() + " compare " + (dir / "q.jsonl").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("q.jsonl"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace maxact
