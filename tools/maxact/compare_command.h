// `maxact compare REPORT...`: the study's cross-model table from scan reports.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace maxact::cli {

struct CompareArgs {
  std::vector<std::string> reports;
  std::string output, csv;
};

CLI::App* add_compare_command(CLI::App& app, CompareArgs& a);
int run_compare(const CompareArgs& a);

}  // namespace maxact::cli
