#include "cli_common.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "maxact/error.h"
#include "maxact/hub.h"

namespace maxact::cli {

std::string printable(std::string_view text, std::size_t max_line) {
  std::string out;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t nl = std::min(text.find('\n', pos), text.size());
    out += quote_untrusted(text.substr(pos, nl - pos), max_line, false);
    if (nl < text.size()) out += '\n';
    pos = nl + 1;
  }
  return out;
}

void write_stdout(const std::string& text, bool raw) {
  const std::string out = raw ? text : printable(text);
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    throw Error(ErrorCode::kIo, std::string("stdout: write failed: ") + std::strerror(errno));
  }
}

Tokenizer open_tokenizer(const std::string& source, bool use_tokenizer_config) {
  std::error_code ec;
  std::filesystem::path p = source;
  if (!std::filesystem::exists(p, ec)) p = resolve_model(source).dir;
  Tokenizer::Options o;
  o.use_tokenizer_config = use_tokenizer_config;
  return Tokenizer::load(p, o);
}

SequenceOptions sequence_options(const std::string& protocol, const std::string& bos,
                                 const std::string& buckets, int64_t max_seq_len, uint64_t seed) {
  SequenceOptions so;
  if (protocol == "study") {
    so = study_protocol_options();
  } else if (!protocol.empty()) {
    throw Error(ErrorCode::kCorpus, "--protocol: unknown protocol '" + protocol + "' (study)");
  } else {
    so.max_seq_len = max_seq_len;
    so.bos = bos == "always"  ? BosPolicy::kAlways
             : bos == "never" ? BosPolicy::kNever
                              : BosPolicy::kAuto;
    if (buckets == "study") {
      const auto st = study_protocol_options();
      so.buckets = st.buckets;
      so.bucket_weights = st.bucket_weights;
    } else if (!buckets.empty()) {
      throw Error(ErrorCode::kCorpus, "--buckets: unknown bucket set '" + buckets + "' (study)");
    }
  }
  so.seed = seed;
  return so;
}

}  // namespace maxact::cli
