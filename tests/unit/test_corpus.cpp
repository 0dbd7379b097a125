// The built-in corpus, input formats, bad input, and deterministic category-proportional selection.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "corpus/sha256.h"
#include "maxact/corpus.h"
#include "test_util.h"

namespace maxact {
namespace {

using test::expect_error;
using test::TempDir;

std::size_t code_points(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

TEST(BuiltinCorpus, SizeDomainsAndProvenance) {
  const Corpus& c = builtin_corpus();
  EXPECT_GE(c.samples.size(), 500u);
  std::size_t chars = 0;
  std::map<std::string, std::size_t> cats;
  std::set<std::string> code_langs;
  const std::set<std::string> licences = {"MIT", "PSF-2.0", "Apache-2.0", "BSD-3-Clause",
                                          "project"};
  for (const Sample& s : c.samples) {
    chars += code_points(s.text);
    ++cats[s.category];
    EXPECT_FALSE(s.source.empty());
    EXPECT_TRUE(licences.count(s.license)) << s.license << " " << s.source;
    EXPECT_FALSE(s.text.empty());
    if (s.category == "code") code_langs.insert(s.lang);
  }
  EXPECT_GE(chars, 1'000'000u);
  for (const char* d : {"math", "code", "english_prose", "encyclopedic", "chinese", "other_scripts",
                        "chat", "structured", "stress"}) {
    EXPECT_GE(cats[d], 10u) << d;
  }
  for (const char* l : {"python", "c++", "javascript", "typescript", "code_rust", "code_go"}) {
    EXPECT_TRUE(code_langs.count(l)) << l;
  }
  std::set<std::string> scripts;
  for (const Sample& s : c.samples) {
    if (s.category == "other_scripts") scripts.insert(s.lang);
  }
  for (const char* needed :
       {"arb (Arabic)", "rus (Cyrillic)", "hin (Devanagari)", "tha (Thai)", "heb (Hebrew)",
        "ell_monotonic (Greek)", "jpn (Japanese)", "kor (Korean)"}) {
    EXPECT_TRUE(scripts.count(needed)) << needed;
  }
  EXPECT_EQ(c.content_hash(), builtin_corpus().content_hash());
  EXPECT_EQ(c.content_hash().size(), 64u);
}

TEST(Sha256, KnownVectors) {
  Sha256 a;
  a.update("abc");
  EXPECT_EQ(a.hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 e;
  EXPECT_EQ(e.hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 l;  // 56 bytes: the padding spills into a second block
  l.update("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
  EXPECT_EQ(l.hex(), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(CorpusRead, JsonlFieldsIdsAndCategories) {
  TempDir d;
  test::write_file(d / "c.jsonl",
                   "{\"body\": \"hello\", \"kind\": \"prose\"}\n"
                   "\n"
                   "{\"input_ids\": [1, 2, 3], \"kind\": \"ids\"}\r\n"
                   "{\"body\": \"\"}\n"
                   "{\"body\": \"caf\xC3\" , \"kind\": \"bad-utf8\"}\n");
  CorpusReadOptions o;
  o.text_field = "body";
  o.category_field = "kind";
  CorpusReadReport r;
  const Corpus c = read_corpus((d / "c.jsonl").string(), o, &r);
  ASSERT_EQ(c.samples.size(), 3u);
  EXPECT_EQ(c.samples[0].text, "hello");
  EXPECT_EQ(c.samples[0].category, "prose");
  EXPECT_TRUE(c.samples[1].has_ids);
  EXPECT_EQ(c.samples[1].ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(c.samples[2].text, "caf\xEF\xBF\xBD");
  EXPECT_EQ(r.empty_samples, 1u);
  EXPECT_EQ(r.invalid_utf8_bytes, 1u);
}

TEST(CorpusRead, BadLinesNameFileAndLine) {
  TempDir d;
  test::write_file(d / "c.jsonl",
                   "{\"text\": \"ok\"}\n{\"text\": 5}\n{oops\n[1]\n{\"other\": 1}\n");
  const std::string p = (d / "c.jsonl").string();
  expect_error([&] { read_corpus(p, {}, nullptr); }, ErrorCode::kCorpus,
               {"c.jsonl:2", "'text' must be a string", "--skip-bad"});
  CorpusReadOptions o;
  o.skip_bad = true;
  CorpusReadReport r;
  const Corpus c = read_corpus(p, o, &r);
  EXPECT_EQ(c.samples.size(), 1u);
  EXPECT_EQ(r.bad_lines, 4u);
  test::write_file(d / "e.jsonl", "{oops\n");
  expect_error([&] { read_corpus((d / "e.jsonl").string(), {}, nullptr); }, ErrorCode::kCorpus,
               {"e.jsonl:1", "malformed JSON"});
  test::write_file(d / "ids.jsonl", "{\"input_ids\": [1, -2]}\n");
  expect_error([&] { read_corpus((d / "ids.jsonl").string(), {}, nullptr); }, ErrorCode::kCorpus,
               {"ids.jsonl:1", "non-negative integers"});
  test::write_file(d / "empty.jsonl", "{\"text\": \"\"}\n");
  expect_error([&] { read_corpus((d / "empty.jsonl").string(), {}, nullptr); }, ErrorCode::kCorpus,
               {"no usable samples"});
  expect_error([&] { read_corpus((d / "missing").string(), {}, nullptr); }, ErrorCode::kNotFound,
               {"missing"});
}

TEST(CorpusRead, TextFilesAndFolders) {
  TempDir d;
  std::filesystem::create_directories(d / "docs");
  test::write_file(d / "docs" / "b.txt", "second");
  test::write_file(d / "docs" / "a.txt", "first\nwith two lines");
  test::write_file(d / "docs" / "c.jsonl", "{\"text\": \"third\"}\n");
  const Corpus c = read_corpus((d / "docs").string(), {}, nullptr);
  ASSERT_EQ(c.samples.size(), 3u);
  EXPECT_EQ(c.samples[0].text, "first\nwith two lines");
  EXPECT_EQ(c.samples[1].text, "second");
  EXPECT_EQ(c.samples[2].text, "third");
  EXPECT_EQ(read_corpus((d / "docs" / "b.txt").string(), {}, nullptr).samples.size(), 1u);
}

Corpus categories(std::map<std::string, int> sizes) {
  Corpus c;
  for (const auto& [cat, n] : sizes) {
    for (int i = 0; i < n; ++i)
      c.samples.push_back({cat + std::to_string(i), {}, false, cat, "", "", "", ""});
  }
  return c;
}

std::map<std::string, int> count(const Corpus& c, const std::vector<std::size_t>& idx) {
  std::map<std::string, int> m;
  for (std::size_t i : idx) ++m[c.samples[i].category];
  return m;
}

TEST(Selection, ProportionalCountsAreExact) {
  const Corpus c = categories({{"a", 50}, {"b", 30}, {"c", 20}});
  EXPECT_EQ(count(c, select_samples(c, 10, 1, true)),
            (std::map<std::string, int>{{"a", 5}, {"b", 3}, {"c", 2}}));
  // Shares 3.5 / 2.1 / 1.4: floors 3, 2, 1, the leftover one to the largest remainder (a).
  EXPECT_EQ(count(c, select_samples(c, 7, 1, true)),
            (std::map<std::string, int>{{"a", 4}, {"b", 2}, {"c", 1}}));
  // Shares 1.5 / 0.9 / 0.6: floors 1, 0, 0; the two leftovers go to b (0.9) and c (0.6).
  EXPECT_EQ(count(c, select_samples(c, 3, 1, true)),
            (std::map<std::string, int>{{"a", 1}, {"b", 1}, {"c", 1}}));
}

TEST(Selection, DeterministicSortedAndSeeded) {
  const Corpus c = categories({{"a", 40}, {"b", 25}});
  const auto s1 = select_samples(c, 20, 42, true);
  EXPECT_EQ(s1, select_samples(c, 20, 42, true));
  EXPECT_NE(s1, select_samples(c, 20, 43, true));
  EXPECT_TRUE(std::is_sorted(s1.begin(), s1.end()));
  EXPECT_EQ(std::set<std::size_t>(s1.begin(), s1.end()).size(), 20u);
  const auto u = select_samples(c, 20, 42, false);
  EXPECT_EQ(u.size(), 20u);
  EXPECT_EQ(select_samples(c, 0, 1, true).size(), 65u);
  EXPECT_EQ(select_samples(c, 1000, 1, true).size(), 65u);
  // Pinned values, computed independently (a Python splitmix64 + Fisher-Yates): the generator is
  // fully specified, so they hold on every platform and standard library.
  EXPECT_EQ(select_samples(c, 3, 7, false), (std::vector<std::size_t>{13, 32, 62}));
}

}  // namespace
}  // namespace maxact
