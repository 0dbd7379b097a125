// From corpus samples to the token sequences a scan runs: tokenization with the model's own
// tokenizer (re-tokenizing corpora stored as another tokenizer's ids by decoding them first, the
// study's protocol), the BOS policy, and truncation to a maximum length or the study's buckets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "maxact/corpus.h"
#include "maxact/tokenizer.h"

namespace maxact {

enum class BosPolicy {
  kAuto,  // the tokenizer's own template (tokenizer.json + tokenizer_config.json), as transformers
  kAlways,  // exactly one BOS first, whatever the template says
  kNever,   // no special tokens at all (the study's protocol)
};

struct SequenceOptions {
  BosPolicy bos = BosPolicy::kAuto;
  int64_t max_seq_len = 2048;  // 0 = no limit
  // Truncation lengths drawn per sample with these weights (the study: 256/512/1024/2048/4096
  // with 1/1/2/3/93 %); empty = max_seq_len for all. Lengths count the tokens of the source
  // tokenizer when one is given (the study truncates its Llama-2 ids), else of the model's.
  std::vector<int64_t> buckets;
  std::vector<double> bucket_weights;
  uint64_t seed = 0;
  int threads = 0;
};

SequenceOptions study_protocol_options();  // --protocol study: no BOS, the study's buckets

// The policy from the names a user gives: `protocol` "" or "study" (which fixes BOS and lengths
// itself), `bos` auto | always | never, `buckets` "" or "study". Errors name the flag
// (--protocol, --buckets).
SequenceOptions sequence_options(const std::string& protocol, const std::string& bos,
                                 const std::string& buckets, int64_t max_seq_len, uint64_t seed);

struct TokenSequence {
  std::size_t sample = 0;  // index into the corpus
  std::string category;
  std::vector<int32_t> ids;
};

// `selection` indexes corpus.samples. Samples stored as ids need `source` (the tokenizer that
// produced them); text samples ignore it. Empty results are dropped.
std::vector<TokenSequence> prepare_sequences(const Corpus& corpus,
                                             const std::vector<std::size_t>& selection,
                                             const Tokenizer& tokenizer, const Tokenizer* source,
                                             const SequenceOptions& options);

// The study's stability check: `k` category-proportional subsets of `n` samples, seeds
// seed, seed+1, ...
std::vector<std::vector<std::size_t>> bootstrap_selections(const Corpus& corpus, std::size_t n,
                                                           uint64_t seed, std::size_t k);

}  // namespace maxact
