#include "maxact/exports.h"
#include "maxact/renderers.h"
#include "maxact/scan_report.h"

namespace maxact {

std::vector<std::string> render_imatrix(const ScanJobResult& r, const std::string& report_file,
                                        const std::function<void(const std::string&)>& warning) {
  // The export reads a report's Hugging Face tap names (study names leave Linear inputs out).
  ScanMeta meta = r.meta;
  meta.names = TapNames::kHf;
  meta.token_text = nullptr;
  const nlohmann::json report = scan_report_json(r.scan, meta);
  const Imatrix m = imatrix_from_report(report, "the scan");
  if (warning) {
    for (const std::string& w : m.warnings) warning(w);
  }
  return {imatrix_gguf(m), imatrix_summary(m, "gguf", report, report_file).dump(1) + "\n"};
}

}  // namespace maxact
