// A scan's complete state (docs/STATE.md): everything its reports are rendered from, with the
// statistics as exact accumulators, so that states of disjoint parts of one scan (shards, or a
// checkpoint and the rest of the run) merge into the report a single run writes, bitwise apart
// from the timing fields. The file is versioned and checksummed; reading one checks it
// completely and refuses, naming the file, anything maxact did not write.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "maxact/scan_job.h"

namespace maxact {

struct ScanState {
  static constexpr uint32_t kFormatVersion = 1;
  // What states must agree on to merge (maxact version, model files, corpus selection, options,
  // kernels), by field name.
  std::map<std::string, std::string> identity;
  Shard shard;
  int64_t full_windows = 0;  // windows the unsharded scan cuts the selection into
  // False for a checkpoint of a scan still running: only `sequences_done` of the shard's
  // sequences are in `result`.
  bool complete = true;
  int64_t sequences_done = 0;
  // The statistics and metadata; meta.token_text and meta.token_context are not stored, the
  // tables below hold their answers for every location the statistics name.
  ScanJobResult result;
  bool has_tokenizer = false;
  std::map<int32_t, std::string> token_texts;
  std::map<std::pair<int64_t, int32_t>, TokenContext> token_contexts;  // (sample, position)
};

// The state of a job's finished run (its shard, when the job is one).
ScanState scan_state(const ScanJob& job, const ScanJobResult& result);

// The file's bytes, and back. decode_state throws kState naming `file` when the bytes are not a
// complete state of this format version with a matching checksum, or break an invariant.
std::string encode_state(const ScanState& s);
ScanState decode_state(std::string_view bytes, const std::string& file);
ScanState read_state(const std::string& path);

// The report a single run gives, from the states of all `count` shards of one scan (any order;
// `files` names them in messages). Throws kState naming the file and field when a state is a
// checkpoint, states differ in identity or shard count, or a shard is missing or given twice.
ScanJobResult merge_states(std::vector<ScanState> states, const std::vector<std::string>& files);

// A scan that saves its state after every window, and can continue from it.
struct CheckpointOptions {
  std::string file;     // the checkpoint: written after every window, atomically ("" = none)
  bool resume = false;  // continue from `file` (when it exists; when not, start and say so)
  // The quantization check's calibration, done once for every shard: `calibrate_only` stops
  // after it (the result's state, ScanState::complete false, is what `calibration` reads);
  // `calibration` names such a state, whose thresholds this run evaluates against.
  bool calibrate_only = false;
  std::string calibration;
  // Set (by a signal handler): the scan stops after the current window, once its checkpoint is
  // written, and throws kInterrupted saying how to resume.
  const std::atomic<bool>* stop = nullptr;
  std::function<void(const std::string&)> note;  // messages for the user (resuming, ...)
};

// run_scan_job window by window, `file` replaced after each by the state so far (write new,
// fsync, rename: the previous checkpoint stays valid until the new one is complete; a kill at any
// moment leaves one or the other). Resuming refuses a checkpoint whose identity (model files,
// corpus selection, options, kernels) or shard differs from the job's, naming the field. The
// result is run_scan_job's, bitwise apart from timing, however often the run was interrupted.
// Without `resume`, an existing `file` is refused rather than overwritten. A calibration state
// must have the job's identity (any shard) and hold a calibration and nothing else.
ScanJobResult run_checkpointed_scan_job(const ScanJob& job, const CheckpointOptions& c,
                                        const std::function<void(const ScanProgress&)>& progress);

}  // namespace maxact
