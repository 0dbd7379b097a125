// Fuzz target: tokenizer.json (the bytes before the first NUL) loaded, then the bytes after it
// encoded (with and without special tokens) and the ids decoded again.
#include <cstring>

#include "fuzz_input.h"
#include "maxact/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace maxact;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = in.find('\0');
  const std::string_view json = in.substr(0, nul);
  std::string text(nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1));
  repair_utf8(text);  // as every caller does before encoding
  const auto path = fuzz::write("tokenizer.json", json);
  fuzz::expect_clean([&] {
    Tokenizer::Options o;
    o.use_tokenizer_config = false;
    const Tokenizer tok = Tokenizer::load(path, o);
    for (bool special : {false, true}) {
      const auto ids = tok.encode(text, special);
      (void)tok.decode(ids, false);
    }
  });
  return 0;
}
