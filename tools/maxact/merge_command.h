// `maxact merge STATE...`: the reports of one scan from the states of its shards (--shard I/N
// --state FILE), bitwise those a single run writes apart from its timing fields.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace maxact::cli {

struct MergeArgs {
  std::vector<std::string> states;
  std::string format = "json", output, csv, quant_csv, imatrix, html;
  bool quiet = false;
  std::string command;  // this command line, recorded in the report
};

CLI::App* add_merge_command(CLI::App& app, MergeArgs& a);
int run_merge(const MergeArgs& a);

}  // namespace maxact::cli
