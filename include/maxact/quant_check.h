// The quantization check (`maxact scan --quant`): scales fixed on calibration samples, errors of
// every policy measured on disjoint evaluation samples, per tap, in one run of three passes:
//   1. calibration statistics (max |x|, per-channel max |x|, the |x| histogram);
//   2. calibration thresholds: the exact quantile of |x| (counting the values inside the
//      histogram bin that holds it) and the MSE grid;
//   3. evaluation: the scan itself, each quantized tap's rows fake-quantized by every policy.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "maxact/quantize.h"
#include "maxact/scan.h"
#include "maxact/tap_stats.h"

namespace maxact {

struct QuantOptions {
  double clip_quantile = 0.999;
  // Globs over tap names (Hugging Face or study) choosing the quantized taps among the scanned
  // ones; empty: every linear-layer input and every decoder-layer output (residual stream).
  std::vector<std::string> taps;
  // The study's "peak" layer policy: only the decoder-layer output or final norm with the
  // largest calibration max |x| (ties: the earlier tap).
  bool peak_only = false;
  std::vector<QuantPolicy> policies;  // empty: all
};

// The MSE grid: thresholds max_abs * 2^(-k/4), k = 0 .. 47 (12 octaves below the maximum), each
// rounded to fp32; the INT8 per-tensor MSE policy takes the one with the smallest calibration
// squared error (ties: the larger threshold).
constexpr int kMseGridPerOctave = 4, kMseGrid = 48;
float mse_grid_threshold(float max_abs, int k);

// What calibration fixes for one tap.
struct TapCalibration {
  uint64_t count = 0;       // finite calibration values
  float max_abs = 0;        // calibration max |x|
  float quantile = 0;       // |x| of rank ceil(q * count) (1-based, ascending): exact
  float mse_threshold = 0;  // the MSE grid's best threshold
  double mse = 0;           // its calibration mean squared error
  bool has_quantile = false, has_mse = false;  // computed (their policies were asked for)
  std::vector<float> channel_absmax;
};

// Pass 2 on one tap: accumulates, over calibration rows, the values inside the histogram bin
// holding the quantile's rank (exact quantile) and each grid threshold's squared error.
// Mergeable; add_rows on disjoint parts, then merge, in any order.
class ThresholdFinder {
 public:
  ThresholdFinder() = default;
  // `first_pass`: the tap's statistics over the same calibration rows.
  // `dense_after`: patterns kept one by one before switching to counts (tests make it small).
  ThresholdFinder(const TapStats& first_pass, double quantile, bool mse,
                  std::size_t dense_after = std::size_t{1} << 20);
  ThresholdFinder empty_like() const;  // same bracket and grid, nothing accumulated
  void add_rows(const float* data, int64_t rows, int64_t channels, int64_t ld);
  void merge(const ThresholdFinder& o);
  void finish(TapCalibration& out) const;  // fills quantile, mse_threshold, mse

