// Fuzz target: config.json -> ModelSpec, and what inspect says about it.
#include "fuzz_input.h"
#include "maxact/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace maxact;
  const auto path =
      fuzz::write("config.json", std::string_view(reinterpret_cast<const char*>(data), size));
  fuzz::expect_clean([&] { (void)parse_model_config(path); });
  return 0;
}
