// The maxact command line: parses arguments, calls the library, prints. Errors go to stderr as
// "maxact: error: ..." with exit status 1 (2 for usage errors), and nothing is written to stdout.
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "cli_common.h"
#include "compare_command.h"
#include "export_command.h"
#include "io/json_util.h"
#include "maxact/corpus.h"
#include "maxact/error.h"
#include "maxact/hub.h"
#include "maxact/inspect.h"
#include "maxact/model.h"
#include "maxact/output_files.h"
#include "maxact/sequences.h"
#include "maxact/tokenizer.h"
#include "merge_command.h"
#include "mpi_world.h"
#include "report_command.h"
#include "scan_command.h"

namespace {

int run_inspect(const std::string& model_arg, bool as_json) {
  const maxact::Model m = maxact::Model::open(model_arg);
  // Render fully before printing so a failure leaves no partial output.
  const std::string out =
      as_json ? maxact::cli::json_text(maxact::inspect_json(m), 2) : maxact::inspect_text(m);
  maxact::cli::write_stdout(out);
  return 0;
}

struct TokenizeArgs {
  std::string source, text, file, decode;
  bool special = false, json = false, special_as_text = false, no_config = false;
};

maxact::Tokenizer open_tokenizer(const TokenizeArgs& a) {
  return maxact::open_tokenizer(a.source, !a.no_config);
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
    out = a.json ? maxact::cli::json_text(nlohmann::json{{"text", text}}, -1) : text + "\n";
  } else {
    std::string text = a.text;
    if (!a.file.empty()) text = maxact::read_text_file(a.file);
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
  maxact::cli::write_stdout(out, /*raw=*/true);  // ids, or the text the user asked to decode
  return 0;
}

struct CorpusArgs {
  std::string corpus, export_path, tokenizer, source_tokenizer, bos = "auto", buckets, protocol;
  int64_t max_seq_len = 2048;
  std::size_t bootstrap = 0;
  maxact::CorpusReadOptions read;
  std::size_t samples = 0;
  uint64_t seed = 0;
  bool proportional = true, json = false;
};

// --bootstrap: the category-proportional subsets a study run draws, with their content hashes.
std::string bootstrap_text(const maxact::Corpus& c, const CorpusArgs& a) {
  std::string out = "bootstrap    " + std::to_string(a.bootstrap) +
                    " category-proportional subsets of " + std::to_string(a.samples) + " samples\n";
  const auto subsets = maxact::bootstrap_selections(c, a.samples, a.seed, a.bootstrap);
  for (std::size_t k = 0; k < subsets.size(); ++k) {
    maxact::Corpus sub;
    for (std::size_t i : subsets[k]) sub.samples.push_back(c.samples[i]);
    out += "  seed " + std::to_string(a.seed + k) + ": " + std::to_string(sub.samples.size()) +
           " samples, content hash " + sub.content_hash() + "\n";
  }
  return out;
}

struct CorpusRow {
  std::size_t samples = 0, chars = 0, ids = 0, tokens = 0;
};

// Per category ("(none)" for samples without one) and over all selected samples.
struct CorpusCounts {
  std::map<std::string, CorpusRow> cats;
  CorpusRow all;
};

CorpusCounts count_samples(const maxact::Corpus& sel) {
  CorpusCounts n;
  for (const auto& s : sel.samples) {
    for (CorpusRow* r : {&n.cats[s.category.empty() ? "(none)" : s.category], &n.all}) {
      ++r->samples;
      r->chars += s.text.size();
      r->ids += s.ids.size();
    }
  }
  return n;
}

// --tokenizer: the tokens of the sequences a scan would read (input_ids samples decoded with
// --source-tokenizer first), per category.
void count_tokens(const CorpusArgs& a, const maxact::Corpus& c,
                  const std::vector<std::size_t>& picked, const maxact::SequenceOptions& so,
                  CorpusCounts& n) {
  TokenizeArgs t;
  t.source = a.tokenizer;
  const maxact::Tokenizer tok = open_tokenizer(t);
  std::optional<maxact::Tokenizer> src;
  if (!a.source_tokenizer.empty()) {
    t.source = a.source_tokenizer;
    src.emplace(open_tokenizer(t));
  }
  const auto seqs = maxact::prepare_sequences(c, picked, tok, src ? &*src : nullptr, so);
  for (const auto& s : seqs) {
    n.cats[s.category.empty() ? "(none)" : s.category].tokens += s.ids.size();
    n.all.tokens += s.ids.size();
  }
}

// --export: the selected samples as JSONL.
void export_samples(const std::string& path, const maxact::Corpus& sel,
                    const std::vector<std::filesystem::path>& inputs) {
  std::string out;
  for (const auto& s : sel.samples) {
    nlohmann::json j = {{"category", s.category}, {"source", s.source}, {"license", s.license}};
    if (s.has_ids) {
      j["input_ids"] = s.ids;
    } else {
      j["text"] = s.text;
    }
    out += maxact::cli::json_text(j, -1);
  }
  maxact::commit_outputs({{path, out}}, inputs);
}

std::string corpus_json(const CorpusArgs& a, const maxact::Corpus& sel, const CorpusCounts& n,
                        const maxact::CorpusReadReport& report) {
  nlohmann::json j = {
      {"origin", sel.origin},
      {"content_hash", sel.content_hash()},
      {"samples", n.all.samples},
      {"bytes", n.all.chars},
      {"token_ids", n.all.ids},
      {"skipped_bad_lines", report.bad_lines},
      {"skipped_empty", report.empty_samples},
      {"invalid_utf8_bytes_replaced", report.invalid_utf8_bytes},
      {"tokens", a.tokenizer.empty() ? nlohmann::json() : nlohmann::json(n.all.tokens)},
      {"categories", nlohmann::json::object()}};
  for (const auto& [cat, r] : n.cats) {
    j["categories"][cat] = {{"samples", r.samples}, {"bytes", r.chars}, {"token_ids", r.ids}};
    if (!a.tokenizer.empty()) j["categories"][cat]["tokens"] = r.tokens;
  }
  return maxact::cli::json_text(j, 2);
}

std::string corpus_text(const CorpusArgs& a, const maxact::Corpus& c, const maxact::Corpus& sel,
                        const CorpusCounts& n, const maxact::CorpusReadReport& report) {
  std::string out = "corpus       " + sel.origin + " (" + std::to_string(n.all.samples) + " of " +
                    std::to_string(c.samples.size()) + " samples)\n";
  out += "content hash " + sel.content_hash() + "\n";
  for (const auto& [cat, r] : n.cats) {
    char line[160];
    const std::string extra =
        (r.ids ? " " + std::to_string(r.ids) + " ids" : std::string()) +
        (a.tokenizer.empty() ? std::string() : " " + std::to_string(r.tokens) + " tokens");
    std::snprintf(line, sizeof line, "  %-16s %6zu samples %10zu bytes%s\n", cat.c_str(), r.samples,
                  r.chars, extra.c_str());
    out += line;
  }
  if (report.bad_lines || report.empty_samples || report.invalid_utf8_bytes) {
    out += "skipped      " + std::to_string(report.bad_lines) + " malformed line(s), " +
           std::to_string(report.empty_samples) + " empty sample(s); " +
           std::to_string(report.invalid_utf8_bytes) + " invalid UTF-8 byte(s) replaced\n";
  }
  return out;
}

int run_corpus(const CorpusArgs& a) {
  std::vector<std::filesystem::path> inputs;
  if (!a.corpus.empty() && a.corpus != "-") inputs = maxact::input_files(a.corpus);
  maxact::check_outputs({a.export_path}, inputs);
  maxact::CorpusReadReport report;
  const maxact::Corpus owned =
      a.corpus.empty() ? maxact::Corpus{} : maxact::read_corpus(a.corpus, a.read, &report);
  const maxact::Corpus& c = a.corpus.empty() ? maxact::builtin_corpus() : owned;
  const maxact::SequenceOptions so =
      maxact::sequence_options(a.protocol, a.bos, a.buckets, a.max_seq_len, a.seed);
  if (a.bootstrap > 0) {
    maxact::cli::write_stdout(bootstrap_text(c, a));
    return 0;
  }
  const auto picked = maxact::select_samples(c, a.samples, a.seed, a.proportional);
  maxact::Corpus sel;
  sel.origin = c.origin;
  for (std::size_t i : picked) sel.samples.push_back(c.samples[i]);
  CorpusCounts n = count_samples(sel);
  if (!a.tokenizer.empty()) count_tokens(a, c, picked, so, n);
  if (!a.export_path.empty()) export_samples(a.export_path, sel, inputs);
  maxact::cli::write_stdout(a.json ? corpus_json(a, sel, n, report)
                                   : corpus_text(a, c, sel, n, report));
  return 0;
}

// Applies to every subcommand too: set before any is added (CLI11 copies them at creation).
void configure_app(CLI::App& app) {
  const std::string mpi = maxact::cli::mpi_library();
  app.set_version_flag("--version", std::string("maxact ") + MAXACT_VERSION + " (MPI: " +
                                        (mpi.empty() ? std::string("not built in") : mpi) + ")");
  app.require_subcommand(1);
  // Usage errors look like every other error (and echo the offending value escaped and cut).
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "maxact: error: " + maxact::cli::printable(e.what(), 400) +
           "\nRun with --help for more information.\n";
  });
}

