// The scan engine's own guarantees: bitwise-identical statistics for any thread count, window
// size, chunking and split into merged parts; non-finite values located instead of crashing; tap
// naming and selection; bad token ids refused. Numerical agreement with Hugging Face semantics is
// checked against the PyTorch reference (tests/reference/compare_scan.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "maxact/model.h"
#include "maxact/scan.h"
#include "maxact/stats_json.h"
#include "test_util.h"

namespace maxact {
namespace {

using test::random_sequences;
using test::sequences_of_lengths;

void expect_identical(const ScanResult& a, const ScanResult& b) {
  ASSERT_EQ(a.taps.size(), b.taps.size());
  ASSERT_EQ(a.categories, b.categories);
  EXPECT_EQ(a.expert_load, b.expert_load);
  ASSERT_EQ(a.expert_down_in_max.size(), b.expert_down_in_max.size());
  for (std::size_t l = 0; l < a.expert_down_in_max.size(); ++l) {
    ASSERT_EQ(a.expert_down_in_max[l].size(), b.expert_down_in_max[l].size());
    for (std::size_t e = 0; e < a.expert_down_in_max[l].size(); ++e) {
      const Located &x = a.expert_down_in_max[l][e], &y = b.expert_down_in_max[l][e];
      EXPECT_TRUE(x.value == y.value && x.loc.sample == y.loc.sample &&
                  x.loc.position == y.loc.position && x.loc.channel == y.loc.channel)
          << "layer " << l << " expert " << e;
    }
  }
  EXPECT_TRUE(a.by_category == b.by_category);
  for (std::size_t i = 0; i < a.taps.size(); ++i) {
    EXPECT_EQ(a.taps[i].name, b.taps[i].name);
    const bool same = a.stats[i] == b.stats[i];
    EXPECT_TRUE(same) << a.taps[i].name;
    if (!same) {
      const auto x = stats_json(a.stats[i]), y = stats_json(b.stats[i]);
      for (const auto& [k, v] : x.items()) {
        EXPECT_EQ(v, y[k]) << a.taps[i].name << " differs in " << k;
        if (v != y[k]) break;
      }
      return;  // the first differing tap is enough to see what went wrong
    }
  }
}

class ScanDeterminism : public ::testing::TestWithParam<std::string> {};

TEST_P(ScanDeterminism, ThreadsWindowsAndChunksDoNotChangeABit) {
  const Model m = Model::open_dir(test::fixture(GetParam()));
  // Long enough for the fixtures' sliding windows (32) and several query tiles.
  const auto seqs = random_sequences(9, 300, 256, 7);
  for (Precision p : {Precision::kFp32, Precision::kBf16}) {
    ScanOptions o;
    o.precision = p;
    o.threads = 1;
    o.window_tokens = 1 << 20;
    const ScanResult base = scan(m, seqs, o);
    ASSERT_GT(base.taps.size(), 10u);
    o.threads = 2;
    o.window_tokens = 200;
    o.chunk_rows = 37;
    expect_identical(base, scan(m, seqs, o));
    o.part_values = 500;  // every published block split over the threads and merged
    expect_identical(base, scan(m, seqs, o));
    o.part_values = 65536;
    o.threads = 3;
    o.window_tokens = 1;  // one sequence per window
    o.chunk_rows = 4096;
    expect_identical(base, scan(m, seqs, o));
    // Shards (every third sequence) scanned apart and merged in another order.
    std::vector<ScanResult> parts;
    for (std::size_t k = 0; k < 3; ++k) {
      std::vector<TokenSequence> part;
      for (std::size_t i = k; i < seqs.size(); i += 3) part.push_back(seqs[i]);
      parts.push_back(scan(m, part, o));
    }
    ScanResult merged = parts[2];
    merge_scan_results(merged, parts[0]);
    merge_scan_results(merged, parts[1]);
    expect_identical(base, merged);
    EXPECT_EQ(merged.tokens, base.tokens);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ScanDeterminism,
                         ::testing::Values("llama", "gemma3", "phi3", "qwen3_fp8", "qwen3_moe",
                                           "mixtral", "gpt_oss", "bailing_moe_v2", "qwen3_next",
                                           "qwen3_5_moe"));

TEST(Scan, NanInAWeightIsCountedAndLocated) {
  test::TempDir dir;
  const auto src = test::fixture("llama_f32");
  for (const auto& e : std::filesystem::directory_iterator(src)) {
    std::filesystem::copy_file(e.path(), dir / e.path().filename().string());
  }
  uint64_t offset = 0;
  {
    const Model m = Model::open_dir(dir.path());
    const TensorView* t = m.find("model.layers.1.mlp.up_proj.weight")->tensor;
    ASSERT_EQ(t->dtype, DType::kF32);
    offset = t->file_offset + 4 * 5;  // row 0, column 5
  }
  {
    std::fstream f(dir / "model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    const float nan = std::nanf("");
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(reinterpret_cast<const char*>(&nan), 4);
  }
  const Model m = Model::open_dir(dir.path());
  const auto seqs = random_sequences(3, 20, 256, 1);
  const ScanResult r = scan(m, seqs, ScanOptions{});
  bool seen_up = false, seen_layer0 = false;
  for (std::size_t i = 0; i < r.taps.size(); ++i) {
    const auto& n = r.taps[i].name;
    const auto j = stats_json(r.stats[i]);
    if (n == "model.layers.1.mlp.up_proj") {
      seen_up = true;
      // Every token's up-projection channel 0 is NaN.
      EXPECT_EQ(r.stats[i].nan_count(), static_cast<uint64_t>(r.tokens));
      EXPECT_EQ(j["nan"]["first"]["sample"], 0);
      EXPECT_EQ(j["nan"]["first"]["position"], 0);
      EXPECT_EQ(j["nan"]["first"]["channel"], 0);
    }
    if (n == "model.layers.0") {
      seen_layer0 = true;
      EXPECT_EQ(r.stats[i].nan_count(), 0u);
    }
  }
  EXPECT_TRUE(seen_up && seen_layer0);
}

TEST(Scan, TapNamesFollowTheModulePaths) {
  auto names = [](const std::string& fx) {
    std::vector<std::string> out;
    for (const auto& t : model_taps(Model::open_dir(test::fixture(fx)).spec())) {
      out.push_back(t.name);
    }
    return out;
  };
  auto has = [](const std::vector<std::string>& v, const std::string& n) {
    return std::find(v.begin(), v.end(), n) != v.end();
  };
  const auto llama = names("llama");
  EXPECT_EQ(llama.front(), "model.embed_tokens");
  EXPECT_EQ(llama.back(), "model.norm");
  for (const char* n :
       {"model.layers.0.input_layernorm", "model.layers.0.self_attn.q_proj",
        "model.layers.0.self_attn:k_cache", "model.layers.0.self_attn.o_proj:in",
        "model.layers.0.self_attn", "model.layers.0:resid_mid", "model.layers.1.mlp.down_proj:in",
        "model.layers.1.mlp", "model.layers.1"}) {
    EXPECT_TRUE(has(llama, n)) << n;
  }
  EXPECT_FALSE(has(llama, "model.layers.0.pre_feedforward_layernorm"));
  const auto phi3 = names("phi3");
  EXPECT_TRUE(has(phi3, "model.layers.0.self_attn.qkv_proj"));
  EXPECT_TRUE(has(phi3, "model.layers.0.mlp.gate_up_proj"));
  EXPECT_FALSE(has(phi3, "model.layers.0.self_attn.q_proj"));
  const auto g3 = names("gemma3_wrapped");
  EXPECT_TRUE(has(g3, "model.language_model.layers.5.post_feedforward_layernorm"));
  EXPECT_TRUE(has(g3, "model.language_model.layers.5.self_attn.k_norm"));
}

// A layer lists only the taps it has, in the order its forward pass computes them: what a report
// lists. Each family's layer kinds, written out from the Hugging Face forward.
TEST(Scan, LayerTapsAreInForwardOrder) {
  auto layer = [](const std::string& fx, int l) {
    std::vector<std::string> out;
    const ModelSpec s = Model::open_dir(test::fixture(fx)).spec();
    const std::string p = s.module_prefix + ".layers." + std::to_string(l);
    for (const auto& t : layer_taps(s, l)) out.push_back(t.name.substr(p.size()));
    return out;
  };
  using V = std::vector<std::string>;
  // The residual add precedes the MLP's input norm; attention output before both.
  EXPECT_EQ(layer("llama", 0),
            (V{".input_layernorm", ".self_attn.q_proj", ".self_attn.k_proj", ".self_attn.v_proj",
               ".self_attn:k_cache", ".self_attn:v_cache", ".self_attn.o_proj:in", ".self_attn",
               ":resid_mid", ".post_attention_layernorm", ".mlp.gate_proj", ".mlp.up_proj",
               ".mlp.down_proj:in", ".mlp", ""}));
  // Sandwich norms: the attention output is normalised before the residual add.
  const V g3 = layer("gemma3", 0);
  const V g3_mid{".self_attn", ".post_attention_layernorm", ":resid_mid",
                 ".pre_feedforward_layernorm", ".mlp.gate_proj"};
  EXPECT_NE(std::search(g3.begin(), g3.end(), g3_mid.begin(), g3_mid.end()), g3.end());
  EXPECT_EQ(V(g3.end() - 3, g3.end()), (V{".mlp", ".post_feedforward_layernorm", ""}));
  // Routed experts: router, routing weights, experts, then the shared expert and its gate, then
  // the block's output. A Gated DeltaNet layer: its projections, conv, state, out_proj, output.
  EXPECT_EQ(layer("qwen3_next", 0),
            (V{".input_layernorm", ".linear_attn.in_proj_qkvz", ".linear_attn.in_proj_ba",
               ".linear_attn:conv_out", ".linear_attn:state_absmax", ".linear_attn.out_proj:in",
               ".linear_attn", ":resid_mid", ".post_attention_layernorm", ".mlp.gate",
               ".mlp.gate:weights", ".mlp.experts:down_proj:in", ".mlp.shared_expert.down_proj:in",
               ".mlp.shared_expert", ".mlp.shared_expert_gate", ".mlp", ""}));
  // Fused projections replace the separate ones; nothing absent is listed.
  const V phi3 = layer("phi3", 0);
  EXPECT_EQ(std::count(phi3.begin(), phi3.end(), ".self_attn.qkv_proj"), 1);
  EXPECT_EQ(std::count(phi3.begin(), phi3.end(), ".self_attn.q_proj"), 0);
  EXPECT_EQ(std::count(phi3.begin(), phi3.end(), ".mlp.gate_up_proj"), 1);
  EXPECT_EQ(std::count(phi3.begin(), phi3.end(), ".mlp.gate_proj"), 0);
  // Mixtral's and gpt-oss's own module names come from their name tables.
  const V mixtral = layer("mixtral", 0), gpt_oss = layer("gpt_oss", 0);
  EXPECT_EQ(std::count(mixtral.begin(), mixtral.end(), ".block_sparse_moe.gate"), 1);
  EXPECT_EQ(std::count(gpt_oss.begin(), gpt_oss.end(), ".mlp.router:weights"), 1);
}

// --taps and --quant-taps match the study's aliases too (the router is layer_{i}_router_logits
// and layer_{i}_moe_gate).
TEST(Scan, TapMatchingCoversStudyAliases) {
  const ModelSpec s = Model::open_dir(test::fixture("qwen3_moe")).spec();
  std::vector<std::string> hit;
  for (const TapInfo& t : model_taps(s)) {
    if (tap_matches("layer_*_moe_gate", t)) hit.push_back(t.name);
  }
  ASSERT_FALSE(hit.empty());
  for (const auto& n : hit) EXPECT_TRUE(n.ends_with(".mlp.gate")) << n;
  const Model m = Model::open_dir(test::fixture("qwen3_moe"));
  ScanOptions o;
  o.taps = {"layer_1_moe_gate"};
  const ScanResult r = scan(m, random_sequences(2, 10, 256, 3), o);
  ASSERT_EQ(r.taps.size(), 1u);
  EXPECT_EQ(r.taps[0].name, "model.layers.1.mlp.gate");
}

TEST(Scan, TapSelectionByGlobOverBothNamings) {
  const Model m = Model::open_dir(test::fixture("llama"));
  const auto seqs = random_sequences(2, 10, 256, 3);
  ScanOptions o;
  o.taps = {"layer_*_hidden", "*.mlp.down_proj:in"};
  const ScanResult r = scan(m, seqs, o);
  std::vector<std::string> got;
  for (const auto& t : r.taps) got.push_back(t.name);
  EXPECT_EQ(got, (std::vector<std::string>{"model.layers.0.mlp.down_proj:in", "model.layers.0",
                                           "model.layers.1.mlp.down_proj:in", "model.layers.1"}));
}

TEST(Scan, GlobMatching) {
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("model.layers.*.mlp", "model.layers.12.mlp"));
  EXPECT_FALSE(glob_match("model.layers.*.mlp", "model.layers.12.mlp.down_proj"));
  EXPECT_TRUE(glob_match("layer_?_hidden", "layer_3_hidden"));
  EXPECT_FALSE(glob_match("layer_?_hidden", "layer_13_hidden"));
  EXPECT_TRUE(glob_match("layer_[0-2]_*", "layer_2_mlp_output"));
  EXPECT_FALSE(glob_match("layer_[!0-2]_*", "layer_2_mlp_output"));
  EXPECT_TRUE(glob_match("*:in", "model.layers.0.self_attn.o_proj:in"));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYbZc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXXbYYbZ"));
}

TEST(Scan, TokenIdOutsideTheEmbeddingIsAnError) {
  const Model m = Model::open_dir(test::fixture("llama"));
  std::vector<TokenSequence> seqs(1);
  seqs[0].sample = 4;
  seqs[0].ids = {1, 2, 256};
  test::expect_error([&] { scan(m, seqs, ScanOptions{}); }, ErrorCode::kCorpus,
                     {"sample 4", "position 2", "token id 256", "256 rows"});
}

// Every config.json a family adapter accepts runs; the engine still checks the MoE design it is
// handed (a spec built in code can ask for a router or combine the engine does not implement).
TEST(Scan, MoeDesignsOutsideTheFamilyAreRefused) {
  const Model m = Model::open_dir(test::fixture("qwen3_moe"));
  ModelSpec s = m.spec();
  ASSERT_TRUE(scan_support(s).supported);
  s.moe.router = RouterKind::kSigmoidGroupLimited;
  EXPECT_FALSE(scan_support(s).supported);
  s = m.spec();
  s.moe.combine = CombineKind::kFp32OverAllExperts;  // gpt-oss's combine, not its storage
  EXPECT_FALSE(scan_support(s).supported);
  const Model g = Model::open_dir(test::fixture("gpt_oss"));
  s = g.spec();
  ASSERT_TRUE(scan_support(s).supported);
  s.moe.combine = CombineKind::kExpertOrderInDtype;
  EXPECT_FALSE(scan_support(s).supported);
}

// Every family of the fixture matrix runs (its numerics are compared with the reference
// elsewhere): every tap of its spec gets values, and none is NaN.
TEST(Scan, EveryFixtureFamilyRuns) {
  const auto manifest = nlohmann::json::parse(test::read_file(test::fixture("manifest.json")));
  for (const auto& [name, info] : manifest.items()) {
    SCOPED_TRACE(name);
    const Model m = Model::open_dir(test::fixture(name));
    ASSERT_TRUE(scan_support(m.spec()).supported);
    const ScanResult r = scan(m, random_sequences(2, 70, 256, 3), ScanOptions{});
    EXPECT_EQ(r.taps.size(), model_taps(m.spec()).size());
    for (std::size_t t = 0; t < r.taps.size(); ++t) {
      EXPECT_GT(r.stats[t].count(), 0u) << r.taps[t].name;
      EXPECT_EQ(r.stats[t].nan_count(), 0u) << r.taps[t].name;
    }
  }
}

// A long sequence after a short one in the same window grows the RoPE table; the short one must
// still read a live table (this once read freed memory).
TEST(Scan, RopeTablesGrowInsideAWindow) {
  const Model m = Model::open_dir(test::fixture("gemma3"));
  const auto seqs = sequences_of_lengths({3, 700, 5}, 256, 5);
  ScanOptions one_window;
  one_window.window_tokens = 1 << 20;
  ScanOptions per_sequence;
  per_sequence.window_tokens = 1;
  expect_identical(scan(m, seqs, one_window), scan(m, seqs, per_sequence));
}

// Per-category extremes agree with the overall ones: the largest category max is the tap's max,
// token counts add up, and each category's max sits in a sequence of that category.
TEST(Scan, CategoriesPartitionTheTapStatistics) {
  const Model m = Model::open_dir(test::fixture("qwen3"));
  const auto seqs = random_sequences(7, 60, 256, 11);
  const ScanResult r = scan(m, seqs, ScanOptions{});
  ASSERT_EQ(r.categories, (std::vector<std::string>{"", "code", "math"}));
  for (std::size_t i = 0; i < r.taps.size(); ++i) {
    uint64_t tokens = 0, count = 0;
    float best = -1e30f;
    for (std::size_t k = 0; k < r.categories.size(); ++k) {
      const CategoryStats& c = r.by_category[i][k];
      tokens += c.tokens;
      count += c.count;
      if (c.count > 0) {
        best = std::max(best, c.max.value);
        const auto& owner = seqs[static_cast<std::size_t>(c.max.loc.sample)];
        EXPECT_EQ(owner.category, r.categories[k]) << r.taps[i].name;
      }
    }
    EXPECT_EQ(tokens, r.stats[i].tokens()) << r.taps[i].name;
    EXPECT_EQ(count, r.stats[i].count()) << r.taps[i].name;
    EXPECT_EQ(best, r.stats[i].max().value) << r.taps[i].name;
  }
}

// Every token reaches top_k experts in each MoE layer; dense layers (mlp_only_layers) have none.
TEST(Scan, ExpertLoadCountsEveryRoutedToken) {
  const Model m = Model::open_dir(test::fixture("qwen3_moe"));
  const auto seqs = random_sequences(5, 40, 256, 3);
  const ScanResult r = scan(m, seqs, ScanOptions{});
  ASSERT_EQ(r.expert_load.size(), 2u);
  EXPECT_TRUE(r.expert_load[0].empty());  // layer 0 is in mlp_only_layers
  ASSERT_EQ(r.expert_load[1].size(), static_cast<std::size_t>(m.spec().moe.num_experts));
  uint64_t total = 0;
  for (uint64_t n : r.expert_load[1]) total += n;
  EXPECT_EQ(total, static_cast<uint64_t>(r.tokens) * static_cast<uint64_t>(m.spec().moe.top_k));
  // The experts' down-projection input sees one row per (token, expert) pair; its largest |x| is
  // the largest of the per-expert maxima, at the same place; an expert has a maximum iff it got
  // tokens.
  bool seen = false;
  for (std::size_t i = 0; i < r.taps.size(); ++i) {
    if (r.taps[i].name != "model.layers.1.mlp.experts:down_proj:in") continue;
    seen = true;
    EXPECT_EQ(r.stats[i].tokens(), total);
    const Located tap = r.stats[i].absmax();
    const auto& per = r.expert_down_in_max[1];
    ASSERT_EQ(per.size(), r.expert_load[1].size());
    const Located* best = nullptr;
    for (std::size_t e = 0; e < per.size(); ++e) {
      EXPECT_EQ(per[e].loc.valid(), r.expert_load[1][e] > 0) << e;
      if (per[e].loc.valid() &&
          (best == nullptr || std::fabs(per[e].value) > std::fabs(best->value))) {
        best = &per[e];
      }
    }
    ASSERT_NE(best, nullptr);
    EXPECT_EQ(best->value, tap.value);
    EXPECT_EQ(best->loc.sample, tap.loc.sample);
    EXPECT_EQ(best->loc.position, tap.loc.position);
    EXPECT_EQ(best->loc.channel, tap.loc.channel);
  }
  EXPECT_TRUE(seen);
}

// A constructed tie (make_fixture.py tie_router): experts 1..3 have identical router rows, expert
// 0 the negated row, so every token's top-2 is decided by the tie rule. Lower ids win: {1, 2}
// when x.r > 0, {0, 1} otherwise; expert 3, tied with 1 and 2, never gets a token. (Higher ids
// winning would send tokens to 3; an unstable order would split them.)
// Softmax-then-top-k (qwen3_moe) and top-k-then-softmax (gpt-oss, router with bias) routers.
TEST(Scan, RouterTiesGoToTheLowerExpertId) {
  for (const char* fixture : {"qwen3_moe_router_tie", "gpt_oss_router_tie"}) {
    SCOPED_TRACE(fixture);
    const Model m = Model::open_dir(test::fixture(fixture));
    ASSERT_EQ(m.spec().moe.num_experts, 4);
    ASSERT_EQ(m.spec().moe.top_k, 2);
    const auto seqs = random_sequences(6, 40, 256, 8);
    for (Precision p : {Precision::kFp32, Precision::kBf16}) {
      ScanOptions o;
      o.precision = p;
      const ScanResult r = scan(m, seqs, o);
      const auto& load = r.expert_load[1];
      const auto T = static_cast<uint64_t>(r.tokens);
      EXPECT_EQ(load[1], T);
      EXPECT_EQ(load[3], 0u);
      EXPECT_EQ(load[0] + load[2], T);
      EXPECT_GT(load[0], 0u);  // both signs of x.r occur
      EXPECT_GT(load[2], 0u);
    }
  }
}

}  // namespace
}  // namespace maxact
