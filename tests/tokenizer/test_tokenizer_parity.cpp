// Token ids identical to Hugging Face's own tokenizers (npm `tokenizers`, the Rust library) on
// real tokenizer.json files and a 600+ KB multi-domain corpus, with and without special tokens;
// decode identical too. Data prepared by tests/tokenizer/setup_reference.py (CTest fixture).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "maxact/tokenizer.h"

namespace maxact {
namespace {

using nlohmann::json;

json manifest() {
  std::ifstream in(std::string(MAXACT_TOKREF_DIR) + "/manifest.json");
  if (!in) throw std::runtime_error("no tokenizer reference data: run the tokenizer.setup test");
  return json::parse(in);
}

std::vector<json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<json> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

std::string show(const std::vector<int32_t>& ids, std::size_t at) {
  std::ostringstream s;
  const std::size_t b = at > 5 ? at - 5 : 0;
  for (std::size_t i = b; i < ids.size() && i < at + 6; ++i)
    s << (i == at ? "[" : "") << ids[i] << (i == at ? "] " : " ");
  return s.str();
}

std::size_t first_difference(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  std::size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

// Every document of `corpus_key` encoded with and without special tokens and decoded, against
// the reference of tokenizer `name` in manifest section `section`.
void check_parity(const std::string& section, const std::string& name,
                  const std::string& corpus_key) {
  const json m = manifest();
  ASSERT_TRUE(m[section].contains(name)) << name << " missing from the reference data";
  const json& t = m[section][name];
  Tokenizer::Options o;
  o.use_tokenizer_config = false;  // the reference is tokenizer.json through `tokenizers`
  const Tokenizer tok = Tokenizer::load(t["dir"].get<std::string>(), o);
  const auto corpus = read_jsonl(m[corpus_key].get<std::string>());
  const auto ref = read_jsonl(t["reference"].get<std::string>());
  const std::string& GetParamName = name;
  ASSERT_EQ(corpus.size(), ref.size());
  std::vector<std::string> texts;
  for (const auto& d : corpus) texts.push_back(d["text"].get<std::string>());
  const auto plain = tok.encode_batch(texts, false);
  const auto special = tok.encode_batch(texts, true);
  std::size_t tokens = 0, docs_ok = 0, reported = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto want_plain = ref[i][0].get<std::vector<int32_t>>();
    const auto want_special = ref[i][1].get<std::vector<int32_t>>();
    tokens += want_plain.size();
    bool ok = true;
    for (auto [got, want, what] : {std::tuple{&plain[i], &want_plain, "plain"},
                                   std::tuple{&special[i], &want_special, "special"}}) {
      if (*got == *want) continue;
      ok = false;
      if (reported++ < 5) {
        const std::size_t at = first_difference(*got, *want);
        ADD_FAILURE() << GetParamName << " doc " << i << " (" << corpus[i]["category"] << ", "
                      << what << "): first difference at token " << at
                      << "\n  maxact: " << show(*got, at) << "\n  hf:     " << show(*want, at)
                      << "\n  text: " << texts[i].substr(0, 200);
      }
    }
    const std::string decoded = tok.decode(want_plain, false);
    if (decoded != ref[i][2].get<std::string>()) {
      ok = false;
      if (reported++ < 5) {
        ADD_FAILURE() << GetParamName << " doc " << i
                      << " decode differs\n  maxact: " << decoded.substr(0, 200)
                      << "\n  hf:     " << ref[i][2].get<std::string>().substr(0, 200);
      }
    }
    docs_ok += ok;
  }
  EXPECT_EQ(docs_ok, texts.size()) << GetParamName << ": " << docs_ok << " of " << texts.size()
                                   << " documents identical (" << tokens << " reference tokens)";
}

class Parity : public ::testing::TestWithParam<std::string> {};

TEST_P(Parity, IdsAndDecodeMatchHuggingFace) {
  check_parity("tokenizers", GetParam(), "corpus");
}

// The model zoo's tokenizer, trained by the project's own script, on the whole built-in corpus
// (the text it was trained on and the held-out tenth).
TEST(ZooTokenizer, IdsAndDecodeMatchHuggingFaceOnTheBuiltInCorpus) {
  check_parity("tokenizers", "zoo", "corpus_builtin");
}

// Hand-built variants of real models covering the components the real files do not use.
class SyntheticParity : public ::testing::TestWithParam<std::string> {};

TEST_P(SyntheticParity, IdsAndDecodeMatchHuggingFace) {
  check_parity("synthetic", GetParam(), "corpus_small");
}

INSTANTIATE_TEST_SUITE_P(
    Components, SyntheticParity,
    ::testing::Values("split_removed", "split_isolated", "split_mergedwithprevious",
                      "split_mergedwithnext", "split_contiguous", "split_invert", "split_string",
                      "bytelevel_gpt2", "digits_punct_ws", "digits_contiguous_whitespace",
                      "nfkc_lower_strip", "nfd_replace_prepend", "nfkd", "added_tokens", "roberta",
                      "bert", "template_sequence", "metaspace_always", "metaspace_always_nosplit",
                      "metaspace_first", "metaspace_first_nosplit", "metaspace_never",
                      "metaspace_never_nosplit", "unk_fuse_true", "unk_fuse_false", "strip_decoder",
                      "split_empty_matches", "duplicate_added", "strip_then_metaspace_first"),
    [](const auto& param_info) { return param_info.param; });

INSTANTIATE_TEST_SUITE_P(RealTokenizers, Parity,
                         ::testing::Values("mistral_v1", "mistral_nemo", "llama3", "llama3_1",
                                           "llama3_2", "qwen2_5", "qwen3", "gemma", "gemma2",
                                           "gemma3", "gpt_oss", "deepseek_v3"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace maxact
