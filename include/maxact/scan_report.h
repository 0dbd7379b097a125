// What a scan writes: the versioned JSON report (docs/SCAN_JSON.md describes every field), a
// CSV of per-tap scalars and the terminal summary. All rendered to strings first, so a failure
// leaves no partial output.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "maxact/scan.h"

namespace maxact {

inline constexpr int kScanSchemaVersion = 1;

enum class TapNames { kHf, kStudy };

// Everything about the run that is not in ScanResult.
struct ScanMeta {
  std::string model_arg, model_dir, model_type, family, architecture;
  nlohmann::json corpus;   // identity: origin, content hash, samples/tokens per category
  nlohmann::json options;  // the options as given
  TapNames names = TapNames::kHf;
  std::function<std::string(int32_t)> token_text;  // empty when no tokenizer
  // The study's header fields (--format study).
  std::string model_name, data_path;
  int num_layers = 0, hidden_size = 0;
  int64_t num_samples = 0, max_seq_len = 0;
};

// The maximum of |x| over the study's components (embedding, hidden, attention, MLP, final
// norm), signed, with the tap it came from; index -1 when nothing was recorded.
struct GlobalMax {
  int tap = -1;
  Located value;
};
GlobalMax study_global_max(const ScanResult& r);

// The name a tap is reported under (study names drop taps the study has no name for: "").
std::string reported_name(const TapInfo& t, TapNames names);

nlohmann::json scan_report_json(const ScanResult& r, const ScanMeta& meta);
std::string scan_report_csv(const ScanResult& r, TapNames names);
std::string scan_summary_text(const ScanResult& r, const ScanMeta& meta);

// The study's two files, field for field (STUDY.md; names, order and types as its
// `<model>_activation_stats.json` and `<model>_top5_stats.json`), from the taps that have study
// names. The per-component std is the population standard deviation.
// Keys keep the study's order (ordered_json), so the files diff line by line against published
// ones.
nlohmann::ordered_json study_activation_stats(const ScanResult& r, const ScanMeta& meta);
nlohmann::ordered_json study_top5_stats(const ScanResult& r, const ScanMeta& meta);

}  // namespace maxact