CLI::App* add_inspect_command(CLI::App& app, std::string& model_arg, bool& as_json) {
  auto* inspect = app.add_subcommand(
      "inspect", "Show a model's architecture, size and storage (reads headers only)");
  inspect->add_option("MODEL", model_arg, "Model folder, or hub id org/name[@revision]")
      ->required();
  inspect->add_flag("--json", as_json, "Print JSON instead of the summary");
  return inspect;
}

struct TokenizeCommand {
  CLI::App* command;
  CLI::Option* text;  // counted: --text "" still selects encoding
};

TokenizeCommand add_tokenize_command(CLI::App& app, TokenizeArgs& targs) {
  auto* tokenize =
      app.add_subcommand("tokenize", "Tokenize text exactly as the model's tokenizer.json does");
  tokenize->add_option("MODEL_OR_FILE", targs.source, "tokenizer.json, model folder, or hub id")
      ->required();
  auto* text_opt = tokenize->add_option("--text", targs.text, "Text to encode");
  auto* file_opt = tokenize->add_option("--file", targs.file, "File whose contents to encode")
                       ->check(maxact::cli::limits::kPath);
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
  return {tokenize, text_opt};
}

CLI::App* add_corpus_command(CLI::App& app, CorpusArgs& cargs) {
  auto* corpus = app.add_subcommand(
      "corpus", "Summarise (and export) the text a scan would read: the built-in corpus or files");
  corpus
      ->add_option("--corpus", cargs.corpus,
                   "JSONL / text file, folder, or - for stdin (default: the built-in corpus)")
      ->check(maxact::cli::limits::kPath);
  corpus->add_option("--text-field", cargs.read.text_field, "JSONL field holding the text")
      ->capture_default_str();
  corpus->add_option("--ids-field", cargs.read.ids_field, "JSONL field holding token ids")
      ->capture_default_str();
  corpus
      ->add_option("--category-field", cargs.read.category_field, "JSONL field naming the category")
      ->capture_default_str();
  corpus->add_flag("--skip-bad", cargs.read.skip_bad, "Skip and count malformed JSONL lines");
  corpus->add_option("--samples", cargs.samples, "Select this many samples (0 = all)")
      ->check(maxact::cli::limits::kSamples);
  corpus->add_option("--seed", cargs.seed, "Seed of the selection")
      ->check(maxact::cli::limits::kSeed);
  corpus->add_flag("--proportional,!--uniform", cargs.proportional,
                   "Keep each category's share when selecting (default) or pick uniformly");
  corpus->add_option("--export", cargs.export_path, "Write the selected samples as JSONL")
      ->check(maxact::cli::limits::kPath);
  corpus->add_flag("--json", cargs.json, "Print the summary as JSON");
  corpus->add_option("--tokenizer", cargs.tokenizer,
                     "Tokenize with this model / tokenizer.json and count tokens");
  corpus->add_option("--source-tokenizer", cargs.source_tokenizer,
                     "Tokenizer that produced input_ids samples (decoded, then re-encoded)");
  corpus
      ->add_option("--max-seq-len", cargs.max_seq_len,
                   "Truncate sequences to this many tokens (0 = no limit)")
      ->check(maxact::cli::limits::kSeqLen)
      ->capture_default_str();
  corpus
      ->add_option("--bos", cargs.bos, "BOS policy: auto (the tokenizer's template), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  corpus->add_option("--buckets", cargs.buckets,
                     "Truncation length buckets: study (256..4096, 1/1/2/3/93 %)");
  corpus->add_option("--protocol", cargs.protocol,
                     "study: no special tokens, the study's length buckets");
  corpus
      ->add_option("--bootstrap", cargs.bootstrap,
                   "List K category-proportional subsets (seeds seed..seed+K-1)")
      ->check(maxact::cli::limits::kBootstrap);
  return corpus;
}

