// Reports people look at, rendered from scan reports' JSON (docs/SCAN_JSON.md): a self-contained
// HTML page per scan, a cross-model comparison page, and a model-card section in Markdown
// (docs/REPORTS.md). Malformed reports are errors naming the file and the place.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace maxact {

// One scan: header, per-layer curves, residual channel heatmap, top values in context, per
// category, FP16 / FP8 headroom, the quantization check, MoE expert load. `file` names the report
// in the page and in errors.
std::string render_html_report(const nlohmann::json& report, const std::string& file);

// Several scans side by side (the study's figures): (file, report) pairs.
std::string render_html_compare(const std::vector<std::pair<std::string, nlohmann::json>>& reports);

// "Activation outliers and low-precision deployment": a Markdown section for a model card.
std::string render_model_card(const nlohmann::json& report, const std::string& file);

}  // namespace maxact
