#include "maxact/quant_report.h"
#include "maxact/renderers.h"
#include "maxact/scan_report.h"

namespace maxact {
using nlohmann::json;

std::string render_json(const ScanJobResult& r) {
  json doc = scan_report_json(r.scan, r.meta);
  if (r.quant) {
    const CalibrationIdentity& c = r.quant->calibration;
    const json calibration = {{"samples", c.samples.size()},
                              {"content_hash", c.content_hash},
                              {"sample_indices", c.samples},
                              {"evaluation_sample_indices", c.evaluation_samples}};
    doc["quant"] = quant_report_json(r.quant->result, calibration, r.meta.names);
  }
  // Invalid UTF-8 (a path that is not UTF-8, a token's bytes) becomes U+FFFD instead of failing
  // the run at its end.
  return doc.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace maxact
