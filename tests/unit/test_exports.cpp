// The exports' pieces: per-channel sums (exact, order-independent), the GGUF container's bytes,
// the importance matrix read from a report (names, experts, the converter's channel order, every
// malformed report a clear error) and its legacy form; the CLI around them. Their values against
// the PyTorch reference: tests/reference/check_imatrix.py on every fixture.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include <zlib.h>

#include <map>

#include "export/gguf_writer.h"
#include "export/le_bytes.h"
#include "export/torch_writer.h"
#include "maxact/channel_sums.h"
#include "maxact/error.h"
#include "maxact/exports.h"
#include "test_util.h"

namespace maxact {
namespace {

using nlohmann::json;

TEST(ChannelSums, AnySplitAndOrderGivesTheSameBits) {
  std::mt19937 rng(7);
  std::normal_distribution<float> n(0.0f, 3.0f);
  const int64_t C = 5, rows = 40;
  std::vector<float> x(static_cast<std::size_t>(rows * C));
  for (float& v : x) v = n(rng);
  x[3] = -0.0f;  // a channel's only zero is negative in one part, positive in another
  x[8] = 0.0f;
  ChannelSums all(C);
  all.add_rows(x.data(), rows, C);
  ChannelSums a(C), b(C), by_channel(C);
  a.add_rows(x.data() + 17 * C, rows - 17, C);
  b.add_rows(x.data(), 17, C);
  a.merge(b);
  EXPECT_EQ(a, all);
  by_channel.add_rows(x.data(), rows, C, 2, 5);
  by_channel.add_rows(x.data(), rows, C, 0, 2);
  EXPECT_EQ(by_channel, all);
  for (int64_t c = 0; c < C; ++c) {
    double sq = 0;
    float hi = -INFINITY, lo = INFINITY, amax = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const float v = x[static_cast<std::size_t>(r * C + c)];
      sq += static_cast<double>(v) * v;
      hi = std::max(hi, v);
      lo = std::min(lo, v);
      amax = std::max(amax, std::fabs(v));
    }
    const auto i = static_cast<std::size_t>(c);
    EXPECT_EQ(all.max()[i], hi);
    EXPECT_EQ(all.min()[i], lo);
    EXPECT_EQ(all.absmax()[i], amax);
    EXPECT_NEAR(all.sum_sq()[i], sq, 1e-9 * sq);
  }
}

TEST(ChannelSums, ZerosAreReportedAsPositiveZero) {
  const float neg[] = {-0.0f}, pos[] = {0.0f};
  ChannelSums a(1), b(1);
  a.add_rows(neg, 1, 1);
  a.add_rows(pos, 1, 1);
  b.add_rows(pos, 1, 1);
  b.add_rows(neg, 1, 1);
  EXPECT_EQ(a, b);
  EXPECT_FALSE(std::signbit(a.max()[0]));
  EXPECT_FALSE(std::signbit(a.min()[0]));
}

TEST(ChannelSums, AnEmptyChannelHasNoExtremesAndZeroSums) {
  ChannelSums s(2);
  EXPECT_EQ(s.max()[0], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(s.min()[1], std::numeric_limits<float>::infinity());
  EXPECT_EQ(s.absmax(), (std::vector<float>{0.0f, 0.0f}));
  EXPECT_EQ(s.sum_sq(), (std::vector<double>{0.0, 0.0}));
}

TEST(ChannelSums, SquaresBeyondTheAccumulatorAreCountedNotSummed) {
  const float big[] = {1e30f, 2.0f};
  ChannelSums s(2);
  s.add_rows(big, 1, 2);
  EXPECT_EQ(s.saturated(), 1u);
  EXPECT_EQ(s.sum_sq()[0], 0.0);
  EXPECT_EQ(s.sum_sq()[1], 4.0);
  EXPECT_EQ(s.absmax()[0], 1e30f);
}

void put_str(std::string& s, const std::string& v) {
  put_le<uint64_t>(s, v.size());
  s += v;
}

TEST(GgufWriter, LaysOutHeaderKeyValuesTensorInfosAndAlignedData) {
  GgufWriter w;
  w.add_u32("a", 7);
  w.add_string_array("b", {"x", "yz"});
  w.add_f32("t1", {3, 1}, {1.0f, 2.0f, 3.0f});  // a trailing 1 is dropped, as ggml_n_dims does
  w.add_f32("t2", {1, 2}, {4.0f, 5.0f});
  std::string want;
  put_le<uint32_t>(want, 0x46554747);
  put_le<uint32_t>(want, 3);
  put_le<uint64_t>(want, 2);  // tensors
  put_le<uint64_t>(want, 2);  // key-values
  put_str(want, "a");
  put_le<uint32_t>(want, 4);
  put_le<uint32_t>(want, 7);
  put_str(want, "b");
  put_le<uint32_t>(want, 9);
  put_le<uint32_t>(want, 8);
  put_le<uint64_t>(want, 2);
  put_str(want, "x");
  put_str(want, "yz");
  put_str(want, "t1");
  put_le<uint32_t>(want, 1);
  put_le<uint64_t>(want, 3);
  put_le<uint32_t>(want, 0);
  put_le<uint64_t>(want, 0);
  put_str(want, "t2");
  put_le<uint32_t>(want, 2);
  put_le<uint64_t>(want, 1);
  put_le<uint64_t>(want, 2);
  put_le<uint32_t>(want, 0);
  put_le<uint64_t>(want, 32);  // t1's 12 bytes padded to 32
  want.append((32 - want.size() % 32) % 32, '\0');
  for (float v : {1.0f, 2.0f, 3.0f}) put_le<float>(want, v);
  want.append(20, '\0');
  for (float v : {4.0f, 5.0f}) put_le<float>(want, v);
  want.append(24, '\0');
  EXPECT_EQ(w.bytes(), want);
}

// A minimal report: one dense Linear input (two weights), one MoE layer's experts, Qwen3.5's
// out_proj with reordered value heads.
json report() {
  const json sums3 = {{"channel_sum_sq", {1.0, 2.0, 3.0}}, {"tokens", 4}};
  return {
      {"corpus", {{"origin", "corpus.jsonl"}}},
      {"run", {{"tokens", 10}, {"sequences", 3}}},
      {"options", {{"max_seq_len", 0}}},
      {"experts",
       {{{"layer", 1},
         {"tokens_per_expert", {3, 0}},
         {"inputs",
          {{"in", {{{"channel_sum_sq", {1.0, 1.0, 1.0}}}, {{"channel_sum_sq", {0.0, 0.0, 0.0}}}}},
           {"down_proj_in",
            {{{"channel_sum_sq", {2.0, 4.0}}}, {{"channel_sum_sq", {0.0, 0.0}}}}}}}}}},
      {"taps",
       {{{"hf_name", "model.layers.0.input_layernorm"},
         {"layer", 0},
         {"channels", 3},
         {"stats", sums3},
         {"feeds",
          {{{"module", "model.layers.0.self_attn.q_proj"},
            {"gguf", {"blk.0.attn_q"}},
            {"experts", nullptr}},
           {{"module", "model.layers.0.self_attn.k_proj"},
            {"gguf", {"blk.0.attn_k"}},
            {"experts", nullptr}}}}},
        {{"hf_name", "model.layers.1.post_attention_layernorm"},
         {"layer", 1},
         {"channels", 3},
         {"stats", sums3},
         {"feeds",
          {{{"module", "model.layers.1.mlp.experts"},
            {"gguf", {"blk.1.ffn_gate_exps", "blk.1.ffn_up_exps"}},
            {"experts", "in"}}}}},
        {{"hf_name", "model.layers.1.mlp.experts:down_proj:in"},
         {"layer", 1},
         {"channels", 2},
         {"stats", {{"channel_sum_sq", {9.0, 9.0}}, {"tokens", 3}}},
         {"feeds",
          {{{"module", "model.layers.1.mlp.experts"},
            {"gguf", {"blk.1.ffn_down_exps"}},
            {"experts", "down_proj_in"}}}}},
        {{"hf_name", "model.layers.2.linear_attn.out_proj:in"},
         {"layer", 2},
         {"channels", 4},
         {"stats", {{"channel_sum_sq", {10.0, 11.0, 12.0, 13.0}}, {"tokens", 4}}},
         {"feeds",
          {{{"module", "model.layers.2.linear_attn.out_proj"},
            {"gguf", {"blk.2.ssm_out"}},
            {"experts", nullptr},
            {"gguf_input_order", {{"key_heads", 1}, {"value_heads", 2}, {"head_dim", 2}}}}}}},
        {{"hf_name", "model.norm"},
         {"layer", nullptr},
         {"channels", 3},
         {"stats", sums3},
         {"feeds", {{{"module", "lm_head"}, {"gguf", {"output"}}, {"experts", nullptr}}}}}}}};
}

const ImatrixEntry& find(const Imatrix& m, const std::string& name) {
  for (const ImatrixEntry& e : m.entries) {
    if (e.name == name) return e;
  }
  throw std::runtime_error("no entry " + name);
}

TEST(Imatrix, EntriesFromTheReportsLinearInputsAndExperts) {
  const Imatrix m = imatrix_from_report(report(), "r.json");
  std::vector<std::string> names;
  for (const ImatrixEntry& e : m.entries) names.push_back(e.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"blk.0.attn_k.weight", "blk.0.attn_q.weight",
                                      "blk.1.ffn_down_exps.weight", "blk.1.ffn_gate_exps.weight",
                                      "blk.1.ffn_up_exps.weight", "blk.2.ssm_out.weight"}));
  EXPECT_EQ(find(m, "blk.0.attn_q.weight").in_sum2, (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(find(m, "blk.0.attn_q.weight").counts, (std::vector<float>{4}));
  const ImatrixEntry& up = find(m, "blk.1.ffn_up_exps.weight");
  EXPECT_EQ(up.n_mat, 2);
  EXPECT_EQ(up.in_sum2, (std::vector<float>{1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(up.counts, (std::vector<float>{3, 0}));
  EXPECT_EQ(find(m, "blk.1.ffn_down_exps.weight").in_sum2, (std::vector<float>{2, 4, 0, 0}));
  // One key head, two value heads of two channels: HF head r = 0, 1 -> GGUF r * 1 + 0: unchanged
  // here; with the heads' roles swapped below the order moves.
  EXPECT_EQ(find(m, "blk.2.ssm_out.weight").in_sum2, (std::vector<float>{10, 11, 12, 13}));
  EXPECT_EQ(m.chunk_size, 4u);  // no --max-seq-len: the mean sequence, rounded up
  EXPECT_EQ(m.chunk_count, 3u);
  EXPECT_EQ(m.datasets, (std::vector<std::string>{"corpus.jsonl"}));
  ASSERT_EQ(m.warnings.size(), 3u);  // expert 1 of three weights
  EXPECT_NE(m.warnings[0].find("expert 1 received no token"), std::string::npos);
}

TEST(Imatrix, ValueHeadsRegroupedAsTheConverterDoes) {
  json r = report();
  // Two key heads, four value heads (R = 2), one channel each: HF (g*2 + r) -> GGUF (r*2 + g).
  r["taps"][3]["channels"] = 4;
  r["taps"][3]["feeds"][0]["gguf_input_order"] = {
      {"key_heads", 2}, {"value_heads", 4}, {"head_dim", 1}};
  const Imatrix m = imatrix_from_report(r, "r.json");
  EXPECT_EQ(find(m, "blk.2.ssm_out.weight").in_sum2, (std::vector<float>{10, 12, 11, 13}));
}

TEST(Imatrix, OutputOnlyWhenAskedFor) {
  ImatrixOptions o;
  o.process_output = true;
  const Imatrix m = imatrix_from_report(report(), "r.json", o);
  EXPECT_EQ(find(m, "output.weight").counts, (std::vector<float>{4}));
}

void expect_error(const json& r, const std::string& needle) {
  try {
    imatrix_from_report(r, "bad.json");
    ADD_FAILURE() << "no error for " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOption);
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("bad.json: ", 0), 0u) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << what;
  }
}

TEST(Imatrix, MalformedReportsAreErrorsNamingTheFileAndThePlace) {
  expect_error(json::array(), "must be an object");
  json r = report();
  r.erase("taps");
  expect_error(r, "taps is missing");
  r = report();
  r["taps"][0]["stats"]["channel_sum_sq"][1] = nullptr;
  expect_error(r, "channel_sum_sq[1] is null");
  r = report();
  r["taps"][0]["stats"]["channel_sum_sq"] = {1.0, 2.0};
  expect_error(r, "has 2 elements, expected 3");
  r = report();
  r["taps"][0]["stats"]["tokens"] = "four";
  expect_error(r, "must be an integer");
  r = report();
  r["experts"][0].erase("inputs");
  expect_error(r, "--expert-inputs");
  r = report();
  r["experts"] = json::array();
  expect_error(r, "no \"experts\" entry for MoE layer 1");
  r = report();
  r["taps"][3]["feeds"][0]["gguf_input_order"]["value_heads"] = 3;
  expect_error(r, "do not describe the channels");
  r = report();
  r["taps"][1]["feeds"][0]["gguf"] = {"blk.0.attn_q"};
  r["taps"][1]["feeds"][0]["experts"] = nullptr;
  expect_error(r, "two taps feed GGUF weight blk.0.attn_q.weight");
  r = report();
  for (auto& t : r["taps"]) t.erase("feeds");
  expect_error(r, "no Linear inputs");
}

TEST(Imatrix, LegacyFileSkipsUnusedWeightsAndScalesByCalls) {
  Imatrix m;
  m.datasets = {"d"};
  m.chunk_size = 2;
  m.chunk_count = 5;
  m.entries = {{"a.weight", 2, 2, {2, 4, 9, 9}, {3, 0}}, {"b.weight", 1, 1, {5}, {0}}};
  std::string want;
  put_le<int32_t>(want, 1);
  put_le<int32_t>(want, 8);
  want += "a.weight";
  put_le<int32_t>(want, 2);  // ncall = ceil(3 / 2)
  put_le<int32_t>(want, 4);
  for (float v : {2.0f / 3.0f * 2.0f, 4.0f / 3.0f * 2.0f, 2.0f, 2.0f}) put_le<float>(want, v);
  put_le<int32_t>(want, 5);
  put_le<int32_t>(want, 1);
  want += "d";
  EXPECT_EQ(imatrix_dat(m), want);
}

TEST(CliExport, ImatrixOfAScanMatchesScanImatrixAndRefusesBadInput) {
  test::TempDir dir;
  std::string ids;
  for (int i = 0; i < 4; ++i) {
    json v = json::array();
    for (int k = 0; k < 9 + i; ++k) v.push_back((k * 13 + i) % 200);
    ids += json{{"input_ids", v}}.dump() + "\n";
  }
  test::write_file(dir / "ids.jsonl", ids);
  const std::string scan = test::maxact_binary() + " scan " + test::fixture("qwen3_moe").string() +
                           " --corpus " + (dir / "ids.jsonl").string() + " --ids-native -q -o " +
                           (dir / "r.json").string() + " --imatrix " + (dir / "s.gguf").string();
  auto r = test::run_command(scan);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string exp = test::maxact_binary() + " export imatrix " + (dir / "r.json").string();
  r = test::run_command(exp + " -o " + (dir / "e.gguf").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("written      " + (dir / "e.gguf").string()), std::string::npos) << r.out;
  EXPECT_EQ(test::read_file(dir / "e.gguf"), test::read_file(dir / "s.gguf"));
  // Each beside its summary: what was written, from which corpus.
  const json sum = json::parse(test::read_file(dir / "e.gguf.summary.json"));
  EXPECT_EQ(sum["kind"], "imatrix");
  EXPECT_EQ(sum["corpus"]["origin"], (dir / "ids.jsonl").string());
  EXPECT_EQ(sum["weights"].size(),
            json::parse(test::read_file(dir / "s.gguf.summary.json"))["weights"].size());
  // The report itself is never an output.
  r = test::run_command(exp + " -o " + (dir / "r.json").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("r.json"), std::string::npos) << r.err;
  // Not JSON: an error naming the file, nothing written.
  test::write_file(dir / "junk.json", "{\"taps\": [");
  r = test::run_command(test::maxact_binary() + " export imatrix " + (dir / "junk.json").string() +
                        " -o " + (dir / "j.gguf").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("junk.json"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "j.gguf"));
  // A report without per-expert inputs cannot give the experts' entries.
  r = test::run_command(test::maxact_binary() + " scan " + test::fixture("qwen3_moe").string() +
                        " --corpus " + (dir / "ids.jsonl").string() + " --ids-native -q -o " +
                        (dir / "plain.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_command(test::maxact_binary() + " export imatrix " + (dir / "plain.json").string() +
                        " -o " + (dir / "p.gguf").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--expert-inputs"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "p.gguf"));
  r = test::run_command(scan + " --bootstrap 2 --samples 2");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--imatrix does not apply to --bootstrap"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace maxact

namespace maxact {
namespace {

TEST(ActScales, PerLinearPerExpertAndFusedFromTheReport) {
  json r = report();
  r["taps"][0]["stats"]["channel_absmax"] = {1.0, 2.0, 3.0};
  r["taps"][0]["stats"]["channel_max"] = {1.0, 2.0, -1.0};
  r["taps"][0]["stats"]["channel_min"] = {-0.5, 0.0, -3.0};
  for (int t = 1; t < 5; ++t) {
    const int64_t C = r["taps"][static_cast<std::size_t>(t)]["channels"];
    json& st = r["taps"][static_cast<std::size_t>(t)]["stats"];
    st["channel_absmax"] = std::vector<double>(C, 7.0);
    st["channel_max"] = std::vector<double>(C, 7.0);
    st["channel_min"] = std::vector<double>(C, -7.0);
  }
  r["taps"][1]["feeds"][0]["expert_modules"] = {"model.layers.1.mlp.experts.{e}.gate_proj",
                                                "model.layers.1.mlp.experts.{e}.up_proj"};
  r["taps"][2]["feeds"][0]["expert_modules"] = {"model.layers.1.mlp.experts.down_proj"};  // fused
  r["experts"][0]["inputs"]["in"][0]["channel_absmax"] = {1.0, 1.0, 1.0};
  r["experts"][0]["inputs"]["in"][1]["channel_absmax"] = {0.0, 0.0, 0.0};
  r["experts"][0]["inputs"]["down_proj_in"][0]["channel_absmax"] = {2.0, 4.0};
  r["experts"][0]["inputs"]["down_proj_in"][1]["channel_absmax"] = {0.0, 0.0};
  ActScalesOptions o;
  o.min_max = true;
  const ActScales s = act_scales_from_report(r, "r.json", o);
  std::map<std::string, ActScales::Entry> by;
  for (const auto& e : s.entries) by[e.name] = e;
  EXPECT_EQ(by.at("model.layers.0.self_attn.q_proj").values, (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(by.at("model.layers.0.self_attn.k_proj:max").values, (std::vector<float>{1, 2, -1}));
  EXPECT_EQ(by.at("model.layers.0.self_attn.k_proj:min").values, (std::vector<float>{-0.5, 0, -3}));
  EXPECT_EQ(by.at("model.layers.1.mlp.experts.1.up_proj").values, (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(by.at("model.layers.1.mlp.experts.down_proj").shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(by.at("model.layers.1.mlp.experts.down_proj").values, (std::vector<float>{2, 4, 0, 0}));
  EXPECT_EQ(by.at("lm_head").values, (std::vector<float>{7, 7, 7}));
  EXPECT_EQ(by.count("model.layers.1.mlp.experts.0.gate_proj:max"), 0u);  // not per expert
  EXPECT_TRUE(s.warnings.empty());
  // Without per-expert inputs the experts are left out, with a warning; the rest is written.
  r["experts"][0].erase("inputs");
  const ActScales t = act_scales_from_report(r, "r.json");
  EXPECT_EQ(t.entries.size(), 4u);  // q_proj, k_proj, out_proj, lm_head: no expert
  ASSERT_EQ(t.warnings.size(), 1u);
  EXPECT_NE(t.warnings[0].find("--expert-inputs"), std::string::npos);
  // A channel without a finite value has no scale to give.
  r["taps"][0]["stats"]["channel_max"][1] = nullptr;
  EXPECT_THROW(act_scales_from_report(r, "r.json", o), Error);
}

// The zip container torch.load reads: records stored, CRCs right, data 64-byte aligned, and the
// central directory listing every record (the pickle's opcodes: the reference's torch.load).
TEST(TorchWriter, ZipRecordsAreStoredAlignedAndListed) {
  const std::string z = torch_save_dict({{"a", {2}, {1.0f, 2.0f}}, {"b.c", {1, 1}, {3.0f}}});
  auto u32 = [&](std::size_t at) {
    uint32_t v;
    std::memcpy(&v, z.data() + at, 4);
    return v;
  };
  auto u16 = [&](std::size_t at) {
    uint16_t v;
    std::memcpy(&v, z.data() + at, 2);
    return v;
  };
  const std::size_t eocd = z.size() - 22;
  ASSERT_EQ(u32(eocd), 0x06054b50u);
  EXPECT_EQ(u16(eocd + 10), 5);  // data.pkl, byteorder, data/0, data/1, version
  std::size_t cd = u32(eocd + 16);
  std::vector<std::string> names;
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(u32(cd), 0x02014b50u);
    const uint16_t n = u16(cd + 28), extra = u16(cd + 30), comment = u16(cd + 32);
    const std::string name = z.substr(cd + 46, n);
    names.push_back(name);
    const std::size_t local = u32(cd + 42);
    EXPECT_EQ(u32(local), 0x04034b50u);
    EXPECT_EQ(u16(local + 8), 0) << "stored, not compressed";
    const std::size_t data = local + 30 + u16(local + 26) + u16(local + 28);
    EXPECT_EQ(data % 64, 0u) << name;
    const uint32_t size = u32(cd + 24);
    EXPECT_EQ(u32(cd + 16), static_cast<uint32_t>(
                                crc32(0, reinterpret_cast<const Bytef*>(z.data() + data), size)));
    if (name == "archive/data/1") {
      float v;
      std::memcpy(&v, z.data() + data, 4);
      EXPECT_EQ(v, 3.0f);
    }
    cd += 46 + n + extra + comment;
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"archive/data.pkl", "archive/byteorder", "archive/data/0",
                                      "archive/data/1", "archive/version"}));
}

TEST(CliExport, Fp8RefusesWhatItCannotWriteAndLeavesNothing) {
  test::TempDir dir;
  test::write_file(dir / "ids.jsonl",
                   "{\"input_ids\": [1, 2, 3, 4, 5, 6]}\n{\"input_ids\": [7, 8, 9]}\n"
                   "{\"input_ids\": [9, 3, 1, 4]}\n");
  const std::string bin = test::maxact_binary();
  auto scan = [&](const std::string& fixture, const std::string& out, const std::string& extra) {
    const auto r = test::run_command(bin + " scan " + test::fixture(fixture).string() +
                                     " --corpus " + (dir / "ids.jsonl").string() +
                                     " --ids-native -q -o " + (dir / out).string() + extra);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  scan("qwen3", "q.json", "");
  const std::string fp8 = bin + " export fp8 " + (dir / "q.json").string() + " --model ";
  // A report of another model.
  auto r = test::run_command(fp8 + test::fixture("llama").string() + " -o " + (dir / "a").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("a report of a qwen3 model"), std::string::npos) << r.err;
  // The output exists already.
  std::filesystem::create_directory(dir / "b");
  r = test::run_command(fp8 + test::fixture("qwen3").string() + " -o " + (dir / "b").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("exists"), std::string::npos) << r.err;
  // Quantile scales need the quantization check.
  r = test::run_command(fp8 + test::fixture("qwen3").string() + " -o " + (dir / "c").string() +
                        " --scale quantile");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--quant"), std::string::npos) << r.err;
  r = test::run_command(fp8 + test::fixture("qwen3").string() + " -o " + (dir / "d").string() +
                        " --kv-only --format modelopt");
  EXPECT_EQ(r.exit_code, 1);
  // A report without every Linear input would leave Linears neither cast nor ignored.
  scan("qwen3", "part.json", " --taps 'model.layers.0.*'");
  r = test::run_command(bin + " export fp8 " + (dir / "part.json").string() + " --model " +
                        test::fixture("qwen3").string() + " -o " + (dir / "f").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("has no input statistics for"), std::string::npos) << r.err;
  // Nothing left behind: no output, no temporary folder.
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    left.push_back(e.path().filename().string());
  }
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"b", "ids.jsonl", "part.json", "q.json"}));
  // With the check's calibration the quantile rule works, and the summary says which rule.
  scan("qwen3", "qq.json", " --quant --calib 1 --eval 2");
  r = test::run_command(bin + " export fp8 " + (dir / "qq.json").string() + " --model " +
                        test::fixture("qwen3").string() + " -o " + (dir / "e").string() +
                        " --scale mse");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json summary = json::parse(test::read_file(dir / "e" / "maxact_export.json"));
  EXPECT_EQ(summary["scale_rule"], "mse");
  EXPECT_GT(summary["linears"].size(), 0u);
}

}  // namespace
}  // namespace maxact

namespace maxact {
namespace {

// A real report with one value replaced at a time (by null, a string, a negative or huge number,
// an empty container): every export either succeeds or throws maxact::Error naming the file;
// nothing else escapes (no nlohmann type_error, no out_of_range, no crash).
TEST(Exports, MutatedReportsGiveErrorsNotCrashes) {
  test::TempDir dir;
  test::write_file(dir / "ids.jsonl", "{\"input_ids\": [1, 2, 3, 4, 5, 6, 7, 8]}\n");
  const auto r = test::run_command(test::maxact_binary() + " scan " +
                                   test::fixture("qwen3_moe").string() + " --corpus " +
                                   (dir / "ids.jsonl").string() + " --ids-native -q --topk 2 -o " +
                                   (dir / "r.json").string() + " --expert-inputs");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json base = json::parse(test::read_file(dir / "r.json"));
  int errors = 0;
  for (const auto& [p, m] : test::mutations(base, 400, 11)) {
    ActScalesOptions o;
    o.min_max = true;
    for (int kind = 0; kind < 3; ++kind) {
      try {
        if (kind == 0) imatrix_gguf(imatrix_from_report(m, "m.json"));
        if (kind == 1) act_scales_torch(act_scales_from_report(m, "m.json", o));
        if (kind == 2) imatrix_dat(imatrix_from_report(m, "m.json"));
      } catch (const Error& e) {
        ++errors;
        EXPECT_EQ(std::string(e.what()).rfind("m.json: ", 0), 0u) << e.what();
      } catch (const std::exception& e) {
        ADD_FAILURE() << p << ": " << e.what();
      }
    }
  }
  EXPECT_GT(errors, 0);
}

}  // namespace
}  // namespace maxact
