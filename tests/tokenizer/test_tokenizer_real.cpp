// Real tokenizer.json files beyond the corpus parity: llama.cpp's tokenizer vectors, the
// transformers-style tokenizer_config.json handling, batch determinism, round trips.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "maxact/sequences.h"
#include "maxact/tokenizer.h"

namespace maxact {
namespace {

using nlohmann::json;

std::string tokenizer_dir(const std::string& name) {
  std::ifstream in(std::string(MAXACT_TOKREF_DIR) + "/manifest.json");
  if (!in) throw std::runtime_error("no tokenizer reference data: run the tokenizer.setup test");
  return json::parse(in)["tokenizers"][name]["dir"].get<std::string>();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// llama.cpp's vectors: inputs separated by "\n__ggml_vocab_test__\n", one line of ids each,
// encoded without special tokens.
void check_vectors(const std::string& vocab, const std::string& tokenizer) {
  const std::string base =
      std::string(MAXACT_TEST_ASSETS) + "/tokenizer-vectors/ggml-vocab-" + vocab;
  const std::string inp = slurp(base + ".gguf.inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (std::size_t pos = 0;;) {
    const std::size_t next = inp.find(sep, pos);
    if (next == std::string::npos) break;
    texts.push_back(inp.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::istringstream out(slurp(base + ".gguf.out"));
  Tokenizer::Options o;
  o.use_tokenizer_config = false;
  const Tokenizer tok = Tokenizer::load(tokenizer_dir(tokenizer), o);
  std::string line;
  std::size_t i = 0;
  for (; std::getline(out, line) && i < texts.size(); ++i) {
    std::istringstream ls(line);
    std::vector<int32_t> want;
    for (int32_t id; ls >> id;) want.push_back(id);
    EXPECT_EQ(tok.encode(texts[i]), want) << vocab << " vector " << i << ": '" << texts[i] << "'";
  }
  EXPECT_EQ(i, texts.size());
  EXPECT_GE(texts.size(), 40u);
}

TEST(LlamaCppVectors, Llama3) {
  check_vectors("llama-bpe", "llama3");
}
TEST(LlamaCppVectors, Qwen2) {
  check_vectors("qwen2", "qwen2_5");
}

TEST(TokenizerConfig, LlamaFastClassAddsBosFromConfig) {
  // DeepSeek-V3's tokenizer.json has no BOS template, but its tokenizer_config.json names
  // LlamaTokenizerFast with add_bos_token: transformers prepends <｜begin▁of▁sentence｜>.
  const std::string dir = tokenizer_dir("deepseek_v3");
  Tokenizer::Options raw;
  raw.use_tokenizer_config = false;
  const Tokenizer plain = Tokenizer::load(dir, raw);
  const Tokenizer hf = Tokenizer::load(dir);
  const auto a = plain.encode("Hello", true);
  const auto b = hf.encode("Hello", true);
  ASSERT_EQ(b.size(), a.size() + 1);
  EXPECT_EQ(b[0], hf.token_to_id("<｜begin▁of▁sentence｜>").value());
  EXPECT_EQ(std::vector<int32_t>(b.begin() + 1, b.end()), a);
  EXPECT_EQ(hf.bos_id(), b[0]);
  // Gemma: the config restates what the template already does.
  const Tokenizer g = Tokenizer::load(tokenizer_dir("gemma3"));
  EXPECT_EQ(g.encode("Hi", true).front(), g.token_to_id("<bos>").value());
  // Qwen: no BOS at all.
  const Tokenizer q = Tokenizer::load(tokenizer_dir("qwen3"));
  EXPECT_EQ(q.encode("Hi", true), q.encode("Hi", false));
}

TEST(TokenizerReal, BatchIsDeterministicAcrossThreads) {
  const Tokenizer tok = Tokenizer::load(tokenizer_dir("gemma3"));
  std::vector<std::string> docs;
  for (int i = 0; i < 64; ++i) {
    docs.push_back("Document " + std::to_string(i) + ": " +
                   std::string(static_cast<std::size_t>(i), 'x') +
                   " naïve 日本語 <start_of_turn>user\n");
  }
  const auto one = tok.encode_batch(docs, true, 1);
  const auto two = tok.encode_batch(docs, true, 2);
  const auto eight = tok.encode_batch(docs, true, 8);
  EXPECT_EQ(one, two);
  EXPECT_EQ(one, eight);
  for (std::size_t i = 0; i < docs.size(); ++i) EXPECT_EQ(one[i], tok.encode(docs[i], true));
}

TEST(TokenizerReal, SpecialTokensAsText) {
  const Tokenizer tok = Tokenizer::load(tokenizer_dir("qwen3"));
  const int32_t im_start = tok.token_to_id("<|im_start|>").value();
  const auto matched = tok.encode("<|im_start|>user");
  const auto literal = tok.encode("<|im_start|>user", false, true);
  EXPECT_EQ(matched.front(), im_start);
  EXPECT_EQ(std::count(literal.begin(), literal.end(), im_start), 0);
  EXPECT_GT(literal.size(), matched.size());
  EXPECT_EQ(tok.decode(literal), "<|im_start|>user");
  EXPECT_TRUE(tok.is_special(im_start));
  EXPECT_EQ(tok.decode(matched, true), "user");
}

TEST(TokenizerReal, RoundTripThroughDecode) {
  // Re-tokenizing a corpus stored as another model's ids: decode, then encode.
  const Tokenizer llama = Tokenizer::load(tokenizer_dir("llama3"));
  const Tokenizer gemma = Tokenizer::load(tokenizer_dir("gemma3"));
  const Tokenizer mistral = Tokenizer::load(tokenizer_dir("mistral_v1"));
  const std::string text = "Grüße aus Köln! 你好 🤖 x² ≈ 1.5e-3\n\tdef f(): return 42";
  for (const Tokenizer* t : {&llama, &gemma, &mistral}) {
    EXPECT_EQ(t->decode(t->encode(text)), text) << t->source();
  }
  EXPECT_EQ(gemma.encode(llama.decode(llama.encode(text))), gemma.encode(text));
}

TEST(Retokenization, StudyProtocolBetweenTwoRealTokenizers) {
  // A corpus stored as Mistral-v1 (Llama-2-style) ids is decoded with that tokenizer and
  // encoded with Gemma 3's, without special tokens: the same ids as encoding the text directly.
  const Tokenizer mistral = Tokenizer::load(tokenizer_dir("mistral_v1"));
  const Tokenizer gemma = Tokenizer::load(tokenizer_dir("gemma3"));
  const std::vector<std::string> texts = {"The quick brown fox jumps over the lazy dog.",
                                          "Grüße aus Köln! 你好，世界。 x² ≈ 1.5e-3",
                                          "def f(x):\n    return {\"a\": [1, 2, 3]}  # comment",
                                          "Emoji 👩‍💻 and 🇯🇵 flags."};
  Corpus ids, text;
  ids.origin = text.origin = "test";
  for (const auto& t : texts) {
    ids.samples.push_back({"", mistral.encode(t), true, "c", "", "", "", ""});
    text.samples.push_back({t, {}, false, "c", "", "", "", ""});
  }
  SequenceOptions o;
  o.bos = BosPolicy::kNever;
  o.max_seq_len = 0;
  const auto a = prepare_sequences(ids, {0, 1, 2, 3}, gemma, &mistral, o);
  const auto b = prepare_sequences(text, {0, 1, 2, 3}, gemma, nullptr, o);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].ids, b[i].ids) << texts[i];
    EXPECT_EQ(a[i].ids, gemma.encode(texts[i])) << texts[i];
  }
}

}  // namespace
}  // namespace maxact
