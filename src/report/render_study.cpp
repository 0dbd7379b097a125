#include "maxact/quant_report.h"
#include "maxact/renderers.h"
#include "maxact/scan_report.h"

namespace maxact {

std::vector<std::string> study_file_names(const std::string& model_name, bool quant) {
  std::vector<std::string> out{model_name + "_activation_stats.json",
                               model_name + "_top5_stats.json"};
  if (quant) out.push_back(model_name + "_quant_sanity.json");
  return out;
}

std::vector<std::string> bootstrap_study_file_names(const std::string& model_name,
                                                    std::size_t samples, std::size_t repeats) {
  const std::string stem = model_name + "_s" + std::to_string(samples);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < repeats; ++i) {
    for (std::string& f : study_file_names(stem + "_r" + std::to_string(i), false)) {
      out.push_back(std::move(f));
    }
  }
  out.push_back(stem + "_bootstrap.json");
  return out;
}

std::vector<std::string> render_study(const ScanJobResult& r) {
  // A path or token that is not UTF-8 becomes U+FFFD instead of failing the run at its end.
  auto text = [](const auto& j) {
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  };
  std::vector<std::string> out{text(study_activation_stats(r.scan, r.meta)),
                               text(study_top5_stats(r.scan, r.meta))};
  if (r.quant) {
    const CalibrationIdentity& c = r.quant->calibration;
    out.push_back(text(study_quant_sanity(r.quant->result, r.scan, r.meta,
                                          static_cast<int64_t>(c.samples.size()),
                                          static_cast<int64_t>(c.evaluation_samples.size()))));
  }
  return out;
}

}  // namespace maxact
