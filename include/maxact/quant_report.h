// What the quantization check writes: the "quant" section of the scan JSON (docs/SCAN_JSON.md),
// the study's `<model>_quant_sanity.json`, the terminal table, and `maxact compare` across
// reports.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "maxact/quant_check.h"
#include "maxact/scan_report.h"

namespace maxact {

// `calibration`: the calibration samples' identity (indices, counts), recorded as given.
nlohmann::json quant_report_json(const QuantResult& q, const nlohmann::json& calibration,
                                 TapNames names);
std::string quant_summary_text(const QuantResult& q, TapNames names);
// One row per (tap, policy): calibration thresholds and the metrics over all and clean tokens.
std::string quant_report_csv(const QuantResult& q, TapNames names);

// The study's file, field for field (its quant_sanity_check.py output): INT8 per-tensor
// max_abs and clip_q<q> on the selected hidden states. Its clip_rate is the fraction of
// evaluation values above the threshold (maxact's exceedance rate).
nlohmann::ordered_json study_quant_sanity(const QuantResult& q, const ScanResult& eval,
                                          const ScanMeta& meta, int64_t calib_samples,
                                          int64_t eval_samples);
// The policy's name in that file: max_abs, clip_q<quantile>; "" for policies the study lacks.
std::string study_policy_name(QuantPolicy p, double clip_quantile);

// `maxact compare --format study`: the study's quant_sanity_summary.json (its summarize()), one
// row per model and policy, in the study's key order. `inputs`: (path, parsed JSON) pairs, each a
// study `<model>_quant_sanity.json` (as the study or `maxact scan --quant --format study` writes
// it) or a maxact scan report with a quantization check. Throws kOption naming the file and the
// field when one is neither or lacks a field summarize() reads.
nlohmann::ordered_json study_quant_summary(
    const std::vector<std::pair<std::string, nlohmann::json>>& inputs);

// `maxact compare`: one row per report (global max, where, taps over the FP16 / FP8 limits, the
// pooled error of each policy) and, per policy, Pearson and Spearman correlation between
// log10 |M| and SQNR across the reports that have it.
struct Comparison {
  nlohmann::json table;  // {"models": [...], "correlations": {...}}
  std::string text;
  std::string csv;
};
// `reports`: (path, parsed maxact.scan JSON) pairs.
Comparison compare_reports(const std::vector<std::pair<std::string, nlohmann::json>>& reports);

// Pearson's r of (x, y); Spearman's rho as Pearson's r of the ranks (ties: mean rank). NaN when
// fewer than two pairs or a constant side.
double pearson(const std::vector<double>& x, const std::vector<double>& y);
double spearman(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace maxact
