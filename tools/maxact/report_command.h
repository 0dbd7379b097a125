// `maxact report SCAN.json [-o report.html] [--model-card card.md]`: the HTML report of one scan;
// `maxact report A.json B.json ... -o compare.html`: the comparison page (docs/REPORTS.md).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace maxact::cli {

struct ReportArgs {
  std::vector<std::string> reports;
  std::string output, model_card;
  bool quiet = false;
};

CLI::App* add_report_command(CLI::App& app, ReportArgs& a);
int run_report(const ReportArgs& a);

}  // namespace maxact::cli
