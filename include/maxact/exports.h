// Files other tools consume, rendered from a scan report (docs/EXPORTS.md): llama.cpp's importance
// matrix (GGUF and the legacy .dat). Each export reads the report's JSON, the form a scan writes
// and `maxact export` reads back, so a scan's --imatrix and a later export give the same bytes.
#pragma once

#include <cstdint>
#include <filesystem>
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

// SmoothQuant's act_scales: per Linear, keyed by its Hugging Face module path, the per-channel
// max |x| of its input (routed experts: per expert, "...experts.{e}.gate_proj", or the fused
// tensor's name with one row per expert, when the report has per-expert inputs).
struct ActScales {
  struct Entry {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> values;
  };
  std::vector<Entry> entries;  // in the report's (forward) order
  std::vector<std::string> warnings;
};

struct ActScalesOptions {
  // Also "<module>:max" and "<module>:min", the signed per-channel extremes (llm-compressor's
  // max - min statistic); not per expert.
  bool min_max = false;
};

ActScales act_scales_from_report(const nlohmann::json& report, const std::string& file,
                                 const ActScalesOptions& options = {});
// torch.save's zip of the dict {name: float32 tensor} (torch.load(weights_only=True) reads it).
std::string act_scales_torch(const ActScales& s);
std::string act_scales_safetensors(const ActScales& s);

// What an export wrote, for the file beside it (`<output>.summary.json`; the FP8 folder's
// maxact_export.json has the same head): schema "maxact.export", the export's kind and format, the
// maxact version, the report and the model, corpus and options it describes (what the statistics
// were calibrated on), then the kind's own fields and the warnings.
nlohmann::json export_summary_head(const std::string& kind, const std::string& format,
                                   const nlohmann::json& report, const std::string& report_file);
nlohmann::json imatrix_summary(const Imatrix& m, const std::string& format,
                               const nlohmann::json& report, const std::string& report_file);
nlohmann::json act_scales_summary(const ActScales& s, const std::string& format, bool min_max,
                                  const nlohmann::json& report, const std::string& report_file);
// The version exports record as their producer's.
const char* maxact_version();
// The file name of the summary beside a single-file export.
std::string summary_path(const std::string& output);

// FP8 (E4M3) checkpoints vLLM loads with static activation scales (docs/EXPORTS.md): every Linear
// weight of the decoder layers cast with a per-tensor scale absmax(W) / 448 (nearest, ties to
// even, saturating), its input's scale the calibrated |x| / 448, k / v scales from the KV-cache
// taps; routers, lm_head and other towers' Linears kept and listed as ignored.
enum class Fp8Format { kCompressedTensors, kModelOpt };
// Which calibrated |x| a scale divides: the scan's max |x| (survives massive activations), or
// the quantization check's clip quantile or INT8 MSE threshold (needs --quant with those taps).
enum class ScaleRule { kMax, kQuantile, kMse };
struct Fp8Options {
  Fp8Format format = Fp8Format::kCompressedTensors;
  ScaleRule scale = ScaleRule::kMax;     // Linear inputs
  ScaleRule kv_scale = ScaleRule::kMax;  // the KV cache
  bool kv_only = false;  // weights as they are, only k / v scales (compressed-tensors)
};
struct Fp8Export {
  nlohmann::json summary;  // also written into the folder as maxact_export.json
  std::vector<std::string> warnings;
};
// Writes the checkpoint folder `out` (which must not exist) from `model_dir` and the report:
// built in a temporary folder beside it and renamed into place, so a failure leaves nothing.
Fp8Export export_fp8(const nlohmann::json& report, const std::string& report_file,
                     const std::filesystem::path& model_dir, const std::filesystem::path& out,
                     const Fp8Options& options);

}  // namespace maxact
