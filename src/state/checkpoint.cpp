#include <fmt/format.h>

#include <chrono>
#include <exception>
#include <filesystem>
#include <thread>
#include <utility>

#include "job/job_common.h"
#include "maxact/error.h"
#include "maxact/output_files.h"
#include "maxact/scan_state.h"
#include "state/job_identity.h"

namespace maxact {
namespace {

// Where a run stands: the statistics of the shard's first `done` sequences.
struct Partial {
  ScanResult scan;
  QuantResult quant;
  std::size_t done = 0;
  bool calibrated = false;
};

// The checkpoint to continue, checked against the job; none when there is no file.
std::optional<Partial> load_checkpoint(
    const ScanJob& job, const CheckpointOptions& c,
    const std::vector<std::pair<std::size_t, std::size_t>>& windows, std::size_t sequences) {
  std::error_code ec;
  if (!std::filesystem::exists(c.file, ec)) {
    if (c.resume && c.note) c.note(c.file + ": no checkpoint yet; starting from the beginning");
    return std::nullopt;
  }
  if (!c.resume) {
    throw Error(ErrorCode::kState,
                fmt::format("{} holds the checkpoint of an earlier run: --resume continues it; "
                            "remove it to start again",
                            c.file));
  }
  ScanState s = read_state(c.file);
  if (const std::string d =
          identity_difference(s.identity, job_identity(job), "the checkpoint", "this run");
      !d.empty()) {
    throw Error(ErrorCode::kState,
                fmt::format("{}: the checkpoint is of another scan ({})", c.file, d));
  }
  if (!(s.shard == job.options.shard)) {
    throw Error(ErrorCode::kState,
                fmt::format("{}: the checkpoint is of shard {}/{}, this run is shard {}/{}", c.file,
                            s.shard.index, s.shard.count, job.options.shard.index,
                            job.options.shard.count));
  }
  const auto done = static_cast<std::size_t>(s.sequences_done);
  bool boundary = done == 0 || done == sequences;
  for (const auto& w : windows) boundary = boundary || w.first == done;
  if (s.sequences_done < 0 || !boundary || s.result.scan.sequences != s.sequences_done ||
      job.options.quant != s.result.quant.has_value()) {
    throw Error(ErrorCode::kState,
                fmt::format("{}: the checkpoint's progress ({} sequences) does not fit this run's "
                            "{} sequences in {} windows",
                            c.file, s.sequences_done, sequences, windows.size()));
  }
  Partial p;
  p.scan = std::move(s.result.scan);
  p.done = done;
  if (s.result.quant) {
    p.quant = std::move(s.result.quant->result);
    p.calibrated = true;
  }
  if (c.note) {
    c.note(fmt::format("{}: resuming after {} of {} sequences", c.file, done, sequences));
  }
  return p;
}

// A run killed while writing its checkpoint leaves the temporary commit_outputs writes beside
// it (".NAME.maxact-XXXXXX"); the checkpoint itself is whole, the temporary is removed.
void remove_stale_temporaries(const std::string& file) {
  const std::filesystem::path p(file);
  const std::string prefix = fmt::format(".{}.maxact-", p.filename().string());
  std::error_code ec;
  const std::filesystem::path dir = p.has_parent_path() ? p.parent_path() : ".";
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() == prefix.size() + 6 && name.starts_with(prefix)) {
      std::filesystem::remove(e.path(), ec);
    }
  }
}

// The calibration a `calibrate_only` run wrote, for this job's evaluation.
QuantResult load_calibration(const ScanJob& job, const std::string& file) {
  if (!job.options.quant) {
    throw Error(ErrorCode::kOption, "--calibration needs --quant (and its options)");
  }
  ScanState s = read_state(file);
  if (const std::string d =
          identity_difference(s.identity, job_identity(job), "the calibration", "this run");
      !d.empty()) {
    throw Error(ErrorCode::kState, fmt::format("{}: a calibration of another scan ({})", file, d));
  }
  bool calibration_only = !s.complete && s.sequences_done == 0 && s.result.quant.has_value();
  if (calibration_only) {
    for (const TapQuant& t : s.result.quant->result.taps) {
      calibration_only = calibration_only && t.policies.empty() && t.tokens == 0;
    }
  }
  if (!calibration_only) {
    throw Error(
        ErrorCode::kState,
        file + ": not a calibration (scan --quant --calibrate-only --state FILE writes one)");
  }
  return std::move(s.result.quant->result);
}

// The job's result from the run so far (without its statistics: `with_scan` false).
ScanJobResult job_result(const ScanJob& job, const Partial& p, bool with_scan = true) {
  ScanJobResult r;
  if (with_scan) r.scan = p.scan;
  r.meta = job::scan_meta(job, {job.picked, job.sequences, job.options.seed});
  QuantResult q = p.quant;
  r.quant = job::quant_run(job, std::move(q));
  return r;
}

// Checkpoints are encoded on the scan's thread and written (temporary, fsync, rename) on one
// thread of their own while the next window computes; a checkpoint is waited for before the
// next is written, before a stop and at the end. What the scan waited is what they cost it.
class CheckpointWriter {
 public:
  CheckpointWriter(const ScanJob& job, const CheckpointOptions& c)
      : job_(job), c_(c), identity_(c.file.empty() ? decltype(identity_){} : job_identity(job)) {}
  ~CheckpointWriter() {
    if (thread_.joinable()) thread_.join();
  }
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;

