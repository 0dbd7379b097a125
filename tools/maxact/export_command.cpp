#include "export_command.h"

#include <fmt/format.h>

#include "cli_common.h"
#include "io/json_util.h"
#include "maxact/exports.h"
#include "maxact/output_files.h"

namespace maxact::cli {
using nlohmann::json;
}

namespace maxact::cli {

namespace {
// One export: its report, its output and -q, which every export has.
CLI::App* add_export(CLI::App* parent, const char* name, const char* what, const char* output,
                     ExportArgs& a) {
  CLI::App* c = parent->add_subcommand(name, what);
  c->add_option("SCAN", a.report, "A maxact scan report (JSON)")->required();
  c->add_option("-o,--output", a.output, output)->required()->check(limits::kPath);
  c->add_flag("-q,--quiet", a.quiet, "No warnings");
  return c;
}
}  // namespace

ExportCommand add_export_command(CLI::App& app, ExportArgs& a) {
  ExportCommand c;
  c.command = app.add_subcommand("export", "Write files other tools read from a scan report");
  c.command->require_subcommand(1);
  c.imatrix = add_export(
      c.command, "imatrix",
      "llama.cpp's importance matrix (llama-quantize --imatrix): per Linear weight the sum of "
      "x^2 of its input per channel, per expert for MoE layers",
      "The file to write", a);
  c.imatrix
      ->add_option("--format", a.format,
                   "gguf: the current format; dat: llama.cpp's legacy one (no per-expert counts)")
      ->check(CLI::IsMember({"gguf", "dat"}))
      ->capture_default_str();
  c.imatrix->add_flag("--process-output", a.process_output,
                      "Include output.weight (lm_head), as llama-imatrix --process-output");

  c.act_scales = add_export(
      c.command, "act-scales",
      "SmoothQuant's act_scales: per Linear (Hugging Face module name) the per-channel max |x| "
      "of its input",
      "The file to write", a);
  c.act_scales
      ->add_option("--format", a.scales_format,
                   "torch: the dict torch.save writes (torch.load(..., weights_only=True)); "
                   "safetensors: the same tensors")
      ->check(CLI::IsMember({"torch", "safetensors"}))
      ->capture_default_str();
  c.act_scales->add_flag("--min-max", a.min_max,
                         "Also '<module>:max' and '<module>:min': the signed per-channel extremes "
                         "(llm-compressor's max - min)");

  c.fp8 = add_export(
      c.command, "fp8",
      "An FP8 checkpoint vLLM loads: Linear weights cast to E4M3 with per-tensor scales, static "
      "input scales and KV-cache scales from the scan",
      "The checkpoint folder to create (must not exist)", a);
  c.fp8->add_option("--model", a.model, "The model folder the scan read")
      ->required()
      ->check(limits::kPath);
  c.fp8->add_option("--format", a.fp8_format, "compressed-tensors (llm-compressor) or modelopt")
      ->check(CLI::IsMember({"compressed-tensors", "modelopt"}))
      ->capture_default_str();
  c.fp8
      ->add_option("--scale", a.scale,
                   "Calibrated |x| each scale divides by 448: max (the scan's), quantile or mse "
                   "(the quantization check's clip quantile / INT8 MSE threshold; --quant)")
      ->check(CLI::IsMember({"max", "quantile", "mse"}))
      ->capture_default_str();
  c.fp8
      ->add_option("--kv-scale", a.kv_scale,
                   "The same for the k / v scales (quantile / mse need --quant-taps with the "
                   ":k_cache / :v_cache taps)")
      ->check(CLI::IsMember({"max", "quantile", "mse"}))
      ->capture_default_str();
  c.fp8->add_flag("--kv-only", a.kv_only,
                  "Weights unchanged, only k / v scales (compressed-tensors kv_cache_scheme)");
  return c;
}

namespace {

int run_fp8(const ExportArgs& a, const nlohmann::json& report) {
  Fp8Options o;
  o.format = a.fp8_format == "modelopt" ? Fp8Format::kModelOpt : Fp8Format::kCompressedTensors;
  const auto rule = [](const std::string& r) {
    return r == "quantile" ? ScaleRule::kQuantile
                           : (r == "mse" ? ScaleRule::kMse : ScaleRule::kMax);
  };
  o.scale = rule(a.scale);
  o.kv_scale = rule(a.kv_scale);
  o.kv_only = a.kv_only;
  const Fp8Export r = export_fp8(report, a.report, a.model, a.output, o);
  const auto warn = warn_each(a.quiet);
  if (warn) {
    for (const std::string& w : r.warnings) warn(w);
  }
  write_stdout(fmt::format(
      "fp8          {} Linear weights cast, {} KV-scale pairs, {} Linears kept ({}, scale rule "
      "{})\nwritten      {}\n",
      r.summary["linears"].size(), r.summary["kv"].size(), r.summary["ignored"].size(),
      a.fp8_format, a.scale, a.output));
  return 0;
}

}  // namespace

int run_export(const ExportCommand& c, const ExportArgs& a) {
  const std::vector<std::filesystem::path> inputs{a.report};
  if (c.fp8->parsed()) {
    const nlohmann::json report = parse_json(read_text_file(a.report), a.report, ErrorCode::kOption,
                                             duplicate_key_error(a.report, ErrorCode::kOption));
    return run_fp8(a, report);
  }
  check_outputs({a.output, summary_path(a.output)}, inputs);
  const nlohmann::json report = parse_json(read_text_file(a.report), a.report, ErrorCode::kOption,
                                           duplicate_key_error(a.report, ErrorCode::kOption));
  const auto warn = warn_each(a.quiet);
  if (c.act_scales->parsed()) {
    ActScalesOptions o;
    o.min_max = a.min_max;
    const ActScales s = act_scales_from_report(report, a.report, o);
    if (warn) {
      for (const std::string& w : s.warnings) warn(w);
    }
    commit_outputs(
        {{a.output, a.scales_format == "torch" ? act_scales_torch(s) : act_scales_safetensors(s)}},
        inputs);
    write_stdout(fmt::format("act_scales   {} tensors ({})\nwritten      {}\n             {}\n",
                             s.entries.size(), a.scales_format, a.output, summary_path(a.output)));
  }
  if (c.imatrix->parsed()) {
    ImatrixOptions o;
    o.process_output = a.process_output;
    const Imatrix m = imatrix_from_report(report, a.report, o);
    if (warn) {
      for (const std::string& w : m.warnings) warn(w);
    }
    const json summary = imatrix_summary(m, a.format, report, a.report);
    commit_outputs({{a.output, a.format == "dat" ? imatrix_dat(m) : imatrix_gguf(m)},
                    {summary_path(a.output), summary.dump(1) + "\n"}},
                   inputs);
    write_stdout(fmt::format(
        "imatrix      {} weights, {} chunks of {} tokens ({})\nwritten      {}\n"
        "             {}\n",
        m.entries.size(), m.chunk_count, m.chunk_size, a.format, a.output, summary_path(a.output)));
  }
  return 0;
}

}  // namespace maxact::cli
