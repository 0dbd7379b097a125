#include "export_command.h"

#include <fmt/format.h>

#include "cli_common.h"
#include "io/json_util.h"
#include "maxact/exports.h"
#include "maxact/output_files.h"

namespace maxact::cli {

ExportCommand add_export_command(CLI::App& app, ExportArgs& a) {
  ExportCommand c;
  c.command = app.add_subcommand("export", "Write files other tools read from a scan report");
  c.command->require_subcommand(1);
  c.imatrix = c.command->add_subcommand(
      "imatrix",
      "llama.cpp's importance matrix (llama-quantize --imatrix): per Linear weight the sum of "
      "x^2 of its input per channel, per expert for MoE layers");
  c.imatrix->add_option("SCAN", a.report, "A maxact scan report (JSON)")->required();
  c.imatrix->add_option("-o,--output", a.output, "The file to write")
      ->required()
      ->check(limits::kPath);
  c.imatrix
      ->add_option("--format", a.format,
                   "gguf: the current format; dat: llama.cpp's legacy one (no per-expert counts)")
      ->check(CLI::IsMember({"gguf", "dat"}))
      ->capture_default_str();
  c.imatrix->add_flag("--process-output", a.process_output,
                      "Include output.weight (lm_head), as llama-imatrix --process-output");
  c.imatrix->add_flag("-q,--quiet", a.quiet, "No warnings");
  return c;
}

int run_export(const ExportCommand& c, const ExportArgs& a) {
  const std::vector<std::filesystem::path> inputs{a.report};
  check_outputs({a.output}, inputs);
  const nlohmann::json report = parse_json(read_text_file(a.report), a.report, ErrorCode::kOption,
                                           duplicate_key_error(a.report, ErrorCode::kOption));
  if (c.imatrix->parsed()) {
    ImatrixOptions o;
    o.process_output = a.process_output;
    const Imatrix m = imatrix_from_report(report, a.report, o);
    const auto warn = warn_each(a.quiet);
    if (warn) {
      for (const std::string& w : m.warnings) warn(w);
    }
    commit_outputs({{a.output, a.format == "dat" ? imatrix_dat(m) : imatrix_gguf(m)}}, inputs);
    write_stdout(
        fmt::format("imatrix      {} weights, {} chunks of {} tokens ({})\nwritten      {}\n",
                    m.entries.size(), m.chunk_count, m.chunk_size, a.format, a.output));
  }
  return 0;
}

}  // namespace maxact::cli
