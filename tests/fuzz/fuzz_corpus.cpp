// Fuzz target: a JSONL corpus file, read strictly and with --skip-bad.
#include "fuzz_input.h"
#include "maxact/corpus.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace maxact;
  const auto path =
      fuzz::write("corpus.jsonl", std::string_view(reinterpret_cast<const char*>(data), size));
  for (bool skip_bad : {false, true}) {
    fuzz::expect_clean([&] {
      CorpusReadOptions o;
      o.skip_bad = skip_bad;
      const Corpus c = read_corpus(path.string(), o, nullptr);
      (void)c.content_hash();
      (void)select_samples(c, 3, 1, true);
    });
  }
  return 0;
}
