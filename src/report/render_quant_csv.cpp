#include "maxact/quant_report.h"
#include "maxact/renderers.h"

namespace maxact {

std::string render_quant_csv(const ScanJobResult& r) {
  return r.quant ? quant_report_csv(r.quant->result, r.meta.names) : std::string();
}

}  // namespace maxact
