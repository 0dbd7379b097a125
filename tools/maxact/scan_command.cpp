#include "scan_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>

#include "cli_common.h"
#include "maxact/error.h"
#include "maxact/inspect.h"
#include "maxact/model.h"
#include "maxact/output_files.h"
#include "maxact/quant_check.h"
#include "maxact/quant_report.h"
#include "maxact/scan.h"
#include "maxact/scan_report.h"
#include "maxact/sequences.h"
#include "maxact/tokenizer.h"

namespace maxact::cli {

CLI::App* add_scan_command(CLI::App& app, ScanArgs& a) {
  auto* s = app.add_subcommand(
      "scan", "Run the model over a corpus and record activation statistics at every tap");
  s->add_option("MODEL", a.model, "Model folder, or hub id org/name[@revision]")->required();
  s->add_option("--corpus", a.corpus,
                "JSONL / text file, folder, or - for stdin (default: the built-in corpus)")
      ->check(limits::kPath);
  s->add_option("--text-field", a.read.text_field, "JSONL field holding the text")
      ->capture_default_str();
  s->add_option("--ids-field", a.read.ids_field, "JSONL field holding token ids")
      ->capture_default_str();
  s->add_option("--category-field", a.read.category_field, "JSONL field naming the category")
      ->capture_default_str();
  s->add_flag("--skip-bad", a.read.skip_bad, "Skip and count malformed JSONL lines");
  s->add_option("--samples", a.samples, "Scan this many samples (0 = all)")
      ->check(limits::kSamples);
  s->add_option("--seed", a.seed, "Seed of the sample selection and length buckets")
      ->check(limits::kSeed);
  s->add_flag("--proportional,!--uniform", a.proportional,
              "Keep each category's share when selecting (default) or pick uniformly");
  s->add_option("--source-tokenizer", a.source_tokenizer,
                "Tokenizer that produced input_ids samples (decoded, then re-encoded)")
      ->check(limits::kPath);
  s->add_flag("--ids-native", a.ids_native,
              "input_ids samples are already the model's own token ids (used as given)");
  s->add_option("--max-seq-len", a.max_seq_len, "Truncate sequences (0 = no limit)")
      ->check(limits::kSeqLen)
      ->capture_default_str();
  s->add_option("--bos", a.bos, "BOS policy: auto (the tokenizer's template), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  s->add_option("--buckets", a.buckets, "Truncation length buckets: study");
  s->add_option("--protocol", a.protocol, "study: no special tokens, the study's length buckets");
  s->add_option("--window-tokens", a.window_tokens, "Tokens per layer-major window")
      ->check(limits::kWindowTokens)
      ->capture_default_str();
  s->add_option("--threads", a.threads, "Threads (0 = all cores)")->check(limits::kThreads);
  s->add_option("--precision", a.precision, "fp32 (default) or bf16 (Hugging Face eager bf16)")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  s->add_option("--taps", a.taps, "Glob(s) selecting taps by Hugging Face or study name")
      ->delimiter(',');
  s->add_option("--names", a.names, "Report taps under Hugging Face (hf) or the study's names")
      ->check(CLI::IsMember({"hf", "study"}))
      ->capture_default_str();
  s->add_option("--topk", a.topk, "Largest |x| kept per tap, with locations")
      ->check(limits::kTopK)
      ->capture_default_str();
  s->add_option("--format", a.format,
                "json: maxact's report (docs/SCAN_JSON.md); study: the study's "
                "<model>_activation_stats.json and <model>_top5_stats.json into the -o folder")
      ->check(CLI::IsMember({"json", "study"}))
      ->capture_default_str();
  s->add_option("-o,--output", a.output,
                "Write the JSON report here (a folder with --format study)")
      ->check(limits::kPath);
  s->add_option("--csv", a.csv, "Write per-tap scalars as CSV here")->check(limits::kPath);
  s->add_flag("-q,--quiet", a.quiet, "No progress output");
  s->add_option("--bootstrap", a.bootstrap,
                "The study's stability check: scan K category-proportional subsets of --samples "
                "samples (seeds seed..seed+K-1) and report the global maximum of each")
      ->check(limits::kBootstrap);
  s->add_flag("--quant", a.quant,
              "Quantization check: scales from --calib samples, errors of every policy on "
              "--eval other samples (the scan's statistics are of the evaluation samples)");
  s->add_option("--calib", a.calib, "Calibration samples for --quant (default 128)")
      ->check(limits::kQuantSamples);
  s->add_option("--eval", a.eval, "Evaluation samples for --quant (default 256)")
      ->check(limits::kQuantSamples);
  s->add_option("--clip-quantile", a.clip_quantile,
                "Quantile of |x| for the int8_clip_q policy (default 0.999)");
  s->add_option("--quant-taps", a.quant_taps,
                "Glob(s) of the taps to quantize (default: linear-layer inputs and decoder-layer "
                "outputs)")
      ->delimiter(',');
  s->add_option("--policies", a.policies, "Policies to simulate (default: all)")->delimiter(',');
  s->add_option("--quant-csv", a.quant_csv, "Write one row per (tap, policy) as CSV here")
      ->check(limits::kPath);
  s->add_option("--quant-layers", a.quant_layers,
                "Quantize only hidden states: the calibration peak (peak) or all (all); "
                "--protocol study defaults to peak")
      ->check(CLI::IsMember({"peak", "all"}));
  return s;
}

namespace {

class Progress {
 public:
  explicit Progress(bool quiet) : quiet_(quiet), tty_(isatty(STDERR_FILENO) != 0) {}
  void operator()(const ScanProgress& p) {
    if (quiet_) return;
    const double done = static_cast<double>(p.tokens_done) +
                        (p.layers > 0 && p.windows_done < p.windows_total
                             ? static_cast<double>(p.layer) / p.layers * window_tokens(p)
                             : 0.0);
    const double rate = p.seconds > 0 ? done / p.seconds : 0.0;
    const double eta = rate > 0 ? (static_cast<double>(p.tokens_total) - done) / rate : 0.0;
    const double frac = p.tokens_total > 0 ? done / static_cast<double>(p.tokens_total) : 1.0;
    // The quantization check runs three passes; say which one the bar is about.
    const std::string stage = p.stage == "scan" ? std::string() : std::string(p.stage) + " ";
    if (tty_) {
      const int width = 30, fill = static_cast<int>(frac * width + 0.5);
      std::fprintf(stderr,
                   "\r%s[%s%s] %5.1f%%  window %lld/%lld layer %d/%d  %.0f tok/s  ETA %.0fs ",
                   stage.c_str(), std::string(static_cast<std::size_t>(fill), '#').c_str(),
                   std::string(static_cast<std::size_t>(width - fill), '.').c_str(), frac * 100,
                   static_cast<long long>(p.windows_done + (p.windows_done < p.windows_total)),
                   static_cast<long long>(p.windows_total), p.layer, p.layers, rate, eta);
      if (p.windows_done == p.windows_total) std::fprintf(stderr, "\n");
    } else if ((p.layer == p.layers && p.seconds - last_ >= 10.0) ||
               (p.windows_done == p.windows_total && p.layer == p.layers)) {
      // Quiet lines when stderr is a log: at most one per 10 s, and the last.
      last_ = p.seconds;
      std::fprintf(stderr, "maxact: %s%lld/%lld tokens (%.1f%%), %.0f tok/s, ETA %.0f s\n",
                   stage.c_str(), static_cast<long long>(done),
                   static_cast<long long>(p.tokens_total), frac * 100, rate, eta);
    }
  }

 private:
  double window_tokens(const ScanProgress& p) const {
    return p.windows_total > 0
               ? static_cast<double>(p.tokens_total) / static_cast<double>(p.windows_total)
               : 0.0;
  }
  bool quiet_, tty_;
  double last_ = -1e9;
};

}  // namespace

// The study names its files after the model folder ("Qwen2.5-1.5B").
std::string model_name(const std::string& arg) {
  std::string s = arg.substr(0, arg.find('@'));
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  const std::string name = std::filesystem::path(s).filename().string();
  return name.empty() ? "model" : name;
}

namespace {

ScanOptions scan_options(const ScanArgs& a) {
  ScanOptions opt;
  opt.precision = a.precision == "bf16" ? Precision::kBf16 : Precision::kFp32;
  opt.threads = a.threads;
  opt.window_tokens = a.window_tokens;
  opt.taps = a.taps;
  opt.stats.topk = a.topk;
  return opt;
}

// Positions past the context a model was trained for produce activations it never learnt to
// keep in range (RoPE angles it never saw); a peak found there says little about the model, so
// the user hears about it (the scan still runs: long-context studies do this on purpose).
void warn_past_context(const Model& model, const std::vector<TokenSequence>& seqs, bool quiet) {
  const int64_t context = model.spec().max_position_embeddings;
  if (quiet || context <= 0) return;
  std::size_t past = 0, longest = 0;
  for (const auto& s : seqs) {
    past += static_cast<int64_t>(s.ids.size()) > context;
    longest = std::max(longest, s.ids.size());
  }
  if (past == 0) return;
  fmt::print(stderr,
             "warning: {} of {} sequences are longer than the model's max_position_embeddings "
             "({}; longest {} tokens); use --max-seq-len {} to stay within it\n",
             past, seqs.size(), context, longest, context);
}

// After the summary, where its files went (the run command's user looks for them there).
void print_written(const std::vector<std::string>& paths) {
  for (std::size_t i = 0; i < paths.size(); ++i) {
    fmt::print("{:<13}{}\n", i == 0 ? "written" : "", paths[i]);
  }
}

// The study's stability check: K category-proportional subsets of --samples samples (seeds
// seed..seed+K-1), each scanned; the global maximum per subset and its spread.
int run_bootstrap(const ScanArgs& a, const Model& model, const Corpus& corpus,
                  const std::vector<std::filesystem::path>& inputs,
                  const std::function<std::vector<TokenSequence>(const std::vector<std::size_t>&)>&
                      sequences_of) {
  if (a.samples == 0) throw Error(ErrorCode::kCorpus, "--bootstrap needs --samples N");
  if (a.format == "study") throw Error(ErrorCode::kCorpus, "--bootstrap writes its own report");
  const auto subsets = bootstrap_selections(corpus, a.samples, a.seed, a.bootstrap);
  ScanOptions opt = scan_options(a);
  // Only what the study's maximum is taken over.
  if (opt.taps.empty())
    opt.taps = {"embedding_output", "layer_*_hidden", "layer_*_attn_output", "layer_*_mlp_output",
                "final_layernorm"};
  nlohmann::json runs = nlohmann::json::array();
  std::vector<double> peaks;
  std::string text = fmt::format("bootstrap    {} subsets of {} samples ({})\n", subsets.size(),
                                 a.samples, corpus.origin);
  for (std::size_t k = 0; k < subsets.size(); ++k) {
    const auto seqs = sequences_of(subsets[k]);
    if (seqs.empty()) throw Error(ErrorCode::kCorpus, corpus.origin + ": no tokens to scan");
    const ScanResult r = scan(model, seqs, opt);
    const GlobalMax g = study_global_max(r);
    Corpus sub;
    for (std::size_t i : subsets[k]) sub.samples.push_back(corpus.samples[i]);
    nlohmann::json e = {{"seed", a.seed + k},
                        {"content_hash", sub.content_hash()},
                        {"sequences", r.sequences},
                        {"tokens", r.tokens},
                        {"global_max", nullptr}};
    if (g.tap >= 0) {
      const TapInfo& t = r.taps[static_cast<std::size_t>(g.tap)];
      e["global_max"] = {{"value", g.value.value},           {"tap", t.name},
                         {"study_name", t.study_name},       {"sample", g.value.loc.sample},
                         {"position", g.value.loc.position}, {"token", g.value.loc.token},
                         {"channel", g.value.loc.channel}};
      peaks.push_back(std::fabs(static_cast<double>(g.value.value)));
      text += fmt::format("  seed {:<6} {:>8} tokens  max {:>12.6g} at {}\n", a.seed + k, r.tokens,
                          g.value.value, t.study_name.empty() ? t.name : t.study_name);
    }
    runs.push_back(std::move(e));
  }
  nlohmann::json spread = nullptr;
  if (!peaks.empty()) {
    double mean = 0, var = 0;
    for (double p : peaks) mean += p;
    mean /= static_cast<double>(peaks.size());
    for (double p : peaks) var += (p - mean) * (p - mean);
    const double sd = std::sqrt(var / static_cast<double>(peaks.size()));
    const auto [lo, hi] = std::minmax_element(peaks.begin(), peaks.end());
    spread = {{"mean", mean},
              {"std", sd},
              {"min", *lo},
              {"max", *hi},
              {"relative_range", mean > 0 ? (*hi - *lo) / mean : 0.0}};
    text += fmt::format(
        "stability    |M| mean {:.6g}, std {:.3g}, range {:.6g}..{:.6g} ({:.1f} % of "
        "the mean)\n",
        mean, sd, *lo, *hi, mean > 0 ? 100.0 * (*hi - *lo) / mean : 0.0);
  }
  const std::string json =
      nlohmann::json{{"schema", "maxact.scan.bootstrap"},
                     {"schema_version", 1},
                     {"model", {{"argument", a.model}, {"model_type", model.spec().model_type}}},
                     {"corpus", corpus.origin},
                     {"samples", a.samples},
                     {"precision", a.precision},
                     {"subsets", runs},
                     {"abs_global_max", spread}}
          .dump(1, ' ', false, nlohmann::json::error_handler_t::replace) +
      "\n";
  if (!a.output.empty()) commit_outputs({{a.output, json}}, inputs);
  write_stdout(text);
  if (!a.output.empty()) print_written({a.output});
  return 0;
}

// Every file the scan will write, known before it starts. --format study writes into the -o
// folder, which is made only when the files are written (a failed scan leaves no empty folder).
std::vector<std::string> output_paths(const ScanArgs& a, const std::string& name) {
  std::vector<std::string> out;
  if (a.format == "study") {
    const auto dir = std::filesystem::path(a.output);
    out.push_back((dir / (name + "_activation_stats.json")).string());
    out.push_back((dir / (name + "_top5_stats.json")).string());
    if (a.quant) out.push_back((dir / (name + "_quant_sanity.json")).string());
  } else if (!a.output.empty()) {
    out.push_back(a.output);
  }
  if (!a.csv.empty()) out.push_back(a.csv);
  if (!a.quant_csv.empty()) out.push_back(a.quant_csv);
  return out;
}

void check_quant_args(const ScanArgs& a) {
  const bool any = a.calib || a.eval || a.clip_quantile || !a.quant_taps.empty() ||
                   !a.policies.empty() || !a.quant_layers.empty() || !a.quant_csv.empty();
  if (!a.quant && any) {
    throw Error(ErrorCode::kOption,
                "--calib, --eval, --clip-quantile, --quant-taps, --policies, --quant-layers and "
                "--quant-csv need --quant");
  }
  if (!a.quant) return;
  if (a.samples) {
    throw Error(ErrorCode::kOption,
                "--quant chooses its samples with --calib and --eval, not --samples");
  }
  if (a.bootstrap) throw Error(ErrorCode::kOption, "--quant and --bootstrap are separate runs");
  if (!a.quant_layers.empty() && !a.quant_taps.empty()) {
    throw Error(ErrorCode::kOption,
                "--quant-layers and --quant-taps both choose the taps: give one");
  }
}

QuantOptions quant_options(const ScanArgs& a) {
  QuantOptions q;
  q.clip_quantile = a.clip_quantile.value_or(0.999);
  q.taps = a.quant_taps;
  // The study quantizes hidden states (decoder-layer outputs and the final norm), by default
  // only the peak one, with its two INT8 policies.
  const bool study = a.protocol == "study";
  const std::string layers = a.quant_layers.empty() && study && a.quant_taps.empty()
                                 ? std::string("peak")
                                 : a.quant_layers;
  if (!layers.empty()) {
    q.taps = {"layer_*_hidden", "final_layernorm"};
    q.peak_only = layers == "peak";
  }
  std::vector<std::string> names = a.policies;
  if (names.empty() && study) names = {"int8_max_abs", "int8_clip_q"};
  for (const auto& n : names) {
    int found = -1;
    std::string all;
    for (int p = 0; p < kQuantPolicies; ++p) {
      all += (p ? ", " : "") + std::string(policy_name(QuantPolicy(p)));
      if (policy_name(QuantPolicy(p)) == n) found = p;
    }
    if (found < 0) {
      throw Error(ErrorCode::kOption,
                  "--policies: unknown policy '" + n + "' (one of " + all + ")");
    }
    if (std::find(q.policies.begin(), q.policies.end(), QuantPolicy(found)) == q.policies.end()) {
      q.policies.push_back(QuantPolicy(found));
    }
  }
  return q;
}

}  // namespace

int run_scan(const ScanArgs& a) {
  if (a.format == "study" && a.output.empty()) {
    throw Error(ErrorCode::kIo, "--format study needs -o FOLDER for its two files");
  }
  const Model model = Model::open(a.model);
  if (const ScanSupport sup = scan_support(model.spec()); !sup.supported) {
    throw Error(ErrorCode::kUnsupported,
                fmt::format("{}: scanning is not supported: {}", model.dir().string(), sup.reason));
  }
  CorpusReadReport report;
  const Corpus owned = a.corpus.empty() ? Corpus{} : read_corpus(a.corpus, a.read, &report);
  const Corpus& corpus = a.corpus.empty() ? builtin_corpus() : owned;
  check_quant_args(a);
  // Every output is checked now, against every input, before hours of scanning.
  std::vector<std::filesystem::path> inputs = input_files(model.dir());
  for (const std::string& extra : {a.corpus, a.source_tokenizer}) {
    if (extra.empty() || extra == "-") continue;
    const auto more = input_files(extra);
    inputs.insert(inputs.end(), more.begin(), more.end());
  }
  const std::vector<std::string> outputs = output_paths(a, model_name(a.model));
  const bool make_study_dir = a.format == "study" && !std::filesystem::is_directory(a.output);
  if (make_study_dir) {
    // The folder itself must be creatable: its parent exists and is writable, it is not a file.
    if (std::error_code ec; std::filesystem::exists(a.output, ec)) {
      throw Error(ErrorCode::kIo, a.output + ": --format study needs a folder here, not a file");
    }
    check_outputs({a.output}, inputs);
    std::vector<std::string> rest(outputs.begin() + (a.quant ? 3 : 2), outputs.end());
    check_outputs(rest, inputs);
  } else {
    check_outputs(outputs, inputs);
  }
  // With --quant the scan's own samples are the evaluation samples.
  SampleSplit split;
  if (a.quant) {
    split =
        split_samples(corpus, a.calib.value_or(128), a.eval.value_or(256), a.seed, a.proportional);
  }
  const auto picked =
      a.quant ? split.evaluation : select_samples(corpus, a.samples, a.seed, a.proportional);
  const SequenceOptions so = sequence_options(a.protocol, a.bos, a.buckets, a.max_seq_len, a.seed);

  std::optional<Tokenizer> tok;
  if (model.has_tokenizer()) tok.emplace(open_tokenizer(model.dir().string()));
  std::optional<Tokenizer> src;
  if (!a.source_tokenizer.empty()) src.emplace(open_tokenizer(a.source_tokenizer));
  auto tokenized = [&](const std::vector<std::size_t>& selection) {
    std::vector<TokenSequence> out;
    if (a.ids_native) {
      for (std::size_t i : selection) {
        const auto& s = corpus.samples[i];
        if (!s.has_ids) {
          throw Error(ErrorCode::kCorpus,
                      fmt::format("{}: sample {} has text, but --ids-native needs input_ids",
                                  corpus.origin, i));
        }
        for (int32_t id : s.ids) {
          if (id >= model.spec().vocab_size) {
            throw Error(ErrorCode::kCorpus,
                        fmt::format("{}: token id {} is outside the model's vocabulary ({} "
                                    "tokens); --ids-native needs the model's own ids",
                                    s.location.empty() ? corpus.origin : s.location, id,
                                    model.spec().vocab_size));
          }
        }
        TokenSequence t{i, s.category, s.ids};
        if (so.max_seq_len > 0 && static_cast<int64_t>(t.ids.size()) > so.max_seq_len) {
          t.ids.resize(static_cast<std::size_t>(so.max_seq_len));
        }
        if (!t.ids.empty()) out.push_back(std::move(t));
      }
      return out;
    }
    if (!tok) {
      throw Error(ErrorCode::kTokenizer,
                  fmt::format("{}: no tokenizer.json; give token ids with --ids-native",
                              model.dir().string()));
    }
    return prepare_sequences(corpus, selection, *tok, src ? &*src : nullptr, so);
  };
  // Every pass (scan, calibration, bootstrap subsets) hears when it runs past the context.
  auto sequences_of = [&](const std::vector<std::size_t>& selection) {
    std::vector<TokenSequence> seqs = tokenized(selection);
    warn_past_context(model, seqs, a.quiet);
    return seqs;
  };
  if (a.bootstrap > 0) return run_bootstrap(a, model, corpus, inputs, sequences_of);
  std::vector<TokenSequence> seqs = sequences_of(picked);
  if (seqs.empty()) throw Error(ErrorCode::kCorpus, corpus.origin + ": no tokens to scan");

  Progress progress(a.quiet);
  ScanOptions opt = scan_options(a);
  opt.progress = [&](const ScanProgress& p) { progress(p); };
  QuantResult qres;
  std::vector<TokenSequence> calib_seqs;
  if (a.quant) calib_seqs = sequences_of(split.calibration);
  const ScanResult res = [&] {
    try {
      return a.quant ? quant_check(model, calib_seqs, seqs, opt, quant_options(a), qres)
                     : scan(model, seqs, opt);
    } catch (const std::bad_alloc&) {
      throw Error(ErrorCode::kIo,
                  fmt::format("{}: out of memory while scanning (hidden size {}, {} layers, "
                              "windows of {} tokens); a smaller --window-tokens needs less",
                              model.dir().string(), model.spec().hidden_size,
                              model.spec().num_layers, a.window_tokens));
    }
  }();

  ScanMeta meta;
  meta.model_arg = a.model;
  meta.model_dir = model.dir().string();
  meta.model_type = model.spec().model_type;
  meta.family = std::string(family_name(model.spec().family));
  meta.architecture = model.spec().architecture;
  meta.names = a.names == "study" ? TapNames::kStudy : TapNames::kHf;
  meta.model_name = model_name(a.model);
  meta.data_path = corpus.origin;
  meta.num_layers = model.spec().num_layers;
  meta.hidden_size = model.spec().hidden_size;
  meta.num_samples = static_cast<int64_t>(picked.size());
  meta.max_seq_len = so.max_seq_len;
  if (tok) meta.token_text = [&](int32_t id) { return tok->id_to_token(id).value_or(""); };
  Corpus sel;
  sel.origin = corpus.origin;
  for (std::size_t i : picked) sel.samples.push_back(corpus.samples[i]);
  // Corpus identity per category: samples and bytes selected, sequences and tokens scanned.
  struct Count {
    int64_t samples = 0, bytes = 0, sequences = 0, tokens = 0;
  };
  std::map<std::string, Count> per_cat;
  auto cat_name = [](const std::string& c) { return c.empty() ? std::string("(none)") : c; };
  for (std::size_t i : picked) {
    Count& c = per_cat[cat_name(corpus.samples[i].category)];
    ++c.samples;
    c.bytes += static_cast<int64_t>(corpus.samples[i].text.size());
  }
  for (const auto& s : seqs) {
    Count& c = per_cat[cat_name(s.category)];
    ++c.sequences;
    c.tokens += static_cast<int64_t>(s.ids.size());
  }
  nlohmann::json cats = nlohmann::json::object();
  for (const auto& [name, c] : per_cat) {
    cats[name] = {{"samples", c.samples},
                  {"bytes", c.bytes},
                  {"sequences", c.sequences},
                  {"tokens", c.tokens}};
  }
  meta.corpus = {{"origin", corpus.origin},
                 {"content_hash", sel.content_hash()},
                 {"samples", sel.samples.size()},
                 {"sequences", seqs.size()},
                 {"tokens", res.tokens},
                 {"skipped_bad_lines", report.bad_lines},
                 {"skipped_empty", report.empty_samples},
                 {"categories", cats}};
  meta.options = {{"precision", a.precision},
                  {"samples", a.samples},
                  {"seed", a.seed},
                  {"max_seq_len", so.max_seq_len},
                  {"bos", a.protocol == "study" ? "never" : a.bos},
                  {"protocol", a.protocol},
                  {"ids_native", a.ids_native},
                  {"window_tokens", a.window_tokens},
                  {"topk", a.topk},
                  {"taps", a.taps},
                  {"quant", a.quant}};
  if (a.quant) {
    meta.options["calib"] = split.calibration.size();
    meta.options["eval"] = split.evaluation.size();
    meta.options["clip_quantile"] = a.clip_quantile.value_or(0.999);
    meta.options["quant_taps"] = a.quant_taps;
    meta.options["quant_layers"] = a.quant_layers;
    meta.options["policies"] = a.policies;
  }
  // Render everything before writing anything.
  nlohmann::json doc = scan_report_json(res, meta);
  if (a.quant) {
    Corpus cal;
    cal.origin = corpus.origin;
    for (std::size_t i : split.calibration) cal.samples.push_back(corpus.samples[i]);
    const nlohmann::json calibration = {{"samples", split.calibration.size()},
                                        {"content_hash", cal.content_hash()},
                                        {"sample_indices", split.calibration},
                                        {"evaluation_sample_indices", split.evaluation}};
    doc["quant"] = quant_report_json(qres, calibration, meta.names);
  }
  const std::string json = doc.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  const std::string csv = a.csv.empty() ? std::string() : scan_report_csv(res, meta.names);
  std::string summary = scan_summary_text(res, meta);
  if (a.quant) summary += quant_summary_text(qres, meta.names);
  // The contents of output_paths(), in its order.
  std::vector<std::string> contents;
  if (a.format == "study") {
    contents.push_back(json_text(study_activation_stats(res, meta), 2));
    contents.push_back(json_text(study_top5_stats(res, meta), 2));
    if (a.quant) {
      contents.push_back(study_quant_sanity(qres, res, meta,
                                            static_cast<int64_t>(split.calibration.size()),
                                            static_cast<int64_t>(split.evaluation.size()))
                             .dump(2) +
                         "\n");
    }
  } else if (!a.output.empty()) {
    contents.push_back(json);
  }
  if (!a.csv.empty()) contents.push_back(csv);
  if (!a.quant_csv.empty()) contents.push_back(quant_report_csv(qres, meta.names));
  std::vector<std::pair<std::string, std::string>> files;
  for (std::size_t i = 0; i < outputs.size(); ++i) files.emplace_back(outputs[i], contents[i]);
  if (make_study_dir) {
    std::error_code ec;
    std::filesystem::create_directory(a.output, ec);
    if (ec) throw Error(ErrorCode::kIo, a.output + ": " + ec.message());
    try {
      commit_outputs(files, inputs);
    } catch (const Error&) {
      std::filesystem::remove(a.output, ec);  // only if still empty
      throw;
    }
  } else {
    commit_outputs(files, inputs);
  }
  write_stdout(summary);
  std::vector<std::string> paths;
  for (const auto& f : files) paths.push_back(f.first);
  print_written(paths);
  return 0;
}

}  // namespace maxact::cli
