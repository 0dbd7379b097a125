#include "scan_outputs.h"

#include <fmt/format.h>

#include "cli_common.h"
#include "maxact/error.h"
#include "maxact/exports.h"
#include "maxact/html_report.h"
#include "maxact/output_files.h"
#include "maxact/renderers.h"

namespace maxact::cli {

// The files --format study writes into the -o folder.
std::vector<std::string> study_files(const ScanArgs& a) {
  const std::string model = study_model_name(a.model);
  return a.bootstrap > 0 ? bootstrap_study_file_names(model, a.samples, a.bootstrap)
                         : study_file_names(model, a.quant);
}

// Every file the scan will write, known before it starts. --format study writes into the -o
// folder, which is made only when the files are written (a failed scan leaves no empty folder).
std::vector<std::string> output_paths(const ScanArgs& a) {
  std::vector<std::string> out;
  if (a.format == "study") {
    for (const std::string& f : study_files(a)) {
      out.push_back((std::filesystem::path(a.output) / f).string());
    }
  } else if (!a.output.empty()) {
    out.push_back(a.output);
  }
  if (!a.csv.empty()) out.push_back(a.csv);
  if (!a.quant_csv.empty()) out.push_back(a.quant_csv);
  if (!a.imatrix.empty()) {
    out.push_back(a.imatrix);
    out.push_back(summary_path(a.imatrix));
  }
  if (!a.html.empty()) out.push_back(a.html);
  return out;
}

// The contents of output_paths(), in its order.
std::vector<std::string> render_outputs(const ScanArgs& a, const ScanJobResult& r) {
  std::vector<std::string> out;
  if (a.format == "study") {
    out = render_study(r);
  } else if (!a.output.empty()) {
    out.push_back(render_json(r));
  }
  if (!a.csv.empty()) out.push_back(render_csv(r));
  if (!a.quant_csv.empty()) out.push_back(render_quant_csv(r));
  if (!a.imatrix.empty()) {
    for (std::string& f : render_imatrix(r, a.format == "json" ? a.output : "", warn_each(a.quiet)))
      out.push_back(std::move(f));
  }
  if (!a.html.empty()) {
    // From the report as written (invalid UTF-8 already replaced), named as -o names it.
    const std::string json_text =
        a.format == "json" && !a.output.empty() ? out.front() : render_json(r);
    out.push_back(render_html_report(nlohmann::json::parse(json_text),
                                     a.format == "json" && !a.output.empty() ? a.output : a.model));
  }
  return out;
}

// Every output is checked against every input before hours of scanning. Returns whether the
// --format study folder is still to be made.
bool check_scan_outputs(const ScanArgs& a, const std::vector<std::string>& outputs,
                        const std::vector<std::filesystem::path>& inputs) {
  if (a.format != "study" || std::filesystem::is_directory(a.output)) {
    check_outputs(outputs, inputs);
    return false;
  }
  // The folder itself must be creatable: its parent exists and is writable, it is not a file.
  if (std::error_code ec; std::filesystem::exists(a.output, ec)) {
    throw Error(ErrorCode::kIo, a.output + ": --format study needs a folder here, not a file");
  }
  check_outputs({a.output}, inputs);
  const auto in_folder = static_cast<std::ptrdiff_t>(study_files(a).size());
  check_outputs(std::vector<std::string>(outputs.begin() + in_folder, outputs.end()), inputs);
  return true;
}

void write_outputs(const ScanArgs& a, const std::vector<std::pair<std::string, std::string>>& files,
                   const std::vector<std::filesystem::path>& inputs, bool make_study_dir) {
  if (!make_study_dir) {
    commit_outputs(files, inputs);
    return;
  }
  std::error_code ec;
  std::filesystem::create_directory(a.output, ec);
  if (ec) throw Error(ErrorCode::kIo, a.output + ": " + ec.message());
  try {
    commit_outputs(files, inputs);
  } catch (const Error&) {
    std::filesystem::remove(a.output, ec);  // only if still empty
    throw;
  }
}

// After the summary, where its files went (the run command's user looks for them there).
void print_written(const std::vector<std::string>& paths) {
  for (std::size_t i = 0; i < paths.size(); ++i) {
    fmt::print("{:<13}{}\n", i == 0 ? "written" : "", paths[i]);
  }
}

}  // namespace maxact::cli
