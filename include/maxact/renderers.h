// One renderer per output format of a scan job's typed result (maxact/scan_job.h), each the
// complete text of its file. A new format is one more renderer here, in its own file under
// src/report/, and one option in the command line.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "maxact/scan_job.h"

namespace maxact {

// The scan report (docs/SCAN_JSON.md), with the "quant" section after a quantization check.
std::string render_json(const ScanJobResult& r);
// Per-tap scalars, one row per reported tap.
std::string render_csv(const ScanJobResult& r);
// The quantization check: one row per (tap, policy). Empty without one.
std::string render_quant_csv(const ScanJobResult& r);

// The study's files (--format study), named after the model (study_model_name): activation
// statistics, top-5 statistics and, after a quantization check, its quant sanity file.
std::vector<std::string> study_file_names(const std::string& model_name, bool quant);
// Their contents, in study_file_names' order.
std::vector<std::string> render_study(const ScanJobResult& r);

// llama.cpp's importance matrix (GGUF) of the scan and its summary (maxact/exports.h), the summary
// naming `report_file` (the scan's -o, or ""); `warning` receives each coverage warning (experts
// that received no token).
std::vector<std::string> render_imatrix(const ScanJobResult& r, const std::string& report_file,
                                        const std::function<void(const std::string&)>& warning);

// The terminal summary: the scan's, then the quantization check's.
std::string render_summary(const ScanJobResult& r);

// The bootstrap's report and summary.
std::string render_bootstrap_json(const BootstrapResult& b);
// The bootstrap's files with --format study, as the study's exp_A names them: per subset i,
// `<model>_s<N>_r<i>_activation_stats.json` and `_top5_stats.json` (render_study of its
// result), then maxact's report `<model>_s<N>_bootstrap.json` (render_bootstrap_json).
std::vector<std::string> bootstrap_study_file_names(const std::string& model_name,
                                                    std::size_t samples, std::size_t repeats);
std::string render_bootstrap_summary(const BootstrapResult& b);

}  // namespace maxact
