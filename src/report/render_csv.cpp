#include "maxact/renderers.h"
#include "maxact/scan_report.h"

namespace maxact {

std::string render_csv(const ScanJobResult& r) {
  return scan_report_csv(r.scan, r.meta.names);
}

}  // namespace maxact
