// What a scan writes: the versioned JSON report (docs/SCAN_JSON.md describes every field), a
// CSV of per-tap scalars and the terminal summary. All rendered to strings first, so a failure
// leaves no partial output.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "maxact/scan.h"
#include "maxact/scan_meta.h"
#include "maxact/study_max.h"

namespace maxact {

inline constexpr int kScanSchemaVersion = 1;
// Tokens either side of a located token in the report's token_contexts.
inline constexpr int kContextRadius = 4;

// The run's identity as the report's "corpus" and "options" objects (docs/SCAN_JSON.md).
nlohmann::json corpus_identity_json(const CorpusIdentity& c);
nlohmann::json recorded_options_json(const RecordedOptions& o);

// The name a tap is reported under (study names drop taps the study has no name for: "").
std::string reported_name(const TapInfo& t, TapNames names);

nlohmann::json scan_report_json(const ScanResult& r, const ScanMeta& meta);
std::string scan_report_csv(const ScanResult& r, TapNames names);
std::string scan_summary_text(const ScanResult& r, const ScanMeta& meta);

// The study's two files, field for field (names, order and types as the study's code,
// clx1415926/Max_act_llm on GitHub, writes `<model>_activation_stats.json` and
// `<model>_top5_stats.json`), from the taps that have study names. The per-component std is the
// population standard deviation.
// Keys keep the study's order (ordered_json), so the files diff line by line against published
// ones.
nlohmann::ordered_json study_activation_stats(const ScanResult& r, const ScanMeta& meta);
nlohmann::ordered_json study_top5_stats(const ScanResult& r, const ScanMeta& meta);

}  // namespace maxact
