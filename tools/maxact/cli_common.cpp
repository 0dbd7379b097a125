#include "cli_common.h"

#include <filesystem>

#include "maxact/error.h"
#include "maxact/hub.h"

namespace maxact::cli {

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
