#include "compare_command.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli_common.h"
#include "io/json_util.h"
#include "maxact/error.h"
#include "maxact/output_files.h"
#include "maxact/quant_report.h"

namespace maxact::cli {

CLI::App* add_compare_command(CLI::App& app, CompareArgs& a) {
  auto* c = app.add_subcommand(
      "compare",
      "Compare scan reports across models: peaks, FP16/FP8 headroom, quantization "
      "error, and how error co-varies with the peak");
  c->add_option("REPORT", a.reports,
                "maxact scan JSON reports (with --quant for error columns); with --format study "
                "also the study's <model>_quant_sanity.json files")
      ->required();
  c->add_option("--format", a.format,
                "json: maxact's table (text, -o JSON, --csv); study: the study's "
                "quant_sanity_summary.json (to -o, or stdout)")
      ->check(CLI::IsMember({"json", "study"}))
      ->capture_default_str();
  c->add_option("-o,--output", a.output, "Write the table (or the study's summary) as JSON here")
      ->check(limits::kPath);
  c->add_option("--csv", a.csv, "Write the table as CSV here")->check(limits::kPath);
  return c;
}

int run_compare(const CompareArgs& a) {
  if (a.format == "study" && !a.csv.empty()) {
    throw Error(ErrorCode::kOption, "--csv: the study's summary is JSON only (--format study)");
  }
  std::vector<std::filesystem::path> inputs(a.reports.begin(), a.reports.end());
  check_outputs({a.output, a.csv}, inputs);
  std::vector<std::pair<std::string, nlohmann::json>> reports;
  for (const auto& path : a.reports) {
    reports.emplace_back(path, parse_json(read_text_file(path), path, ErrorCode::kOption,
                                          duplicate_key_error(path, ErrorCode::kOption)));
  }
  if (a.format == "study") {
    // indent 2, as the study's json.dump(indent=2).
    const std::string text = json_text(study_quant_summary(reports), 2);
    if (a.output.empty()) {
      write_stdout(text);
    } else {
      commit_outputs({{a.output, text}}, inputs);
    }
    return 0;
  }
  const Comparison c = compare_reports(reports);
  std::vector<std::pair<std::string, std::string>> files;
  if (!a.output.empty()) files.emplace_back(a.output, json_text(c.table, 1));
  if (!a.csv.empty()) files.emplace_back(a.csv, c.csv);
  commit_outputs(files, inputs);
  write_stdout(c.text);
  return 0;
}

}  // namespace maxact::cli
