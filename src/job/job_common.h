// What the scan job's two halves (one scan, bootstrap subsets) share.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "maxact/corpus.h"
#include "maxact/scan.h"
#include "maxact/scan_job.h"

namespace maxact::job {

// The engine's options for the job, without progress (the bootstrap's subsets run silently).
ScanOptions scan_options(const ScanJobOptions& o);

// The content hash of some of a corpus's samples: what a report names its text by.
std::string selection_hash(const Corpus& corpus, const std::vector<std::size_t>& selection);

// What one scan of the job read: the job's own samples, or one bootstrap subset.
struct Scanned {
  const std::vector<std::size_t>& picked;  // corpus indices
  const std::vector<TokenSequence>& sequences;
  uint64_t seed;  // the selection's seed (a bootstrap subset's own)
};

// The metadata of a scan of `scanned`: what its reports say besides the statistics.
ScanMeta scan_meta(const ScanJob& job, const Scanned& scanned);

// The sequences of the job's shard (all of them when it is not sharded), in selection order.
std::vector<TokenSequence> shard_sequences(const std::vector<TokenSequence>& all,
                                           const Shard& shard);

// A scan that ran out of memory, as the user hears it: which model, and what to lower.
[[noreturn]] void throw_out_of_memory(const ScanJob& job);

// When the model's weights are more than the memory this process may use (free memory, its
// cgroup's limit), what that costs and which --window-tokens would re-read them less; "" when
// they fit. The scan still runs: layers stream from the mapped files.
std::string window_tokens_advice(const ScanJob& job, int64_t windows);

// The quantization check's part of a job's result (none without --quant).
std::optional<QuantRun> quant_run(const ScanJob& job, QuantResult&& q);

}  // namespace maxact::job
