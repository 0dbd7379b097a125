// `maxact compare REPORT...`: the study's cross-model table from scan reports; with --format study
// the study's quant_sanity_summary.json.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace maxact::cli {

struct CompareArgs {
  std::vector<std::string> reports;
  std::string output, csv, format = "json";
};

CLI::App* add_compare_command(CLI::App& app, CompareArgs& a);
int run_compare(const CompareArgs& a);

}  // namespace maxact::cli