 private:
  uint64_t rank_ = 0;                   // 1-based rank of the quantile among count_ values
  uint64_t below_ = 0;                  // values below the bracket (from the first pass)
  uint32_t lo_bits_ = 0, hi_bits_ = 0;  // the bracket: |x| bit patterns in [lo, hi)
  bool zero_ = false;                   // the quantile is 0 (rank within the zeros)
  std::vector<uint32_t> inside_;        // bit patterns of the values inside the bracket
  // Past dense_after_ kept patterns (and for brackets of at most 2^19 patterns, i.e. every bin
  // but the under- and overflow ones) a count per pattern instead: memory stays at 4 MiB per tap.
  std::vector<uint64_t> dense_;
  std::size_t dense_after_ = 0;
  void fold_into_dense();
  uint64_t count_ = 0;
  float max_abs_ = 0;
  bool mse_ = false;
  std::vector<float> grid_scale_;         // scale of each grid threshold
  std::vector<ExactDoubleSum> grid_sse_;  // squared error at each grid threshold
};

// Errors of every policy on one tap's evaluation rows: over all tokens and over the tokens that
// do not meet the massive-activation criterion. Mergeable like ThresholdFinder.
struct PolicyErrors {
  QuantPolicy policy = QuantPolicy::kInt8MaxAbs;
  float threshold = 0;  // the calibrated threshold of per-tensor static policies, else NaN
  ErrorStats all, clean;
  bool operator==(const PolicyErrors& o) const {  // NaN thresholds compare equal
    return policy == o.policy && all == o.all && clean == o.clean &&
           (threshold == o.threshold || (threshold != threshold && o.threshold != o.threshold));
  }
};

class TapQuantizer {
 public:
  TapQuantizer() = default;
  TapQuantizer(const TapCalibration& calibration, const std::vector<QuantPolicy>& policies,
               const TapStatsOptions& massive);
  TapQuantizer empty_like() const;
  void add_rows(const float* data, int64_t rows, int64_t channels, int64_t ld);
  void merge(const TapQuantizer& o);
  const std::vector<PolicyErrors>& policies() const { return errors_; }
  uint64_t tokens() const { return tokens_; }
  uint64_t outlier_tokens() const { return outlier_tokens_; }

 private:
  // scratch, x, e: buffers of `channels` floats.
  void add_row(const float* raw, int64_t channels, float* scratch, float* x, float* e);
  std::vector<PolicyErrors> errors_;
  std::vector<float> channel_scale_;  // per-channel INT8 scales
  std::vector<float> channel_absmax_;
  float max_abs_ = 0;
  TapStatsOptions massive_;  // its massive-activation thresholds
  uint64_t tokens_ = 0, outlier_tokens_ = 0;
};

struct TapQuant {
  TapInfo tap;
  TapCalibration calibration;
  uint64_t tokens = 0, outlier_tokens = 0;  // evaluation tokens, and those meeting the criterion
  std::vector<PolicyErrors> policies;
};

struct QuantResult {
  QuantOptions options;
  std::vector<TapQuant> taps;  // forward order
  int64_t calib_sequences = 0, calib_tokens = 0;
  double calib_seconds = 0;
};

// Runs the three passes. `options` is the evaluation scan's (taps, precision, threads...); the
// quantized taps are those it selects that QuantOptions::taps also matches. `calibration` and
// `evaluation` must come from disjoint samples. Returns the evaluation scan; fills `out`.
// The check in steps, for runs that stop and resume between windows (quant_check is both):
// passes 1 and 2 fill `out` with the options, the calibration counts and one TapQuant per
// quantized tap holding its calibration and no errors; pass 3 over `evaluation` adds its errors
// into `out` (exact: evaluating in parts gives the errors of one evaluation of all).
void quant_calibrate(const Model& model, const std::vector<TokenSequence>& calibration,
                     const ScanOptions& options, const QuantOptions& quant, QuantResult& out);
ScanResult quant_evaluate(const Model& model, const std::vector<TokenSequence>& evaluation,
                          const ScanOptions& options, QuantResult& out);

// Adds the evaluation errors of `from` (a check of other evaluation samples with the same
// calibration) into `into`, exactly. Throws kState when the taps, options or calibrations differ.
void merge_quant_results(QuantResult& into, const QuantResult& from);

ScanResult quant_check(const Model& model, const std::vector<TokenSequence>& calibration,
                       const std::vector<TokenSequence>& evaluation, const ScanOptions& options,
                       const QuantOptions& quant, QuantResult& out);

// The quantized taps for a selection: `scan_taps` (globs, empty = all) ∩ `quant_taps` (globs,
// empty = linear inputs and decoder-layer outputs).
std::vector<TapInfo> quant_taps(const ModelSpec& spec, const std::vector<std::string>& scan_taps,
                                const std::vector<std::string>& quant_taps);

}  // namespace maxact
