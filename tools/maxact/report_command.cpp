#include "report_command.h"

#include <fmt/format.h>

#include <filesystem>

#include "cli_common.h"
#include "io/json_util.h"
#include "maxact/error.h"
#include "maxact/html_report.h"
#include "maxact/output_files.h"

namespace maxact::cli {

CLI::App* add_report_command(CLI::App& app, ReportArgs& a) {
  auto* c = app.add_subcommand(
      "report",
      "HTML report of a scan (plots, top values in context, FP16/FP8 headroom, quantization "
      "check, experts), or a comparison page of several scans; self-contained, opens offline");
  c->add_option("REPORT", a.reports, "maxact scan JSON reports")->required();
  c->add_option("-o,--output", a.output,
                "The HTML file (default for one report: its name with .html; several reports "
                "need -o)")
      ->check(limits::kPath);
  c->add_option("--model-card", a.model_card,
                "Also write a Markdown model-card section (one report only)")
      ->check(limits::kPath);
  return c;
}

int run_report(const ReportArgs& a) {
  if (a.reports.size() > 1 && a.output.empty()) {
    throw Error(ErrorCode::kOption, "a comparison of several reports needs -o FILE.html");
  }
  if (a.reports.size() > 1 && !a.model_card.empty()) {
    throw Error(ErrorCode::kOption, "--model-card describes one model: give one report");
  }
  std::string output = a.output;
  if (output.empty()) {
    output = std::filesystem::path(a.reports.front()).replace_extension(".html").string();
  }
  const std::vector<std::filesystem::path> inputs(a.reports.begin(), a.reports.end());
  check_outputs({output, a.model_card}, inputs);
  std::vector<std::pair<std::string, nlohmann::json>> reports;
  for (const auto& path : a.reports) {
    reports.emplace_back(path, parse_json(read_text_file(path), path, ErrorCode::kOption,
                                          duplicate_key_error(path, ErrorCode::kOption)));
  }
  std::vector<std::pair<std::string, std::string>> files;
  if (reports.size() == 1) {
    files.emplace_back(output, render_html_report(reports[0].second, reports[0].first));
    if (!a.model_card.empty()) {
      files.emplace_back(a.model_card, render_model_card(reports[0].second, reports[0].first));
    }
  } else {
    files.emplace_back(output, render_html_compare(reports));
  }
  commit_outputs(files, inputs);
  std::string text;
  for (std::size_t i = 0; i < files.size(); ++i) {
    text += fmt::format("{:<13}{} ({:.0f} kB)\n", i == 0 ? "written" : "", files[i].first,
                        static_cast<double>(files[i].second.size()) / 1000.0);
  }
  write_stdout(text);
  return 0;
}

}  // namespace maxact::cli
