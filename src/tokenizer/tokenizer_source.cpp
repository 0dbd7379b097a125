#include <filesystem>

#include "maxact/hub.h"
#include "maxact/tokenizer.h"

namespace maxact {

Tokenizer open_tokenizer(const std::string& source, bool use_tokenizer_config) {
  std::error_code ec;
  std::filesystem::path p = source;
  if (!std::filesystem::exists(p, ec)) p = resolve_model(source).dir;
  Tokenizer::Options o;
  o.use_tokenizer_config = use_tokenizer_config;
  return Tokenizer::load(p, o);
}

}  // namespace maxact
