// The maxact command line: parses arguments, calls the library, prints. Errors go to stderr as
// "maxact: error: ..." with exit status 1 (2 for usage errors), and nothing is written to stdout.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "maxact/error.h"
#include "maxact/hub.h"
#include "maxact/inspect.h"
#include "maxact/model.h"
#include "maxact/tokenizer.h"

namespace {

int run_inspect(const std::string& model_arg, bool as_json) {
  const maxact::Model m = maxact::Model::open(model_arg);
  // Render fully before printing so a failure leaves no partial output.
  const std::string out =
      as_json ? maxact::inspect_json(m).dump(2) + "\n" : maxact::inspect_text(m);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

struct TokenizeArgs {
  std::string source, text, file, decode;
  bool special = false, json = false, special_as_text = false, no_config = false;
};

// A tokenizer.json file, a model folder, or a hub id.
maxact::Tokenizer open_tokenizer(const TokenizeArgs& a) {
  std::error_code ec;
  std::filesystem::path p = a.source;
  if (!std::filesystem::exists(p, ec)) p = maxact::resolve_model(a.source).dir;
  maxact::Tokenizer::Options o;
  o.use_tokenizer_config = !a.no_config;
  return maxact::Tokenizer::load(p, o);
}

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  std::string tok;
  for (char c : s + " ") {
    if (c == ' ' || c == ',' || c == '\n' || c == '\t' || c == '[' || c == ']') {
      if (tok.empty()) continue;
      std::size_t used = 0;
      long v = -1;
      try {
        v = std::stol(tok, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != tok.size() || v < 0 || v > 0x7FFFFFFF) {
        throw maxact::Error(maxact::ErrorCode::kTokenizer,
                            "--decode: '" + tok + "' is not a token id");
      }
      ids.push_back(static_cast<int32_t>(v));
      tok.clear();
    } else {
      tok += c;
    }
  }
  return ids;
}

int run_tokenize(const TokenizeArgs& a) {
  const maxact::Tokenizer tok = open_tokenizer(a);
  std::string out;
  if (!a.decode.empty()) {
    const std::string text = tok.decode(parse_ids(a.decode), false);
    out = a.json ? nlohmann::json{{"text", text}}.dump() + "\n" : text + "\n";
  } else {
    std::string text = a.text;
    if (!a.file.empty()) {
      std::ifstream in(a.file, std::ios::binary);
      if (!in) throw maxact::Error(maxact::ErrorCode::kIo, a.file + ": cannot open for reading");
      std::ostringstream ss;
      ss << in.rdbuf();
      text = ss.str();
    }
    if (const std::size_t bad = maxact::repair_utf8(text); bad > 0) {
      std::fprintf(stderr, "maxact: warning: %zu byte(s) of invalid UTF-8 replaced by U+FFFD\n",
                   bad);
    }
    const auto ids = tok.encode(text, a.special, a.special_as_text);
    if (a.json) {
      nlohmann::json tokens = nlohmann::json::array();
      for (int32_t id : ids) tokens.push_back(tok.id_to_token(id).value_or(""));
      out = nlohmann::json{{"ids", ids}, {"tokens", tokens}}.dump(
                -1, ' ', false, nlohmann::json::error_handler_t::replace) +
            "\n";
    } else {
      for (std::size_t i = 0; i < ids.size(); ++i) out += (i ? " " : "") + std::to_string(ids[i]);
      out += "\n";
    }
  }
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

  TokenizeArgs targs;
  auto* tokenize =
      app.add_subcommand("tokenize", "Tokenize text exactly as the model's tokenizer.json does");
  tokenize->add_option("MODEL_OR_FILE", targs.source, "tokenizer.json, model folder, or hub id")
      ->required();
  auto* text_opt = tokenize->add_option("--text", targs.text, "Text to encode");
  auto* file_opt = tokenize->add_option("--file", targs.file, "File whose contents to encode");
  auto* decode_opt =
      tokenize->add_option("--decode", targs.decode, "Token ids to decode (\"1 2 3\" or 1,2,3)");
  text_opt->excludes(file_opt)->excludes(decode_opt);
  file_opt->excludes(decode_opt);
  tokenize->add_flag("--special", targs.special, "Add special tokens (BOS/EOS template)");
  tokenize->add_flag("--special-as-text", targs.special_as_text,
                     "Do not match special tokens written in the text");
  tokenize->add_flag(
      "--no-tokenizer-config", targs.no_config,
      "Ignore tokenizer_config.json (tokenizer.json alone, as the tokenizers library)");
  tokenize->add_flag("--json", targs.json, "Print ids and token strings as JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (inspect->parsed()) return run_inspect(model_arg, as_json);
    if (tokenize->parsed()) {
      if (targs.text.empty() && targs.file.empty() && targs.decode.empty() && !text_opt->count()) {
        std::fprintf(stderr, "maxact: error: tokenize needs --text, --file or --decode\n");
        return 2;
      }
      return run_tokenize(targs);
    }
  } catch (const maxact::Error& e) {
    std::fprintf(stderr, "maxact: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "maxact: internal error: %s\n", e.what());
    return 3;
  }
  return 0;
}
