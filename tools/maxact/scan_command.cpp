#include "scan_command.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>

#include <cstdio>
#include <filesystem>
#include <utility>

#include "cli_common.h"
#include "maxact/error.h"
#include "maxact/exports.h"
#include "maxact/html_report.h"
#include "maxact/output_files.h"
#include "maxact/renderers.h"
#include "maxact/scan_job.h"
#include "maxact/scan_state.h"
#include "mpi_world.h"
#include "scan_outputs.h"

namespace maxact::cli {
namespace {

// "I/N" with 0 <= I < N <= 100000, digits only.
bool parse_shard(const std::string& text, Shard& out) {
  const auto slash = text.find('/');
  const auto digits = [](const std::string& d) {
    return !d.empty() && d.size() <= 6 && d.find_first_not_of("0123456789") == std::string::npos;
  };
  if (slash == std::string::npos) return false;
  const std::string i = text.substr(0, slash), n = text.substr(slash + 1);
  if (!digits(i) || !digits(n)) return false;
  out.index = std::stoi(i);
  out.count = std::stoi(n);
  return out.count >= 1 && out.count <= 100000 && out.index < out.count;
}

// Options are added in the order --help lists them, in three groups only to keep each function
// short.
void add_corpus_options(CLI::App* s, ScanArgs& a) {
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
  s->add_option("--role", a.role,
                "The model's role in a comparison (the study's: low_peak, moe, ...), recorded in "
                "the report and the study's quant_sanity.json")
      ->check(limits::kLabel);
}

void add_run_options(CLI::App* s, ScanArgs& a) {
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
  s->add_flag("--profile", a.profile,
              "Print where the scan's time went (weights, linear layers, attention, element-wise "
              "ops, statistics, other) to stderr");
  s->add_flag("--expert-inputs", a.expert_inputs,
              "Record every routed expert's inputs per channel (absmax, sum of squares): what "
              "per-expert calibration needs (memory: 2 x experts x hidden x 24 bytes per layer)");
  s->add_option("--imatrix", a.imatrix,
                "Write llama.cpp's importance matrix (GGUF) here; implies --expert-inputs")
      ->check(limits::kPath);
  s->add_option("--html", a.html,
                "Write the HTML report here (self-contained, opens offline; maxact report)")
      ->check(limits::kPath);
  s->add_option("--checkpoint", a.checkpoint,
                "Save the scan's state in this folder after every window (made if missing); a "
                "killed run continues with --resume; SIGINT / SIGTERM stop after the window")
      ->check(limits::kPath);
  s->add_flag("--resume", a.resume,
              "Continue from the --checkpoint folder's state (start there when it has none)");
  s->add_flag("--calibrate-only", a.calibrate_only,
              "With --quant: run the calibration passes only and write them to --state, for the "
              "shards' --calibration (one calibration instead of one per shard)");
  s->add_option("--calibration", a.calibration,
                "With --quant: evaluate against the calibration this state holds (written by "
                "--calibrate-only with the same options)")
      ->check(limits::kPath);
  s->add_option("--state", a.state,
                "Write the scan's state here: its exact statistics, from which maxact merge "
                "writes the reports of one run (docs/STATE.md)")
      ->check(limits::kPath);
  s->add_option("--shard", a.shard,
                "Scan part I of N (I = 0..N-1): the sequences at positions I, I+N, ... of the "
                "selection; needs --state, and maxact merge of all N states makes the report")
      ->check(CLI::Validator(
          [](std::string& v) {
            Shard sh;
            return parse_shard(v, sh) ? std::string()
                                      : std::string("expected I/N with 0 <= I < N <= 100000");
          },
          "I/N"));
  s->add_option("--bootstrap", a.bootstrap,
                "The study's stability check: scan K category-proportional subsets of --samples "
                "samples (seeds seed..seed+K-1) and report the global maximum of each")
      ->check(limits::kBootstrap);
}

void add_quant_options(CLI::App* s, ScanArgs& a) {
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
}

}  // namespace

CLI::App* add_scan_command(CLI::App& app, ScanArgs& a) {
  auto* s = app.add_subcommand(
      "scan", "Run the model over a corpus and record activation statistics at every tap");
  s->add_option("MODEL", a.model, "Model folder, or hub id org/name[@revision]")->required();
  add_corpus_options(s, a);
  add_run_options(s, a);
  add_quant_options(s, a);
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

ScanJobOptions job_options(const ScanArgs& a) {
  ScanJobOptions o;
  if (!a.shard.empty()) parse_shard(a.shard, o.shard);
  o.model = a.model;
  o.corpus = a.corpus;
  o.read = a.read;
  o.samples = a.samples;
  o.seed = a.seed;
  o.proportional = a.proportional;
  o.source_tokenizer = a.source_tokenizer;
  o.ids_native = a.ids_native;
  o.max_seq_len = a.max_seq_len;
  o.bos = a.bos;
  o.buckets = a.buckets;
  o.protocol = a.protocol;
  o.role = a.role;
  o.window_tokens = a.window_tokens;
  o.threads = a.threads;
  o.precision = a.precision == "bf16" ? Precision::kBf16 : Precision::kFp32;
  o.taps = a.taps;
  o.names = a.names == "study" ? TapNames::kStudy : TapNames::kHf;
  o.topk = a.topk;
  o.expert_inputs = a.expert_inputs || !a.imatrix.empty();
  o.bootstrap = a.bootstrap;
  o.quant = a.quant;
  o.calib = a.calib;
  o.eval = a.eval;
  o.clip_quantile = a.clip_quantile;
  o.quant_taps = a.quant_taps;
  o.policies = a.policies;
  o.quant_layers = a.quant_layers;
  o.quant_csv = !a.quant_csv.empty();
  o.warning = warn_each(a.quiet);
  return o;
}

// -o is the bootstrap's report, or with --format study the folder of every subset's study files
// and that report (output_paths' order: subsets' files as they are scanned, the report last).
int run_bootstrap_command(const ScanArgs& a, const ScanJob& job,
                          const std::vector<std::string>& outputs, bool make_study_dir) {
  std::vector<std::string> contents;
  BootstrapRepeat each;
  if (a.format == "study") {
    each = [&](std::size_t, const ScanJobResult& r) {
      for (std::string& text : render_study(r)) contents.push_back(std::move(text));
    };
  }
  const BootstrapResult b = run_bootstrap(job, each);
  if (!a.output.empty()) contents.push_back(render_bootstrap_json(b));
  const std::string summary = render_bootstrap_summary(b);
  std::vector<std::pair<std::string, std::string>> files;
  for (std::size_t i = 0; i < outputs.size(); ++i) files.emplace_back(outputs[i], contents[i]);
  write_outputs(a, files, job.inputs, make_study_dir);
  write_stdout(summary);
  print_written(outputs);
  return 0;
}

// Set by SIGINT / SIGTERM during a checkpointed scan: it stops after the current window.
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

extern "C" void on_stop_signal(int) {
  g_stop.store(true);
  static const char kMessage[] =
      "\nmaxact: stopping after this window, once its checkpoint is written (signal again to "
      "stop at once)\n";
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
}

// The first signal asks for a clean stop; the handler resets itself, so a second one kills.
void catch_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sa.sa_flags = SA_RESETHAND | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// The checkpoint file in the --checkpoint folder: one per shard, so ranks and array tasks can
// share a folder.
std::string checkpoint_file(const ScanArgs& a, const Shard& shard) {
  std::error_code ec;
  std::filesystem::create_directories(a.checkpoint, ec);
  if (ec)
    throw Error(ErrorCode::kIo,
                a.checkpoint + ": cannot make the checkpoint folder: " + ec.message());
  const std::string name = shard.count > 1
                               ? fmt::format("shard-{}-of-{}.state", shard.index, shard.count)
                               : std::string("scan.state");
  return (std::filesystem::path(a.checkpoint) / name).string();
}

// The options of shards, states, checkpoints and MPI ranks that do not go together.
void check_long_run_args(const ScanArgs& a, const MpiWorld& world) {
  if (!a.shard.empty() || !a.state.empty()) {
    if (a.bootstrap > 0) {
      throw Error(ErrorCode::kOption, "--shard and --state do not apply to --bootstrap");
    }
    if (!a.shard.empty() && a.state.empty()) {
      throw Error(ErrorCode::kOption, "--shard needs --state FILE (maxact merge reads the states)");
    }
    if (!a.shard.empty() && !output_paths(a).empty()) {
      throw Error(ErrorCode::kOption,
                  "a shard writes only its --state: its reports would describe part of the "
                  "corpus; maxact merge writes them from all the shards' states");
    }
  }
  if (a.resume && a.checkpoint.empty()) {
    throw Error(ErrorCode::kOption, "--resume needs --checkpoint FOLDER");
  }
  if ((a.calibrate_only || !a.calibration.empty()) && !a.quant) {
    throw Error(ErrorCode::kOption, "--calibrate-only and --calibration need --quant");
  }
  if (a.calibrate_only) {
    if (a.state.empty() || !a.shard.empty() || !output_paths(a).empty() || !a.calibration.empty() ||
        !a.checkpoint.empty() || world.several()) {
      throw Error(ErrorCode::kOption,
                  "--calibrate-only writes only its --state FILE, once, outside mpirun (no "
                  "--shard, --checkpoint, --calibration or reports)");
    }
  }
  if (!a.checkpoint.empty() && a.bootstrap > 0) {
    throw Error(ErrorCode::kOption, "--checkpoint does not apply to --bootstrap");
  }
  if (world.several()) {
    if (!a.shard.empty()) {
      throw Error(ErrorCode::kOption, "--shard: under mpirun every rank is a shard already");
    }
    if (a.bootstrap > 0) throw Error(ErrorCode::kOption, "--bootstrap does not run under mpirun");
  }
}

// --calibrate-only: the state holds the calibration and no evaluation (not complete: merge
// refuses it; --calibration reads it).
int write_calibration(const ScanArgs& a, const ScanJob& job, const ScanJobResult& r,
                      const std::vector<std::string>& outputs) {
  ScanState s = scan_state(job, r);
  s.shard = {};
  s.complete = false;
  s.sequences_done = 0;
  commit_outputs({{a.state, encode_state(s)}}, job.inputs);
  const QuantResult& q = r.quant->result;
  write_stdout(fmt::format("calibrated   {} taps on {} sequences, {} tokens, in {:.2f} s\n",
                           q.taps.size(), q.calib_sequences, q.calib_tokens, q.calib_seconds));
  print_written(outputs);
  return 0;
}

// Rank 0's merge of every rank's state ("rank R" names each in messages).
ScanJobResult merge_rank_states(const std::vector<std::string>& bytes) {
  std::vector<ScanState> states;
  std::vector<std::string> names;
  for (std::size_t r = 0; r < bytes.size(); ++r) {
    names.push_back(fmt::format("rank {}", r));
    states.push_back(decode_state(bytes[r], names.back()));
  }
  return merge_states(std::move(states), names);
}

// A shard's statistics are of part of the corpus: its summary says what it scanned, not a peak.
std::string shard_summary(const ScanJob& job, const ScanJobResult& r) {
  const ScanResult& s = r.scan;
  return fmt::format(
      "model        {} ({})\nshard        {}/{}: {} of {} sequences, {} tokens in {:.2f} s ({:.0f} "
      "tokens/s, {} threads, {} kernel)\n",
      r.meta.model_arg, r.meta.model_type, job.options.shard.index, job.options.shard.count,
      s.sequences, r.meta.corpus.sequences, s.tokens, s.seconds,
      s.seconds > 0 ? static_cast<double>(s.tokens) / s.seconds : 0.0, s.threads, s.linear_kernel);
}

// The --profile table: each phase's share of the wall time of this process's scan passes (a
// resumed run's earlier windows and, under MPI, the other ranks are not in it).
std::string render_profile(const ScanResult& r) {
  const ScanProfile& p = r.profile;
  std::string out = fmt::format(
      "profile: {:.2f} s of scan in this process, {} threads, linear kernel {}, statistics "
      "kernel {}\n",
      p.total, r.threads, r.linear_kernel, r.stats_kernel);
  const auto row = [&](std::string_view name, double s) {
    out += fmt::format("  {:<13}{:8.2f} s {:6.1f} %\n", name, s,
                       p.total > 0 ? 100 * s / p.total : 0.0);
  };
  double timed = 0;
  for (std::size_t i = 0; i < p.seconds.size(); ++i) {
    timed += p.seconds[i];
    row(scan_phase_name(static_cast<ScanPhase>(i)), p.seconds[i]);
  }
  row("other", std::max(0.0, p.total - timed));
  return out;
}

}  // namespace

int run_scan(const ScanArgs& a) {
  // Every rank initialises MPI first, whatever fails later.
  const MpiWorld& world = MpiWorld::get();
  if (a.format == "study" && a.output.empty()) {
    throw Error(ErrorCode::kIo, "--format study needs -o FOLDER for its files");
  }
  check_long_run_args(a, world);
  // Before the model and corpus load, which can take long: a signal then stops before the first
  // window rather than killing.
  if (!a.checkpoint.empty()) catch_stop_signals();
  ScanJobOptions options = job_options(a);
  if (world.several()) options.shard = {world.rank(), world.size()};
  // Rank 0 speaks for the job; the others' warnings would repeat its own.
  const bool writer = world.rank() == 0;
  if (!writer) options.warning = warn_each(true);
  ScanJob job = open_scan_job(options);
  if (a.bootstrap > 0) {
    check_bootstrap(job.options);
    // Its report has no per-tap table to write.
    if (!a.csv.empty()) throw Error(ErrorCode::kOption, "--csv does not apply to --bootstrap");
    if (!a.imatrix.empty()) {
      throw Error(ErrorCode::kOption, "--imatrix does not apply to --bootstrap");
    }
    if (!a.html.empty()) throw Error(ErrorCode::kOption, "--html does not apply to --bootstrap");
  }
  std::vector<std::string> outputs = writer ? output_paths(a) : std::vector<std::string>{};
  if (!a.state.empty()) outputs.push_back(a.state);
  const bool make_study_dir = writer && check_scan_outputs(a, outputs, job.inputs);
  std::string checkpoint;
  if (!a.checkpoint.empty()) {
    checkpoint = checkpoint_file(a, job.options.shard);
    std::vector<std::string> all = outputs;
    all.push_back(checkpoint);
    check_outputs(all, job.inputs);
  }
  prepare_scan_job(job);
  if (a.bootstrap > 0) return run_bootstrap_command(a, job, outputs, make_study_dir);

  Progress progress(a.quiet || !writer);
  const auto report_progress = [&](const ScanProgress& p) { progress(p); };
  ScanJobResult r;
  if (checkpoint.empty() && !a.calibrate_only && a.calibration.empty()) {
    r = run_scan_job(job, report_progress);
  } else {
    const CheckpointOptions c{.file = checkpoint,
                              .resume = a.resume,
                              .calibrate_only = a.calibrate_only,
                              .calibration = a.calibration,
                              .stop = &g_stop,
                              .note = note_each(a.quiet || !writer)};
    r = run_checkpointed_scan_job(job, c, report_progress);
  }
  if (a.calibrate_only) return write_calibration(a, job, r, outputs);
  if (world.several()) {
    // Each rank's state to rank 0, which merges them into the report one process writes.
    std::vector<std::string> states = world.gather(encode_state(scan_state(job, r)));
    if (writer) {
      const ScanProfile own = r.scan.profile;  // --profile reports this rank's passes
      r = merge_rank_states(states);
      r.scan.profile = own;
    }
  }
  if (writer) {
    r.meta.command = a.command;
    // Render everything before writing anything.
    std::vector<std::string> contents = render_outputs(a, r);
    if (!a.state.empty()) {
      ScanState s = scan_state(job, r);
      if (world.several()) s.shard = {};  // the merged state of every rank, not rank 0's shard
      contents.push_back(encode_state(s));
    }
    std::vector<std::pair<std::string, std::string>> files;
    for (std::size_t i = 0; i < outputs.size(); ++i) files.emplace_back(outputs[i], contents[i]);
    write_outputs(a, files, job.inputs, make_study_dir);
  }
  // The outputs hold everything the checkpoints did (under MPI: once rank 0 has written them).
  world.barrier();
  if (!checkpoint.empty()) std::filesystem::remove(checkpoint);
  if (writer) {
    write_stdout(a.shard.empty() ? render_summary(r) : shard_summary(job, r));
    print_written(outputs);
    if (a.profile) std::fputs(render_profile(r.scan).c_str(), stderr);
  }
  return 0;
}

}  // namespace maxact::cli