  // Encodes p's statistics in place (lent to the state and given back, not copied).
  void save(Partial& p, std::size_t total) {
    if (c_.file.empty()) return;
    const auto t0 = std::chrono::steady_clock::now();
    ScanJobResult r = job_result(job_, p, false);
    r.scan = std::move(p.scan);
    ScanState s;
    try {
      s = state_of(job_, identity_, std::move(r));  // r untouched when it throws
    } catch (...) {
      p.scan = std::move(r.scan);
      throw;
    }
    s.complete = p.done == total;
    s.sequences_done = static_cast<int64_t>(p.done);
    std::string bytes;
    try {
      bytes = encode_state(s);
    } catch (...) {
      p.scan = std::move(s.result.scan);
      throw;
    }
    p.scan = std::move(s.result.scan);
    finish();
    bytes_ = bytes.size();
    thread_ = std::thread([this, b = std::move(bytes)] {
      try {
        commit_outputs({{c_.file, b}}, job_.inputs);
      } catch (...) {
        failure_ = std::current_exception();
      }
    });
    ++count_;
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  // Waits for the checkpoint being written; rethrows its error (a full disk).
  void finish() {
    const auto t0 = std::chrono::steady_clock::now();
    if (thread_.joinable()) thread_.join();
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
  }
  void say(double run_seconds) const {
    if (!c_.note || count_ == 0) return;
    c_.note(
        fmt::format("{} checkpoints of {:.1f} MB, {:.0f} ms each on the scan's path ({:.1f} % "
                    "of the run; written beside it)",
                    count_, static_cast<double>(bytes_) / 1e6, seconds_ / count_ * 1000,
                    run_seconds > 0 ? seconds_ / run_seconds * 100 : 0.0));
  }

 private:
  const ScanJob& job_;
  const CheckpointOptions& c_;
  const std::map<std::string, std::string> identity_;
  std::thread thread_;
  std::exception_ptr failure_;
  int count_ = 0;
  double seconds_ = 0;
  std::size_t bytes_ = 0;
};

// After a checkpoint: a signal's stop (once the checkpoint is on disk), saying how to go on.
void stop_if_asked(const CheckpointOptions& c, CheckpointWriter& writer, std::size_t done,
                   std::size_t total) {
  if (!c.stop || !c.stop->load() || done == total) return;
  writer.finish();
  if (!std::filesystem::exists(c.file)) {
    throw Error(ErrorCode::kInterrupted,
                "stopped before the first window; run the same command with --resume to continue "
                "(it starts afresh)");
  }
  throw Error(ErrorCode::kInterrupted,
              fmt::format("stopped after {} of {} sequences{}; the checkpoint {} holds them: run "
                          "the same command with --resume to continue",
                          done, total, done == 0 ? " (calibrated)" : "", c.file));
}

}  // namespace

ScanJobResult run_checkpointed_scan_job(const ScanJob& job, const CheckpointOptions& c,
                                        const std::function<void(const ScanProgress&)>& progress) {
  const std::vector<TokenSequence> mine = job::shard_sequences(job.sequences, job.options.shard);
  const auto windows = plan_windows(mine, job.options.window_tokens);
  Partial p;
  if (!c.file.empty()) {
    remove_stale_temporaries(c.file);
    p = load_checkpoint(job, c, windows, mine.size()).value_or(Partial{});
  }
  if (!p.calibrated && !c.calibration.empty()) {
    p.quant = load_calibration(job, c.calibration);
    p.calibrated = true;
  }
  ScanOptions opt = job::scan_options(job.options);
  int64_t total_tokens = 0, tokens_before = 0, windows_before = 0;
  for (const auto& s : mine) total_tokens += static_cast<int64_t>(s.ids.size());
  for (std::size_t i = 0; i < p.done; ++i)
    tokens_before += static_cast<int64_t>(mine[i].ids.size());
  const auto t0 = std::chrono::steady_clock::now();
  CheckpointWriter writer(job, c);
  try {
    // A signal while the job was opening: nothing more to save.
    stop_if_asked(c, writer, p.done, mine.size());
    if (job.options.quant && !p.calibrated) {
      opt.progress = progress;
      quant_calibrate(job.model, job.calibration, opt, job.quant, p.quant);
      p.calibrated = true;
      writer.save(p, mine.size());
      stop_if_asked(c, writer, p.done, mine.size());
    }
    if (c.calibrate_only) return job_result(job, p);
    for (const auto& [first, end] : windows) {
      if (end <= p.done) {
        ++windows_before;
        continue;
      }
      // The window's progress as part of the whole run.
      opt.progress = [&](const ScanProgress& w) {
        if (!progress) return;
        ScanProgress g = w;
        g.tokens_done += tokens_before;
        g.tokens_total = total_tokens;
        g.windows_done += windows_before;
        g.windows_total = static_cast<int64_t>(windows.size());
        g.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        progress(g);
      };
      const std::vector<TokenSequence> part(mine.begin() + static_cast<std::ptrdiff_t>(first),
                                            mine.begin() + static_cast<std::ptrdiff_t>(end));
      ScanResult r = job.options.quant ? quant_evaluate(job.model, part, opt, p.quant)
                                       : scan(job.model, part, opt);
      if (p.done == 0) {
        p.scan = std::move(r);
      } else {
        merge_scan_results(p.scan, r);
      }
      p.done = end;
      for (std::size_t i = first; i < end; ++i) {
        tokens_before += static_cast<int64_t>(mine[i].ids.size());
      }
      ++windows_before;
      writer.save(p, mine.size());
      stop_if_asked(c, writer, p.done, mine.size());
    }
    writer.finish();
  } catch (const std::bad_alloc&) {
    job::throw_out_of_memory(job);
  }
  writer.say(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return job_result(job, p);
}

}  // namespace maxact
