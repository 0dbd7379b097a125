// Tokenizer throughput: encodes every document of a JSONL corpus ({"text": ...}) and prints one
// JSON line with bytes, tokens, seconds (best of --repeat runs) for the given thread count.
//   tokenize_bench TOKENIZER_DIR CORPUS.jsonl THREADS [REPEAT]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "maxact/tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: tokenize_bench TOKENIZER_DIR CORPUS.jsonl THREADS [REPEAT]\n");
    return 2;
  }
  const int threads = std::stoi(argv[3]);
  const int repeat = argc > 4 ? std::stoi(argv[4]) : 3;
  const auto t_load = std::chrono::steady_clock::now();
  const maxact::Tokenizer tok = maxact::Tokenizer::load(argv[1]);
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
  std::ifstream in(argv[2]);
  std::vector<std::string> texts;
  std::size_t bytes = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    texts.push_back(nlohmann::json::parse(line)["text"].get<std::string>());
    bytes += texts.back().size();
  }
  double best = 1e30;
  std::size_t tokens = 0;
  for (int r = 0; r < repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = tok.encode_batch(texts, false, threads);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
    tokens = 0;
    for (const auto& v : ids) tokens += v.size();
  }
  std::printf(
      "{\"impl\": \"maxact\", \"threads\": %d, \"bytes\": %zu, \"tokens\": %zu, "
      "\"seconds\": %.6f, \"load_seconds\": %.3f}\n",
      threads, bytes, tokens, best, load_s);
  return 0;
}
