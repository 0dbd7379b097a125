// Corpus -> token sequences: BOS policies, truncation, the study's length buckets, and samples
// stored as another tokenizer's ids.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "maxact/sequences.h"
#include "test_util.h"

namespace maxact {
namespace {

// Byte-level BPE over a, b, space with a <bos> template; ids: a=0 b=1 Ġ=2 ab=3 <bos>=4.
Tokenizer tiny(const test::TempDir& d) {
  const nlohmann::json j = {
      {"added_tokens",
       {{{"id", 4}, {"content", "<bos>"}, {"special", true}, {"normalized", false}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "<bos>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"special_tokens", {{"<bos>", {{"id", "<bos>"}, {"ids", {4}}, {"tokens", {"<bos>"}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"},
        {"vocab", {{"a", 0}, {"b", 1}, {"\xc4\xa0", 2}, {"ab", 3}}},
        {"merges", {"a b"}}}}};
  test::write_file(d / "tokenizer.json", j.dump());
  return Tokenizer::load(d.path());
}

Corpus texts(std::vector<std::string> t) {
  Corpus c;
  c.origin = "test";
  for (auto& s : t) c.samples.push_back({s, {}, false, "cat", "", "", "", ""});
  return c;
}

TEST(Sequences, BosPolicies) {
  test::TempDir d;
  const Tokenizer tok = tiny(d);
  const Corpus c = texts({"ab ab", "<bos>ab"});
  SequenceOptions o;
  o.bos = BosPolicy::kAuto;  // the template adds <bos>
  auto s = prepare_sequences(c, {0, 1}, tok, nullptr, o);
  EXPECT_EQ(s[0].ids, (std::vector<int32_t>{4, 3, 2, 3}));
  o.bos = BosPolicy::kNever;
  s = prepare_sequences(c, {0, 1}, tok, nullptr, o);
  EXPECT_EQ(s[0].ids, (std::vector<int32_t>{3, 2, 3}));
  EXPECT_EQ(s[1].ids, (std::vector<int32_t>{4, 3}));  // text that holds <bos> keeps it
  o.bos = BosPolicy::kAlways;                         // exactly one BOS first
  s = prepare_sequences(c, {0, 1}, tok, nullptr, o);
  EXPECT_EQ(s[0].ids, (std::vector<int32_t>{4, 3, 2, 3}));
  EXPECT_EQ(s[1].ids, (std::vector<int32_t>{4, 3}));
  EXPECT_EQ(s[1].sample, 1u);
  EXPECT_EQ(s[1].category, "cat");
}

TEST(Sequences, TruncationAndStudyBuckets) {
  test::TempDir d;
  const Tokenizer tok = tiny(d);
  std::vector<std::string> docs;
  for (int i = 0; i < 400; ++i) docs.push_back(std::string(5000, 'a'));  // 5000 tokens each
  const Corpus c = texts(docs);
  std::vector<std::size_t> all(400);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  SequenceOptions o;
  o.bos = BosPolicy::kNever;
  o.max_seq_len = 100;
  for (const auto& s : prepare_sequences(c, all, tok, nullptr, o)) EXPECT_EQ(s.ids.size(), 100u);
  o = study_protocol_options();
  o.seed = 9;
  const auto s1 = prepare_sequences(c, all, tok, nullptr, o);
  std::map<std::size_t, int> lengths;
  for (const auto& s : s1) ++lengths[s.ids.size()];
  const std::set<std::size_t> allowed = {256, 512, 1024, 2048, 4096};
  for (const auto& [len, n] : lengths) EXPECT_TRUE(allowed.count(len)) << len;
  EXPECT_GT(lengths[4096], 330);  // 93 % of 400 = 372, binomial spread well inside
  // A sample keeps its bucket whatever else is selected.
  const auto alone = prepare_sequences(c, {17}, tok, nullptr, o);
  EXPECT_EQ(alone[0].ids.size(), s1[17].ids.size());
}

TEST(Sequences, IdSamplesNeedTheirSourceTokenizer) {
  test::TempDir d;
  const Tokenizer tok = tiny(d);
  Corpus c;
  c.origin = "ids.jsonl";
  c.samples.push_back({"", {3, 2, 3}, true, "", "", "", "", ""});
  SequenceOptions o;
  o.bos = BosPolicy::kNever;
  test::expect_error([&] { prepare_sequences(c, {0}, tok, nullptr, o); }, ErrorCode::kCorpus,
                     {"ids.jsonl", "--source-tokenizer"});
  const auto s = prepare_sequences(c, {0}, tok, &tok, o);  // decode "ab ab", encode again
  EXPECT_EQ(s[0].ids, (std::vector<int32_t>{3, 2, 3}));
}

}  // namespace
}  // namespace maxact
