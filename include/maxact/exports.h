// Files other tools consume, rendered from a scan report (docs/EXPORTS.md): llama.cpp's importance
// matrix (GGUF and the legacy .dat). Each export reads the report's JSON, the form a scan writes
// and `maxact export` reads back, so a scan's --imatrix and a later export give the same bytes.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace maxact {

// One weight of an importance matrix: per input channel (and per expert) Σx² over the rows the
// weight multiplied, and how many rows each expert saw.
struct ImatrixEntry {
  std::string name;  // the GGUF weight, "blk.0.attn_q.weight"
  int64_t in_features = 0, n_mat = 1;
  std::vector<float> in_sum2;  // [n_mat][in_features]
  std::vector<float> counts;   // [n_mat]
};

struct Imatrix {
  std::vector<std::string> datasets;
  uint32_t chunk_count = 0, chunk_size = 0;
  std::vector<ImatrixEntry> entries;  // sorted by name, as llama-imatrix writes them
  // Experts that received no token (llama-quantize then falls back to ones for them): per weight.
  std::vector<std::string> warnings;
};

struct ImatrixOptions {
  bool process_output = false;  // add `output.weight` (lm_head), as llama-imatrix --process-output
};

// From a scan report (`file` names it in errors). Throws kOption when the report lacks what an
// entry needs: a Linear input tap left out by --taps, or per-expert inputs (scan with
// --expert-inputs).
Imatrix imatrix_from_report(const nlohmann::json& report, const std::string& file,
                            const ImatrixOptions& options = {});
// The GGUF file llama-imatrix writes (general.type "imatrix").
std::string imatrix_gguf(const Imatrix& m);
// llama.cpp's legacy format (--output-format dat): per weight the mean of x² per channel times
// the number of chunks; per-expert counts are lost.
std::string imatrix_dat(const Imatrix& m);

}  // namespace maxact
