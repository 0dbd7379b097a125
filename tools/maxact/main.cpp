// The maxact command line: parses arguments, calls the library, prints. Errors go to stderr as
// "maxact: error: ..." with exit status 1 (2 for usage errors), and nothing is written to stdout.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "maxact/error.h"
#include "maxact/inspect.h"
#include "maxact/model.h"

namespace {

int run_inspect(const std::string& model_arg, bool as_json) {
  const maxact::Model m = maxact::Model::open(model_arg);
  // Render fully before printing so a failure leaves no partial output.
  const std::string out =
      as_json ? maxact::inspect_json(m).dump(2) + "\n" : maxact::inspect_text(m);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"maxact: measure how large an LLM's activations get"};
  app.set_version_flag("--version", std::string("maxact ") + MAXACT_VERSION);
  app.require_subcommand(1);

  std::string model_arg;
  bool as_json = false;
  auto* inspect = app.add_subcommand(
      "inspect", "Show a model's architecture, size and storage (reads headers only)");
  inspect->add_option("MODEL", model_arg, "Model folder, or hub id org/name[@revision]")
      ->required();
  inspect->add_flag("--json", as_json, "Print JSON instead of the summary");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (inspect->parsed()) return run_inspect(model_arg, as_json);
  } catch (const maxact::Error& e) {
    std::fprintf(stderr, "maxact: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "maxact: internal error: %s\n", e.what());
    return 3;
  }
  return 0;
}
