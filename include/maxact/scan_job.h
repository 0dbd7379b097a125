// A scan as a library job, in stages: open (model, corpus, option checks) -> prepare (sample
// selection, token sequences) -> run (the scan or the quantization check) -> a typed result that
// the renderers (maxact/renderers.h) turn into each output format. A caller checks its outputs
// between open and prepare, so a bad path fails before any tokenizing or scanning.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "maxact/corpus.h"
#include "maxact/model.h"
#include "maxact/quant_check.h"
#include "maxact/scan.h"
#include "maxact/scan_meta.h"
#include "maxact/sequences.h"
#include "maxact/tokenizer.h"

namespace maxact {

// One of `count` parts of a scan (`--shard index/count`, index from 0): the sequences whose
// position in the selection is index modulo count. Every part selects and tokenizes the same
// samples, so its report metadata is the whole run's; only the statistics are its part's.
struct Shard {
  int index = 0, count = 1;
  bool operator==(const Shard& o) const = default;
};

// Error messages name the command line's flags (--ids-native, --calib...): they are what a user
// reads, whoever set the option.
struct ScanJobOptions {
  std::string model;   // folder, or hub id org/name[@revision]
  std::string corpus;  // JSONL / text file, folder, "-" for stdin; "" = the built-in corpus
  CorpusReadOptions read;
  std::size_t samples = 0;  // 0 = all
  uint64_t seed = 0;
  bool proportional = true;
  std::string source_tokenizer;  // the tokenizer that produced input_ids samples
  bool ids_native = false;       // input_ids samples are the model's own ids
  // The sequence policy by name (sequence_options).
  int64_t max_seq_len = 2048;
  std::string bos = "auto", buckets, protocol;
  std::string role;  // recorded only (RecordedOptions::role)
  int64_t window_tokens = 8192;
  int threads = 0;
  Precision precision = Precision::kFp32;
  std::vector<std::string> taps;
  TapNames names = TapNames::kHf;
  std::size_t topk = 100;
  bool expert_inputs = false;  // ScanOptions::expert_inputs
  std::size_t bootstrap = 0;   // > 0: run_bootstrap's subsets instead of one scan
  Shard shard;
  // The quantization check.
  bool quant = false;
  std::optional<std::size_t> calib, eval;  // default 128 / 256
  std::optional<double> clip_quantile;     // default 0.999
  std::vector<std::string> quant_taps, policies;
  std::string quant_layers;  // peak | all (hidden states; --protocol study defaults to peak)
  bool quant_csv = false;    // the caller wants the per-policy CSV, which only --quant has
  // Sequences past the model's context; empty: not reported (--quiet).
  std::function<void(const std::string&)> warning;
};

struct ScanJob {
  ScanJobOptions options;
  Model model;
  std::optional<Corpus> read;  // the corpus read from options.corpus; empty: the built-in one
  CorpusReadReport read_report;
  // Every file the job reads (model files, corpus, source tokenizer): no output may be one.
  std::vector<std::filesystem::path> inputs;

  // Set by prepare_scan_job.
  SequenceOptions sequence;
  SampleSplit split;                // --quant: calibration and evaluation samples
  std::vector<std::size_t> picked;  // the scanned samples (--quant: the evaluation ones)
  std::shared_ptr<const Tokenizer> tokenizer, source_tokenizer;  // null when absent
  // Not for a bootstrap job, whose subsets are tokenized as they are scanned.
  std::vector<TokenSequence> sequences, calibration;
  QuantOptions quant;

  const Corpus& corpus() const { return read ? *read : builtin_corpus(); }
};

// Opens the model (refusing families the engine cannot scan), reads the corpus and checks the
// options that go together.
ScanJob open_scan_job(const ScanJobOptions& options);

// Selects the samples, resolves the sequence policy, opens the tokenizers and, unless the job
// is a bootstrap, tokenizes the scanned (and calibration) samples.
void prepare_scan_job(ScanJob& job);

// The token sequences of some of the job's samples (--ids-native: its ids, truncated), with the
// past-context warning.
std::vector<TokenSequence> job_sequences(const ScanJob& job,
                                         const std::vector<std::size_t>& selection);

// What the quantization check fixed its scales on.
struct CalibrationIdentity {
  std::string content_hash;
  std::vector<std::size_t> samples, evaluation_samples;  // corpus indices
};

struct QuantRun {
  QuantResult result;
  CalibrationIdentity calibration;
};

struct ScanJobResult {
  ScanResult scan;
  ScanMeta meta;  // its token_text keeps the tokenizer alive
  std::optional<QuantRun> quant;
};

ScanJobResult run_scan_job(const ScanJob& job,
                           const std::function<void(const ScanProgress&)>& progress = {});

// The study's stability check: K category-proportional subsets of options.samples samples
// (seeds seed..seed+K-1), each scanned; the global maximum per subset and its spread.
struct BootstrapPeak {
  float value = 0;
  std::string tap, study_name;
  Location location;
};

struct BootstrapSubset {
  uint64_t seed = 0;
  std::string content_hash;
  int64_t sequences = 0, tokens = 0;
  std::optional<BootstrapPeak> global_max;  // none when the subset's scan recorded nothing
};

// Of |global max| over the subsets that have one. std is the population standard deviation.
struct BootstrapSpread {
  double mean = 0, std = 0, min = 0, max = 0;
  double relative_range = 0;  // (max - min) / mean
  double cv_percent = 0;      // coefficient of variation, std / mean * 100
};

struct BootstrapResult {
  std::string model_arg, model_type, corpus_origin;
  std::size_t samples = 0;
  Precision precision = Precision::kFp32;
  std::vector<BootstrapSubset> subsets;
  std::optional<BootstrapSpread> spread;
};

// Throws unless the options make a bootstrap (it needs --samples). run_bootstrap checks too;
// callers with checks of their own call it first to keep the order of errors.
void check_bootstrap(const ScanJobOptions& options);
// Called with subset i's result, described as run_scan_job describes a scan (its ScanMeta says
// which samples, its seed), as soon as that subset is scanned: the caller renders it then, so the
// K results are never held at once.
using BootstrapRepeat = std::function<void(std::size_t i, const ScanJobResult& r)>;
// With `each`, the subsets record every tap the study names (what its files hold, MLP gates and
// routers too) unless options.taps chooses; without, only the taps the global max is taken over.
BootstrapResult run_bootstrap(const ScanJob& job, const BootstrapRepeat& each = {});

// The study names its files after the model folder ("Qwen2.5-1.5B").
std::string study_model_name(const std::string& model_arg);

}  // namespace maxact
