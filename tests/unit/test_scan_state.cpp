// The scan state file: what is written is read back whole (every statistic equal, the bytes
// stable), and a file that is not a complete state of this version is an Error naming it, never
// a crash: every truncation with a valid checksum, every header field, foreign bytes.
#include <gtest/gtest.h>

#include <string>

#include <zlib.h>

#include "maxact/model.h"
#include "maxact/quant_check.h"
#include "maxact/scan_state.h"
#include "test_util.h"

namespace maxact {
namespace {

constexpr std::size_t kHeader = 16 + 4 + 4 + 8 + 4 + 4;

// A finished scan's state of a small MoE model with experts' inputs, categories and a
// quantization check.
ScanState moe_state() {
  const Model m = Model::open_dir(test::fixture("qwen3_moe"));
  ScanOptions o;
  o.threads = 2;
  o.expert_inputs = true;
  o.taps = {"model.layers.0.*", "model.norm"};
  QuantOptions q;
  QuantResult qr;
  ScanState s;
  s.result.scan = quant_check(m, test::random_sequences(3, 30, 256, 5),
                              test::random_sequences(5, 40, 256, 6), o, q, qr);
  s.result.quant = QuantRun{qr, {"hash", {1, 2}, {3}}};
  s.result.meta.model_arg = "qwen3_moe";
  s.result.meta.corpus.sequences = 10;  // as shard 1/2 of 10 sequences would hold 5
  s.result.meta.options.quant = RecordedQuantOptions{};
  s.identity = {{"model", "qwen3_moe"}};
  s.shard = {1, 2};
  s.has_tokenizer = true;
  s.token_texts = {{5, "five"}, {7, "\xff"}};
  s.token_contexts[{0, 3}] = TokenContext{"a", "b", "c"};
  return s;
}

uint32_t crc(std::string_view s) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

// The file with `payload` in place of the original's, its length and checksums made to match.
std::string with_payload(const std::string& file, const std::string& payload) {
  std::string out = file.substr(0, kHeader) + payload;
  const uint64_t n = payload.size();
  out.replace(24, 8, reinterpret_cast<const char*>(&n), 8);
  const uint32_t p = crc(payload);
  out.replace(32, 4, reinterpret_cast<const char*>(&p), 4);
  const uint32_t h = crc(std::string_view(out).substr(0, 36));
  out.replace(36, 4, reinterpret_cast<const char*>(&h), 4);
  return out;
}

TEST(ScanState, ReadsBackWhatItWrote) {
  const ScanState s = moe_state();
  const std::string bytes = encode_state(s);
  const ScanState r = decode_state(bytes, "x.state");
  EXPECT_EQ(r.identity, s.identity);
  EXPECT_EQ(r.shard, s.shard);
  EXPECT_EQ(r.token_texts, s.token_texts);
  ASSERT_EQ(r.token_contexts.size(), 1u);
  EXPECT_EQ(r.token_contexts.begin()->second.after, "c");
  const ScanResult &a = s.result.scan, &b = r.result.scan;
  ASSERT_EQ(a.stats.size(), b.stats.size());
  for (std::size_t i = 0; i < a.stats.size(); ++i) {
    EXPECT_TRUE(a.stats[i] == b.stats[i]) << a.taps[i].name;
    EXPECT_EQ(a.taps[i].feeds, b.taps[i].feeds);
  }
  EXPECT_TRUE(a.by_category == b.by_category);
  EXPECT_TRUE(a.expert_inputs == b.expert_inputs);
  EXPECT_EQ(a.expert_load, b.expert_load);
  ASSERT_TRUE(r.result.quant);
  const QuantResult &qa = s.result.quant->result, &qb = r.result.quant->result;
  ASSERT_EQ(qa.taps.size(), qb.taps.size());
  for (std::size_t i = 0; i < qa.taps.size(); ++i) {
    EXPECT_TRUE(qa.taps[i].policies == qb.taps[i].policies);
    EXPECT_EQ(qa.taps[i].calibration.channel_absmax, qb.taps[i].calibration.channel_absmax);
  }
  // Stable: what was read writes the same bytes again (top-K heaps rebuilt once).
  const std::string again = encode_state(r);
  EXPECT_EQ(encode_state(decode_state(again, "y.state")), again);
}

TEST(ScanState, EveryTruncationIsAnErrorNamingTheFile) {
  const std::string file = encode_state(moe_state());
  const std::string payload = file.substr(kHeader);
  ASSERT_GT(payload.size(), 4000u);
  // Every cut in the first 4 kB (identity, taps, options) and 1500 more across the rest.
  std::vector<std::size_t> cuts;
  for (std::size_t n = 0; n < 4000; ++n) cuts.push_back(n);
  for (std::size_t k = 0; k < 1500; ++k) cuts.push_back(4000 + k * (payload.size() - 4000) / 1500);
  for (std::size_t n : cuts) {
    test::expect_error([&] { decode_state(with_payload(file, payload.substr(0, n)), "cut.state"); },
                       ErrorCode::kState, {"cut.state"});
  }
}

TEST(ScanState, HeaderProblemsAreNamed) {
  const std::string file = encode_state(moe_state());
  test::expect_error([&] { decode_state("{\"schema\": 1}", "r.json"); }, ErrorCode::kState,
                     {"r.json", "not a maxact scan state"});
  std::string v = file;
  v[16] = 9;
  test::expect_error([&] { decode_state(v, "v.state"); }, ErrorCode::kState,
                     {"v.state", "format version 9", "reads version 1"});
  std::string c = file;
  c[kHeader + 100] ^= 1;
  test::expect_error([&] { decode_state(c, "c.state"); }, ErrorCode::kState,
                     {"c.state", "corrupted (checksum mismatch)"});
  std::string h = file;
  h[26] ^= 1;  // the payload length
  test::expect_error([&] { decode_state(h, "h.state"); }, ErrorCode::kState,
                     {"h.state", "header checksum mismatch"});
  test::expect_error([&] { decode_state(file + "x", "l.state"); }, ErrorCode::kState,
                     {"l.state", "1 bytes after"});
  test::expect_error([&] { decode_state(file.substr(0, 40), "h.state"); }, ErrorCode::kState,
                     {"h.state", "truncated"});
}

TEST(ScanState, BrokenInvariantsWithAValidChecksumAreRefused) {
  const ScanState s = moe_state();
  // Lengths that disagree: the first tap claims more channels than its statistics hold.
  ScanState t = s;
  t.result.scan.taps[0].channels += 1;
  test::expect_error([&] { decode_state(encode_state(t), "t.state"); }, ErrorCode::kState,
                     {"t.state", "channels"});
  ScanState c = s;
  c.result.scan.by_category[0].pop_back();
  test::expect_error([&] { decode_state(encode_state(c), "c.state"); }, ErrorCode::kState,
                     {"c.state", "category"});
  ScanState h = s;
  h.shard = {3, 3};
  test::expect_error([&] { decode_state(encode_state(h), "h.state"); }, ErrorCode::kState,
                     {"h.state", "shard index"});
}

TEST(ScanState, MergeNeedsEveryShardOnce) {
  ScanState a = moe_state(), b = moe_state();
  a.shard = {0, 2};
  b.shard = {0, 2};
  test::expect_error(
      [&] {
        merge_states({a, b}, {"a.state", "b.state"});
      },
      ErrorCode::kState, {"a.state", "b.state"});
  b.identity["model"] = "other";
  b.shard = {1, 2};
  test::expect_error(
      [&] {
        merge_states({a, b}, {"a.state", "b.state"});
      },
      ErrorCode::kState, {"not parts of one scan", "model", "other"});
}

}  // namespace
}  // namespace maxact
