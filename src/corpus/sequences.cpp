#include "maxact/sequences.h"

#include "maxact/error.h"

namespace maxact {

SequenceOptions study_protocol_options() {
  SequenceOptions o;
  o.bos = BosPolicy::kNever;
  o.max_seq_len = 4096;
  o.buckets = {256, 512, 1024, 2048, 4096};
  o.bucket_weights = {0.01, 0.01, 0.02, 0.03, 0.93};
  return o;
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

namespace {

// Per-sample truncation length: a fixed draw from (seed, sample index), so a sample keeps its
// bucket whatever else is selected.
int64_t length_for(const SequenceOptions& o, std::size_t sample) {
  if (o.buckets.empty()) return o.max_seq_len;
  uint64_t z = o.seed + 0x9E3779B97F4A7C15ull * (sample + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  const double u = static_cast<double>(z >> 11) * 0x1p-53;  // [0, 1)
  double total = 0;
  for (double w : o.bucket_weights) total += w;
  double acc = 0;
  for (std::size_t i = 0; i < o.buckets.size(); ++i) {
    acc += o.bucket_weights[i] / total;
    if (u < acc) return o.buckets[i];
  }
  return o.buckets.back();
}

void truncate(std::vector<int32_t>& ids, int64_t len) {
  if (len > 0 && static_cast<int64_t>(ids.size()) > len) ids.resize(static_cast<std::size_t>(len));
}

}  // namespace

std::vector<TokenSequence> prepare_sequences(const Corpus& corpus,
                                             const std::vector<std::size_t>& selection,
                                             const Tokenizer& tok, const Tokenizer* source,
                                             const SequenceOptions& o) {
  if (o.buckets.size() != o.bucket_weights.size()) {
    throw Error(ErrorCode::kCorpus, "length buckets and their weights differ in number");
  }
  // Texts to encode with the model's tokenizer: either the sample text, or the decoded source
  // ids (truncated in source tokens first when buckets apply, as the study did).
  std::vector<std::string> texts;
  std::vector<int64_t> limits;
  texts.reserve(selection.size());
  for (std::size_t i : selection) {
    const Sample& s = corpus.samples.at(i);
    const int64_t len = length_for(o, i);
    if (s.has_ids) {
      if (source == nullptr) {
        throw Error(ErrorCode::kCorpus, corpus.origin + ": sample " + std::to_string(i) +
                                            " holds token ids: give the tokenizer that produced "
                                            "them (--source-tokenizer)");
      }
      std::vector<int32_t> ids = s.ids;
      if (!o.buckets.empty()) truncate(ids, len);
      texts.push_back(source->decode(ids, true));
      limits.push_back(o.buckets.empty() ? len : o.max_seq_len);
    } else {
      texts.push_back(s.text);
      limits.push_back(len);
    }
  }
  const bool template_special = o.bos == BosPolicy::kAuto;
  auto encoded = tok.encode_batch(texts, template_special, o.threads);
  std::vector<TokenSequence> out;
  for (std::size_t k = 0; k < selection.size(); ++k) {
    std::vector<int32_t>& ids = encoded[k];
    if (o.bos == BosPolicy::kAlways) {
      const auto bos = tok.bos_id();
      if (!bos)
        throw Error(ErrorCode::kCorpus,
                    tok.source() + ": --bos always, but the tokenizer has no BOS token");
      if (ids.empty() || ids.front() != *bos) ids.insert(ids.begin(), *bos);
    }
    truncate(ids, limits[k]);
    if (ids.empty()) continue;
    out.push_back({selection[k], corpus.samples[selection[k]].category, std::move(ids)});
  }
  return out;
}

std::vector<std::vector<std::size_t>> bootstrap_selections(const Corpus& corpus, std::size_t n,
                                                           uint64_t seed, std::size_t k) {
  std::vector<std::vector<std::size_t>> out;
  for (std::size_t i = 0; i < k; ++i) out.push_back(select_samples(corpus, n, seed + i, true));
  return out;
}

}  // namespace maxact
