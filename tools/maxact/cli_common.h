// Pieces the subcommands share: tokenizer opening, the sequence policy flags, report writing.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "maxact/sequences.h"
#include "maxact/tokenizer.h"

namespace maxact::cli {

// A tokenizer.json file, a model folder, or a hub id.
Tokenizer open_tokenizer(const std::string& source, bool use_tokenizer_config = true);

// --protocol, --bos, --buckets, --max-seq-len, --seed as SequenceOptions (errors name the flag).
SequenceOptions sequence_options(const std::string& protocol, const std::string& bos,
                                 const std::string& buckets, int64_t max_seq_len, uint64_t seed);

// Fails now, before hours of scanning, when an output file could not be written later: its
// folder is missing or not writable, or the path is a folder. Empty paths are skipped.
void check_output_paths(const std::vector<std::string>& paths);

// Writes every file under a temporary name first and renames them only when all are written, so
// a failure leaves none of them (and no temporaries) behind.
void write_files(const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace maxact::cli
