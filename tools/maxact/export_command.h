// `maxact export KIND SCAN.json -o OUT`: files other tools read, from a scan report.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace maxact::cli {

struct ExportArgs {
  std::string report, output;
  std::string format = "gguf";          // imatrix: gguf | dat
  std::string scales_format = "torch";  // act-scales: torch | safetensors
  std::string fp8_format = "compressed-tensors", scale = "max", kv_scale = "max", model;
  bool kv_only = false;
  bool process_output = false, min_max = false;
  bool quiet = false;
};

struct ExportCommand {
  CLI::App* command = nullptr;
  CLI::App* imatrix = nullptr;
  CLI::App* act_scales = nullptr;
  CLI::App* fp8 = nullptr;
};

ExportCommand add_export_command(CLI::App& app, ExportArgs& a);
int run_export(const ExportCommand& c, const ExportArgs& a);

}  // namespace maxact::cli
