// Tokenizer behaviour that needs no downloaded files: a hand-built byte-level tokenizer with
// results worked out by hand, UTF-8 repair, and every malformed / unsupported input class.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "maxact/tokenizer.h"
#include "test_util.h"
#include "tokenizer/regex.h"

namespace maxact {
namespace {

using nlohmann::json;
using test::expect_error;
using test::TempDir;

// Byte-level BPE over the alphabet {a, b, c, Ġ(space)} with merges a+b, ab+c, Ġ+ab.
json tiny_tokenizer() {
  json vocab = {{"a", 0},
                {"b", 1},
                {"c", 2},
                {"\xc4\xa0", 3},
                {"ab", 4},
                {"abc", 5},
                {"\xc4\xa0"
                 "ab",
                 6}};
  return {
      {"version", "1.0"},
      {"added_tokens",
       {{{"id", 7},
         {"content", "<eos>"},
         {"special", true},
         {"normalized", false},
         {"lstrip", false},
         {"rstrip", false},
         {"single_word", false}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
          {{"SpecialToken", {{"id", "<eos>"}, {"type_id", 0}}}}}},
        {"special_tokens", {{"<eos>", {{"id", "<eos>"}, {"ids", {7}}, {"tokens", {"<eos>"}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"},
        {"vocab", vocab},
        {"merges", {"a b", "ab c", "\xc4\xa0 ab"}},
        {"unk_token", nullptr}}}};
}

class Offline : public ::testing::Test {
 protected:
  Tokenizer load(const json& j) {
    test::write_file(dir / "tokenizer.json", j.dump());
    return Tokenizer::load(dir.path());
  }
  void expect_fail(const json& j, ErrorCode code, std::vector<std::string> parts) {
    test::write_file(dir / "tokenizer.json", j.dump());
    parts.push_back("tokenizer.json");
    expect_error([&] { Tokenizer::load(dir.path()); }, code, parts);
  }
  TempDir dir;
};

TEST_F(Offline, HandWorkedEncoding) {
  const Tokenizer t = load(tiny_tokenizer());
  // "abc ab": regex pieces "abc", " ab" -> byte-level "abc", "Ġab"; merges give abc, Ġab.
  EXPECT_EQ(t.encode("abc ab"), (std::vector<int32_t>{5, 6}));
  // "ba": no merge applies -> b, a.
  EXPECT_EQ(t.encode("ba"), (std::vector<int32_t>{1, 0}));
  // "abab": one regex piece; a+b merges twice (leftmost first), ab+ab has no merge.
  EXPECT_EQ(t.encode("abab"), (std::vector<int32_t>{4, 4}));
  // Characters outside the vocabulary, with no unk and no byte fallback, are dropped.
  EXPECT_EQ(t.encode("xab"), (std::vector<int32_t>{4}));
  // The template appends <eos>; the added token is matched inside text too.
  EXPECT_EQ(t.encode("ab", true), (std::vector<int32_t>{4, 7}));
  EXPECT_EQ(t.encode("ab<eos>c"), (std::vector<int32_t>{4, 7, 2}));
  EXPECT_EQ(t.decode({5, 6, 7}), "abc ab<eos>");
  EXPECT_EQ(t.decode({5, 6, 7}, true), "abc ab");
  EXPECT_EQ(t.vocab_size(), 8);
  EXPECT_TRUE(t.is_special(7));
  EXPECT_FALSE(t.is_special(4));
  EXPECT_EQ(t.token_to_id("abc"), 5);
  EXPECT_EQ(t.id_to_token(6),
            "\xc4\xa0"
            "ab");
  EXPECT_TRUE(t.encode("").empty());
}

TEST(Utf8Repair, MaximalSubpartsBecomeOneReplacementEach) {
  const std::string fffd = "\xEF\xBF\xBD";
  const std::vector<std::tuple<std::string, std::string, std::size_t>> cases = {
      {"plain ascii", "plain ascii", 0},
      {"caf\xC3\xA9", "caf\xC3\xA9", 0},
      {"a\xFF"
       "b",
       "a" + fffd + "b", 1},
      {"a\xE2\x82", "a" + fffd, 2},                        // truncated 3-byte sequence: one U+FFFD
      {"\xC0\xAF", fffd + fffd, 2},                        // overlong: never valid lead byte
      {"\xED\xA0\x80", fffd + fffd + fffd, 3},             // surrogate
      {"\xF4\x90\x80\x80", fffd + fffd + fffd + fffd, 4},  // beyond U+10FFFF
      {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80", 0},         // valid 4-byte emoji
  };
  for (const auto& [in, want, bytes] : cases) {
    std::string s = in;
    EXPECT_EQ(repair_utf8(s), bytes) << in;
    EXPECT_EQ(s, want) << in;
  }
}

TEST_F(Offline, MalformedFilesNameTheProblem) {
  test::write_file(dir / "tokenizer.json", "{\"model\": ");
  expect_error([&] { Tokenizer::load(dir.path()); }, ErrorCode::kTokenizer,
               {"tokenizer.json", "malformed JSON"});
  expect_error([&] { Tokenizer::load(dir / "nope"); }, ErrorCode::kNotFound, {"no tokenizer.json"});

  json j = tiny_tokenizer();
  j["model"]["merges"] = {"a b c"};
  expect_fail(j, ErrorCode::kTokenizer, {"model.merges", "two tokens separated by one space"});
  j = tiny_tokenizer();
  j["model"]["merges"] = {"a z"};
  expect_fail(j, ErrorCode::kTokenizer, {"'a z'", "not in the vocabulary"});
  j = tiny_tokenizer();
  j["model"]["merges"] = json::array({json::array({"b", "a"})});  // pair form; "ba" is no token
  expect_fail(j, ErrorCode::kTokenizer, {"merge result 'ba'"});
  j = tiny_tokenizer();
  j["model"]["unk_token"] = "<unk>";
  expect_fail(j, ErrorCode::kTokenizer, {"unk_token '<unk>'"});
  j = tiny_tokenizer();
  j["model"]["vocab"]["q"] = "seven";
  expect_fail(j, ErrorCode::kTokenizer, {"model.vocab", "'q'"});
  j = tiny_tokenizer();
  j["post_processor"]["single"][1]["SpecialToken"]["id"] = "<bos>";
  expect_fail(j, ErrorCode::kTokenizer, {"post_processor", "'<bos>' not in special_tokens"});
}

TEST_F(Offline, UnsupportedComponentsAreNamed) {
  json j = tiny_tokenizer();
  j["model"]["type"] = "WordPiece";
  expect_fail(j, ErrorCode::kUnsupported, {"model", "model type 'WordPiece'"});
  j = tiny_tokenizer();
  j["normalizer"] = {{"type", "Sequence"},
                     {"normalizers", {{{"type", "NFC"}}, {{"type", "Precompiled"}}}}};
  expect_fail(j, ErrorCode::kUnsupported, {"normalizer.normalizers[1]", "'Precompiled'"});
  j = tiny_tokenizer();
  j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  expect_fail(j, ErrorCode::kUnsupported, {"pre_tokenizer", "'BertPreTokenizer'"});
  j = tiny_tokenizer();
  j["decoder"] = {{"type", "CTC"}};
  expect_fail(j, ErrorCode::kUnsupported, {"decoder", "'CTC'"});
  j = tiny_tokenizer();
  j["post_processor"] = {{"type", "Unknown"}};
  expect_fail(j, ErrorCode::kUnsupported, {"post_processor", "'Unknown'"});
  j = tiny_tokenizer();
  j["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  expect_fail(j, ErrorCode::kUnsupported, {"pre_tokenizer", "does not compile"});
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "a"}}}, {"behavior", "Sideways"}};
  expect_fail(j, ErrorCode::kUnsupported, {"unknown split behavior 'Sideways'"});
}

TEST_F(Offline, AddedTokenIdsFollowTokenizersAssignment) {
  // Content already in the vocabulary keeps the vocabulary id; new content gets the next id
  // after the model vocabulary, whatever id tokenizer.json wrote.
  json j = tiny_tokenizer();
  j["added_tokens"].push_back(
      {{"id", 99}, {"content", "abc"}, {"special", false}, {"normalized", false}});
  j["added_tokens"].push_back(
      {{"id", 42}, {"content", "<pad>"}, {"special", true}, {"normalized", false}});
  const Tokenizer t = load(j);
  EXPECT_EQ(t.token_to_id("abc"), 5);
  EXPECT_EQ(t.token_to_id("<eos>"), 7);
  EXPECT_EQ(t.token_to_id("<pad>"), 8);
}

}  // namespace
}  // namespace maxact

namespace maxact {
namespace {

std::vector<std::pair<std::size_t, std::size_t>> matches(const std::string& re,
                                                         const std::string& s) {
  std::vector<std::pair<std::size_t, std::size_t>> m;
  Regex(re, "test").find_all(s, m);
  return m;
}

TEST(Regex, EmptyMatchesFollowOniguruma) {
  using M = std::vector<std::pair<std::size_t, std::size_t>>;
  // The onig crate's own examples: an empty match right where the last match ended is skipped.
  EXPECT_EQ(matches(R"(\d*)", "a1b2"), (M{{0, 0}, {1, 2}, {3, 4}}));
  EXPECT_EQ(matches(" *", "a  b"), (M{{0, 0}, {1, 3}, {4, 4}}));
  EXPECT_EQ(matches("x*", ""), (M{{0, 0}}));
  // Multi-byte characters are stepped over whole.
  EXPECT_EQ(matches("z*", "é"), (M{{0, 0}, {2, 2}}));
  // Ruby-syntax line anchors: $ matches before every newline.
  EXPECT_EQ(matches("a$", "a\na"), (M{{0, 1}, {2, 3}}));
  expect_error([] { Regex("(?m).", "test"); }, ErrorCode::kUnsupported, {"Ruby-only syntax"});
  expect_error([] { Regex(R"(\h+)", "test"); }, ErrorCode::kUnsupported, {"Ruby-only syntax"});
  EXPECT_EQ(matches(R"(\\h)", "a\\hb"), (M{{1, 3}}));  // an escaped backslash then h is fine
}

TEST(Regex, UnicodePropertiesCoverNewerCharacters) {
  // U+1FABF (goose, Unicode 15) is So: PCRE2 10.42's tables predate it.
  using M = std::vector<std::pair<std::size_t, std::size_t>>;
  EXPECT_EQ(matches(R"(\p{S}+)", "x\xF0\x9F\xAA\xBFy"), (M{{1, 5}}));
  EXPECT_EQ(matches(R"([^\s\p{L}\p{N}]+)", "x\xF0\x9F\xAA\xBFy"), (M{{1, 5}}));
}

}  // namespace
}  // namespace maxact
