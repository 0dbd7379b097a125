// What a scan report says about its run besides the statistics: the model, the identity of the
// corpus it read, the options it ran with. Typed here; the renderers (maxact/renderers.h) give
// each format its own form of them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "maxact/scan.h"

namespace maxact {

enum class TapNames { kHf, kStudy };

// Per category: samples and bytes selected, sequences and tokens scanned.
struct CategoryCount {
  int64_t samples = 0, bytes = 0, sequences = 0, tokens = 0;
};

// Which text a report's numbers come from: enough to tell whether two reports read the same
// samples (the content hash) and how the corpus was cut down to what was scanned.
struct CorpusIdentity {
  std::string origin;        // "builtin" or the path read
  std::string content_hash;  // of the selected samples (Corpus::content_hash)
  std::size_t samples = 0, sequences = 0;
  int64_t tokens = 0;
  uint64_t skipped_bad_lines = 0, skipped_empty = 0;
  std::map<std::string, CategoryCount> categories;  // "(none)": samples without a category
};

// The quantization check's options as they took effect (sample counts as split).
struct RecordedQuantOptions {
  std::size_t calib = 0, eval = 0;
  double clip_quantile = 0.999;
  std::vector<std::string> taps, policies;  // as given
  std::string layers;                       // peak | all | "" (as given)
};

// The options a report records: the sequence policy as it took effect (the study's protocol
// forces its own BOS and lengths), the rest as given.
struct RecordedOptions {
  Precision precision = Precision::kFp32;
  std::size_t samples = 0;
  uint64_t seed = 0;
  int64_t max_seq_len = 0, window_tokens = 0;
  std::string bos, protocol;
  // The model's label in a comparison (the study's quant_sanity role: "moe", "low_peak"); "" =
  // not given (null in the reports).
  std::string role;
  bool ids_native = false;
  std::size_t topk = 0;
  std::vector<std::string> taps;
  bool expert_inputs = false;
  std::optional<RecordedQuantOptions> quant;  // set when the quantization check ran
};

// A token with a few of its neighbours, decoded as the model's tokenizer decodes them: what a
// reader needs to recognise where a peak sits (a BOS, a newline in code, a delimiter).
struct TokenContext {
  std::string before, token, after;
};

// Everything about the run that is not in ScanResult.
struct ScanMeta {
  std::string model_arg, model_dir, model_type, family, architecture;
  CorpusIdentity corpus;
  RecordedOptions options;
  TapNames names = TapNames::kHf;
  std::function<std::string(int32_t)> token_text;  // empty when no tokenizer
  // The token at (sample, position) with `radius` tokens either side; empty when no tokenizer.
  // Returns nothing for a location outside the scanned sequences.
  std::function<std::optional<TokenContext>(int64_t sample, int32_t position, int radius)>
      token_context;
  int64_t params_total = 0, params_active = 0;  // count_params (maxact/inspect.h)
  std::string finished_at;                      // UTC, ISO 8601, when the scan ended
  std::string command;  // the command line that ran it, shell-quoted; "" = not known
  // The study's header fields (--format study).
  std::string model_name, data_path;
  int num_layers = 0, hidden_size = 0;
  int64_t num_samples = 0, max_seq_len = 0;
};

}  // namespace maxact
