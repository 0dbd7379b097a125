#include <fmt/format.h>

#include "maxact/quant_report.h"
#include "maxact/renderers.h"
#include "maxact/scan_report.h"

namespace maxact {

std::string render_summary(const ScanJobResult& r) {
  std::string out = scan_summary_text(r.scan, r.meta);
  if (r.quant) out += quant_summary_text(r.quant->result, r.meta.names);
  return out;
}

std::string render_bootstrap_summary(const BootstrapResult& b) {
  std::string out = fmt::format("bootstrap    {} subsets of {} samples ({})\n", b.subsets.size(),
                                b.samples, b.corpus_origin);
  for (const BootstrapSubset& s : b.subsets) {
    if (!s.global_max) continue;
    const BootstrapPeak& g = *s.global_max;
    out += fmt::format("  seed {:<6} {:>8} tokens  max {:>12.6g} at {}\n", s.seed, s.tokens,
                       g.value, g.study_name.empty() ? g.tap : g.study_name);
  }
  if (const auto& p = b.spread) {
    out += fmt::format(
        "stability    |M| mean {:.6g}, std {:.3g} (CV {:.1f} %), range {:.6g}..{:.6g} ({:.1f} % "
        "of the mean)\n",
        p->mean, p->std, p->cv_percent, p->min, p->max, 100.0 * p->relative_range);
  }
  return out;
}

}  // namespace maxact
