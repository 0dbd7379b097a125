#include "compare_command.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli_common.h"
#include "maxact/error.h"
#include "maxact/quant_report.h"

namespace maxact::cli {

CLI::App* add_compare_command(CLI::App& app, CompareArgs& a) {
  auto* c = app.add_subcommand(
      "compare",
      "Compare scan reports across models: peaks, FP16/FP8 headroom, quantization "
      "error, and how error co-varies with the peak");
  c->add_option("REPORT", a.reports, "maxact scan JSON reports (with --quant for error columns)")
      ->required();
  c->add_option("-o,--output", a.output, "Write the table as JSON here");
  c->add_option("--csv", a.csv, "Write the table as CSV here");
  return c;
}

int run_compare(const CompareArgs& a) {
  check_output_paths({a.output, a.csv});
  std::vector<std::pair<std::string, nlohmann::json>> reports;
  for (const auto& path : a.reports) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorCode::kIo, path + ": cannot open for reading");
    std::stringstream ss;
    ss << in.rdbuf();
    nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
    if (j.is_discarded()) throw Error(ErrorCode::kOption, path + ": not valid JSON");
    reports.emplace_back(path, std::move(j));
  }
  const Comparison c = compare_reports(reports);
  std::vector<std::pair<std::string, std::string>> files;
  if (!a.output.empty()) files.emplace_back(a.output, c.table.dump(1) + "\n");
  if (!a.csv.empty()) files.emplace_back(a.csv, c.csv);
  write_files(files);
  std::fwrite(c.text.data(), 1, c.text.size(), stdout);
  return 0;
}

}  // namespace maxact::cli