// Prints the error (a rank's prefixed with its rank) and, under mpirun, ends the whole job.
int fail(const char* kind, const std::string& message, int code) {
  std::fprintf(stderr, "maxact: %s: %s%s\n", kind, maxact::cli::rank_prefix().c_str(),
               message.c_str());
  maxact::cli::end_job_on_error(code);
  return code;
}

}  // namespace

// A scan allocates and frees the same large buffers (activations, a layer's weights) for every
// layer of every window. glibc serves allocations above its mmap threshold (at most 32 MiB) with
// fresh mappings and unmaps them on free, so each layer page-faulted its buffers in anew: 15 % of
// a scan's time on the benchmark shape. Freed memory is kept for the next layer instead; the peak
// is the same, since those buffers are alive together at the peak anyway.
static void keep_freed_memory() {
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
}

int main(int argc, char** argv) {
  keep_freed_memory();
  CLI::App app{"maxact: measure how large an LLM's activations get"};
  configure_app(app);
  std::string model_arg;
  bool as_json = false;
  auto* inspect = add_inspect_command(app, model_arg, as_json);
  TokenizeArgs targs;
  const TokenizeCommand tokenize = add_tokenize_command(app, targs);
  CorpusArgs cargs;
  auto* corpus = add_corpus_command(app, cargs);
  maxact::cli::ScanArgs sargs;
  auto* scan = maxact::cli::add_scan_command(app, sargs);
  maxact::cli::CompareArgs compare_args;
  auto* compare = maxact::cli::add_compare_command(app, compare_args);
  maxact::cli::ExportArgs export_args;
  const maxact::cli::ExportCommand export_cmd = maxact::cli::add_export_command(app, export_args);
  maxact::cli::ReportArgs report_args;
  auto* report = maxact::cli::add_report_command(app, report_args);
  maxact::cli::MergeArgs merge_args;
  auto* merge = maxact::cli::add_merge_command(app, merge_args);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message; its own codes (105, 106, ...) become the documented usage status 2
    // (--help and --version stay 0).
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (inspect->parsed()) return run_inspect(model_arg, as_json);
    if (corpus->parsed()) return run_corpus(cargs);
    if (scan->parsed()) {
      sargs.command = maxact::cli::shell_command(argc, argv);
      return maxact::cli::run_scan(sargs);
    }
    if (report->parsed()) return maxact::cli::run_report(report_args);
    if (merge->parsed()) {
      merge_args.command = maxact::cli::shell_command(argc, argv);
      return maxact::cli::run_merge(merge_args);
    }
    if (compare->parsed()) return maxact::cli::run_compare(compare_args);
    if (export_cmd.command->parsed()) return maxact::cli::run_export(export_cmd, export_args);
    if (tokenize.command->parsed()) {
      if (targs.text.empty() && targs.file.empty() && targs.decode.empty() &&
          !tokenize.text->count()) {
        std::fprintf(stderr, "maxact: error: tokenize needs --text, --file or --decode\n");
        return 2;
      }
      return run_tokenize(targs);
    }
  } catch (const maxact::Error& e) {
    // Messages quote untrusted text already; this keeps any that slipped through harmless.
    return fail("error", maxact::cli::printable(e.what(), 400), 1);
  } catch (const std::filesystem::filesystem_error& e) {
    return fail("error", maxact::cli::printable(e.what(), 400), 1);
  } catch (const std::bad_alloc&) {
    // Where memory ran out is said by the reader that knows the file; this is the last resort.
    return fail("error", "out of memory", 1);
  } catch (const std::exception& e) {
    return fail("internal error", maxact::cli::printable(e.what(), 400), 3);
  }
  return 0;
}
