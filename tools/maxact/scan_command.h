// `maxact scan MODEL`: corpus -> token sequences -> forward pass with statistics -> reports.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "maxact/corpus.h"

namespace maxact::cli {

struct ScanArgs {
  std::string model, corpus, source_tokenizer, bos = "auto", buckets, protocol;
  CorpusReadOptions read;
  std::size_t samples = 0;
  uint64_t seed = 0;
  bool proportional = true, ids_native = false, quiet = false, profile = false;
  int64_t max_seq_len = 2048, window_tokens = 8192;
  int threads = 0;
  std::string precision = "fp32", names = "hf", format = "json", output, csv;
  std::string role;  // the study's label of the model ("moe"); "" when not given
  std::vector<std::string> taps;
  std::size_t topk = 100;
  bool expert_inputs = false;
  std::string imatrix;  // the importance matrix (GGUF) to write
  std::string html;     // the HTML report to write
  std::string command;  // this command line, recorded in the report
  std::size_t bootstrap = 0;
  // The quantization check.
  bool quant = false;
  std::optional<std::size_t> calib, eval;  // default 128 / 256
  std::optional<double> clip_quantile;     // default 0.999
  std::vector<std::string> quant_taps, policies;
  std::string quant_layers;  // peak | all (hidden states; --protocol study)
  std::string quant_csv;
  // Long runs.
  std::string shard;       // "I/N"
  std::string state;       // the scan state file to write
  std::string checkpoint;  // folder of the checkpoint written after every window
  bool resume = false;
  bool calibrate_only = false;  // --quant: calibrate, write the calibration --state, stop
  std::string calibration;      // --quant: evaluate against this calibration state
};

CLI::App* add_scan_command(CLI::App& app, ScanArgs& a);
int run_scan(const ScanArgs& a);

}  // namespace maxact::cli
