#include "merge_command.h"

#include <filesystem>

#include "cli_common.h"
#include "maxact/error.h"
#include "maxact/renderers.h"
#include "maxact/scan_state.h"
#include "scan_outputs.h"

namespace maxact::cli {

CLI::App* add_merge_command(CLI::App& app, MergeArgs& a) {
  auto* m = app.add_subcommand(
      "merge",
      "Write the reports of one scan from the states of all its shards (scan --shard I/N "
      "--state FILE), exactly as one run writes them");
  m->add_option("STATE", a.states, "The shards' state files, in any order")->required();
  m->add_option("--format", a.format, "json: maxact's report; study: the study's files into -o")
      ->check(CLI::IsMember({"json", "study"}))
      ->capture_default_str();
  m->add_option("-o,--output", a.output,
                "Write the JSON report here (a folder with --format study)")
      ->check(limits::kPath);
  m->add_option("--csv", a.csv, "Write per-tap scalars as CSV here")->check(limits::kPath);
  m->add_option("--quant-csv", a.quant_csv, "Write one row per (tap, policy) as CSV here")
      ->check(limits::kPath);
  m->add_option("--imatrix", a.imatrix,
                "Write llama.cpp's importance matrix here (the scan needs --expert-inputs for "
                "MoE models)")
      ->check(limits::kPath);
  m->add_option("--html", a.html, "Write the HTML report here")->check(limits::kPath);
  m->add_flag("-q,--quiet", a.quiet, "No warnings");
  return m;
}

int run_merge(const MergeArgs& a) {
  if (a.format == "study" && a.output.empty()) {
    throw Error(ErrorCode::kIo, "--format study needs -o FOLDER for its files");
  }
  std::vector<ScanState> states;
  for (const std::string& path : a.states) states.push_back(read_state(path));
  const bool quant = static_cast<bool>(states.front().result.quant);
  // The outputs as scan names them (study file names follow the model).
  ScanArgs s;
  s.model = states.front().result.meta.model_arg;
  s.quant = quant;
  s.format = a.format;
  s.output = a.output;
  s.csv = a.csv;
  s.quant_csv = a.quant_csv;
  s.imatrix = a.imatrix;
  s.html = a.html;
  s.quiet = a.quiet;
  if (!quant && !a.quant_csv.empty()) {
    throw Error(ErrorCode::kOption, "--quant-csv: the scan ran no quantization check (--quant)");
  }
  const std::vector<std::filesystem::path> inputs(a.states.begin(), a.states.end());
  const std::vector<std::string> outputs = output_paths(s);
  const bool make_study_dir = check_scan_outputs(s, outputs, inputs);
  ScanJobResult r = merge_states(std::move(states), a.states);
  r.meta.command = a.command;
  const std::vector<std::string> contents = render_outputs(s, r);
  std::vector<std::pair<std::string, std::string>> files;
  for (std::size_t i = 0; i < outputs.size(); ++i) files.emplace_back(outputs[i], contents[i]);
  write_outputs(s, files, inputs, make_study_dir);
  write_stdout(render_summary(r));
  print_written(outputs);
  return 0;
}

}  // namespace maxact::cli
