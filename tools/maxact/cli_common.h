// Pieces the subcommands share: tokenizer opening, the sequence policy flags, report writing.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "maxact/sequences.h"
#include "maxact/tokenizer.h"

namespace maxact::cli {

// The accepted range of every count option, checked on the text before conversion (so "-1" is
// refused, not wrapped to 2^64 - 1). Bounds sit far beyond real use and keep allocations sized
// by an option (top-K heaps, thread stacks, subsets) from exhausting memory.
namespace limits {
inline const CLI::Range kSamples(int64_t{0}, int64_t{1} << 40, "SAMPLES");
inline const CLI::Range kSeqLen(int64_t{0}, int64_t{1} << 24, "TOKENS");
inline const CLI::Range kWindowTokens(int64_t{1}, int64_t{1} << 24, "TOKENS");
inline const CLI::Range kThreads(int64_t{0}, int64_t{1024}, "THREADS");
inline const CLI::Range kTopK(int64_t{1}, int64_t{100000}, "K");
inline const CLI::Range kBootstrap(int64_t{0}, int64_t{10000}, "K");
inline const CLI::Range kQuantSamples(int64_t{1}, int64_t{1} << 40, "SAMPLES");
}  // namespace limits

// A tokenizer.json file, a model folder, or a hub id.
Tokenizer open_tokenizer(const std::string& source, bool use_tokenizer_config = true);

// --protocol, --bos, --buckets, --max-seq-len, --seed as SequenceOptions (errors name the flag).
SequenceOptions sequence_options(const std::string& protocol, const std::string& bos,
                                 const std::string& buckets, int64_t max_seq_len, uint64_t seed);

}  // namespace maxact::cli
