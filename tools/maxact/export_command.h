// `maxact export KIND SCAN.json -o OUT`: files other tools read, from a scan report.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace maxact::cli {

struct ExportArgs {
  std::string report, output;
  std::string format = "gguf";  // imatrix: gguf | dat
  bool process_output = false;
  bool quiet = false;
};

struct ExportCommand {
  CLI::App* command = nullptr;
  CLI::App* imatrix = nullptr;
};

ExportCommand add_export_command(CLI::App& app, ExportArgs& a);
int run_export(const ExportCommand& c, const ExportArgs& a);

}  // namespace maxact::cli
