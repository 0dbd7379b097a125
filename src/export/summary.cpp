#include "maxact/exports.h"

namespace maxact {
using nlohmann::json;

namespace {
json member_or_null(const json& o, const char* key) {
  return o.is_object() && o.contains(key) ? o[key] : json();
}
}  // namespace

json export_summary_head(const std::string& kind, const std::string& format, const json& report,
                         const std::string& report_file) {
  return {{"schema", "maxact.export"},
          {"kind", kind},
          {"format", format},
          {"maxact_version", maxact_version()},
          {"report", report_file},
          {"model", member_or_null(report, "model")},
          {"corpus", member_or_null(report, "corpus")},
          {"options", member_or_null(report, "options")}};
}

json imatrix_summary(const Imatrix& m, const std::string& format, const json& report,
                     const std::string& report_file) {
  json s = export_summary_head("imatrix", format, report, report_file);
  json weights = json::array();
  for (const ImatrixEntry& e : m.entries) {
    weights.push_back({{"name", e.name},
                       {"in_features", e.in_features},
                       {"experts", e.n_mat},
                       {"counts", e.counts}});
  }
  s["statistic"] = "sum of x^2 per input channel (per expert), with row counts";
  s["datasets"] = m.datasets;
  s["chunk_count"] = m.chunk_count;
  s["chunk_size"] = m.chunk_size;
  s["weights"] = weights;
  s["warnings"] = m.warnings;
  return s;
}

json act_scales_summary(const ActScales& a, const std::string& format, bool min_max,
                        const json& report, const std::string& report_file) {
  json s = export_summary_head("act_scales", format, report, report_file);
  json tensors = json::array();
  for (const ActScales::Entry& e : a.entries)
    tensors.push_back({{"name", e.name}, {"shape", e.shape}});
  s["statistic"] = min_max ? "max |x| per input channel; :max / :min the signed extremes"
                           : "max |x| per input channel";
  s["tensors"] = tensors;
  s["warnings"] = a.warnings;
  return s;
}

const char* maxact_version() {
  return MAXACT_VERSION;
}

std::string summary_path(const std::string& output) {
  return output + ".summary.json";
}

}  // namespace maxact
