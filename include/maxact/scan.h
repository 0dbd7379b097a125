// The scan: a model's forward pass over token sequences, layer-major over windows of whole
// sequences (docs/ARCHITECTURE.md §1), with statistics collected at every selected tap.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "maxact/model.h"
#include "maxact/sequences.h"
#include "maxact/tap_stats.h"
#include "maxact/taps.h"

namespace maxact {

enum class Precision {
  kFp32,  // weights widened, all math in fp32: the truth the report is about
  kBf16,  // Hugging Face eager bf16, rounding op by op (docs/NUMERICS.md §2)
};
std::string_view precision_name(Precision p);

struct ScanProgress {
  std::string_view stage = "scan";  // the quantization check names its passes
  int64_t tokens_done = 0, tokens_total = 0;
  int64_t windows_done = 0, windows_total = 0;
  int layer = 0, layers = 0;
  double seconds = 0;
};

// Extra accumulation at the selected taps beside (or instead of) the statistics: the
// quantization check's calibration and error passes.
class TapObserver {
 public:
  virtual ~TapObserver() = default;
  // Before the first window: the selected taps, indexed as observe() receives them.
  virtual void start(const std::vector<TapInfo>& taps) = 0;
  // rows x channels values of `tap`, row r at data + r * ld. Called concurrently from the pool's
  // threads on disjoint rows; the observer merges its parts itself.
  virtual void observe(int tap, const float* data, int64_t rows, int64_t ld) = 0;
};

struct ScanOptions {
  Precision precision = Precision::kFp32;
  int threads = 0;               // 0 = all cores
  int64_t window_tokens = 8192;  // tokens per window (a longer sequence forms its own window)
  int64_t chunk_rows = 512;      // token rows per GEMM in the token-wise parts of a layer
  // Values per thread part when a tap's block is published (below, one part: the merge would
  // cost more than it saves). Tests lower it so small fixtures take the parallel merge path.
  int64_t part_values = 65536;
  std::vector<std::string> taps;  // globs (tap_matches); empty = all
  TapStatsOptions stats;
  bool statistics = true;  // false: TapStats stay empty, only `observer` runs
  // Per routed expert, per-channel statistics of its inputs (ScanResult::expert_inputs): what an
  // importance matrix needs per expert. Memory: 2 x experts x (hidden + moe intermediate) x 24
  // bytes per MoE layer.
  bool expert_inputs = false;
  TapObserver* observer = nullptr;                    // not owned
  std::function<void(const ScanProgress&)> progress;  // called after every layer of a window
};

// One routed expert's inputs over the tokens routed to it: its gate / up projections' (the MoE
// block's input rows) and its down projection's.
struct ExpertInputs {
  ChannelSums in, down_in;
  bool operator==(const ExpertInputs& o) const = default;
};

// Where a scan's wall time went (maxact scan --profile): the layers' weights (read, converted,
// packed), the linear layers, attention (scores, softmax, values), the element-wise ops (norms,
// RoPE, activations, residuals, roundings), the statistics (every tap's accumulators and the
// quantization check's observer), and the rest (embedding, routing, the delta rule, copies).
enum class ScanPhase { kWeights, kLinear, kAttention, kElementwise, kStatistics, kCount };
std::string_view scan_phase_name(ScanPhase p);
// It covers this process's scan passes only (states do not keep it): `total` is their wall time,
// of which `seconds` are the phases'; a resumed or merged result's run.seconds can be larger.
struct ScanProfile {
  std::array<double, static_cast<std::size_t>(ScanPhase::kCount)> seconds{};
  double total = 0;
};

struct ScanResult {
  std::vector<TapInfo> taps;    // the selected taps, forward order
  std::vector<TapStats> stats;  // parallel to taps
  // Corpus categories (sorted; "" for samples without one) and, per tap, its extremes on each.
  std::vector<std::string> categories;
  std::vector<std::vector<CategoryStats>> by_category;  // [tap][category]
  // Tokens routed to each expert per decoder layer ([layer][expert]; empty for dense layers).
  std::vector<std::vector<uint64_t>> expert_load;
  // Per MoE layer and expert, the largest |x| of its down projection's input with location
  // (invalid location: the expert received no token, or that tap was not selected).
  std::vector<std::vector<Located>> expert_down_in_max;
  // [layer][expert] with ScanOptions::expert_inputs (empty otherwise, and for dense layers).
  std::vector<std::vector<ExpertInputs>> expert_inputs;
  int64_t sequences = 0, tokens = 0, windows = 0;
  double seconds = 0;
  int threads = 0;
  std::string blas_core;
  std::string linear_kernel;  // maxact's linear-layer kernel: avx512, avx2 or scalar
  std::string stats_kernel;   // the statistics' value pass: avx512, binned or per-value
  ScanProfile profile;        // this process's phases (not kept in states: timing)
};

ScanResult scan(const Model& model, const std::vector<TokenSequence>& sequences,
                const ScanOptions& options);

// The windows scan() cuts `sequences` into, as [first, end) ranges of sequence indices: whole
// sequences, each window up to `window_tokens` tokens (a longer sequence alone).
std::vector<std::pair<std::size_t, std::size_t>> plan_windows(
    const std::vector<TokenSequence>& sequences, int64_t window_tokens);
int64_t count_windows(const std::vector<TokenSequence>& sequences, int64_t window_tokens);

// Adds `from`, a scan of other sequences with the same model and options, into `into`: the
// statistics one scan of both would give, bitwise (every statistic merges exactly, categories are
// united). Sequences, tokens, windows and seconds add up; threads and kernels stay `into`'s.
// Throws kState when the two scans' taps or expert layouts differ.
void merge_scan_results(ScanResult& into, const ScanResult& from);

}  // namespace maxact
