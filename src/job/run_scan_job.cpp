#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <new>
#include <unordered_map>

#include "job/job_common.h"
#include "maxact/error.h"
#include "maxact/inspect.h"
#include "maxact/scan_job.h"

namespace maxact {
namespace {

std::string category_name(const std::string& c) {
  return c.empty() ? std::string("(none)") : c;
}

CorpusIdentity corpus_identity(const ScanJob& job, const job::Scanned& scanned) {
  const Corpus& corpus = job.corpus();
  CorpusIdentity c;
  c.origin = corpus.origin;
  c.content_hash = job::selection_hash(corpus, scanned.picked);
  c.samples = scanned.picked.size();
  c.sequences = scanned.sequences.size();
  c.skipped_bad_lines = job.read_report.bad_lines;
  c.skipped_empty = job.read_report.empty_samples;
  for (std::size_t i : scanned.picked) {
    CategoryCount& n = c.categories[category_name(corpus.samples[i].category)];
    ++n.samples;
    n.bytes += static_cast<int64_t>(corpus.samples[i].text.size());
  }
  for (const auto& s : scanned.sequences) {
    CategoryCount& n = c.categories[category_name(s.category)];
    ++n.sequences;
    n.tokens += static_cast<int64_t>(s.ids.size());
    c.tokens += static_cast<int64_t>(s.ids.size());
  }
  return c;
}

RecordedOptions recorded_options(const ScanJob& job, uint64_t seed) {
  const ScanJobOptions& a = job.options;
  RecordedOptions o;
  o.precision = a.precision;
  o.samples = a.samples;
  o.seed = seed;
  o.max_seq_len = job.sequence.max_seq_len;
  o.bos = a.protocol == "study" ? "never" : a.bos;
  o.protocol = a.protocol;
  o.role = a.role;
  o.ids_native = a.ids_native;
  o.window_tokens = a.window_tokens;
  o.topk = a.topk;
  o.taps = a.taps;
  o.expert_inputs = a.expert_inputs;
  if (a.quant) {
    o.quant = RecordedQuantOptions{job.split.calibration.size(),
                                   job.split.evaluation.size(),
                                   a.clip_quantile.value_or(0.999),
                                   a.quant_taps,
                                   a.policies,
                                   a.quant_layers};
  }
  return o;
}

// Decodes neighbours from a copy of the scanned ids (4 bytes a token), so the renderers can show
// a peak's context after the job is gone. A sample cut into several sequences has no context:
// its positions would be ambiguous.
std::function<std::optional<TokenContext>(int64_t, int32_t, int)> token_context(
    const std::shared_ptr<const Tokenizer>& tok, const std::vector<TokenSequence>& sequences) {
  auto ids = std::make_shared<std::unordered_map<std::size_t, std::vector<int32_t>>>();
  std::vector<std::size_t> ambiguous;
  for (const TokenSequence& s : sequences) {
    if (!ids->emplace(s.sample, s.ids).second) ambiguous.push_back(s.sample);
  }
  for (std::size_t a : ambiguous) ids->erase(a);
  return [tok, ids](int64_t sample, int32_t position, int radius) -> std::optional<TokenContext> {
    const auto it = ids->find(static_cast<std::size_t>(sample));
    if (sample < 0 || position < 0 || it == ids->end()) return std::nullopt;
    const std::vector<int32_t>& v = it->second;
    const auto p = static_cast<std::size_t>(position);
    if (p >= v.size()) return std::nullopt;
    const std::size_t lo = p >= static_cast<std::size_t>(radius) ? p - radius : 0;
    const std::size_t hi = std::min(v.size(), p + 1 + static_cast<std::size_t>(radius));
    const auto span = [&](std::size_t a, std::size_t b) {
      return tok->decode(std::vector<int32_t>(v.begin() + static_cast<std::ptrdiff_t>(a),
                                              v.begin() + static_cast<std::ptrdiff_t>(b)));
    };
    return TokenContext{span(lo, p), span(p, p + 1), span(p + 1, hi)};
  };
}

std::string utc_now_iso8601() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

namespace job {

ScanMeta scan_meta(const ScanJob& job, const Scanned& scanned) {
  const ModelSpec& spec = job.model.spec();
  ScanMeta meta;
  meta.model_arg = job.options.model;
  meta.model_dir = job.model.dir().string();
  meta.model_type = spec.model_type;
  meta.family = spec.family;
  meta.architecture = spec.architecture;
  meta.corpus = corpus_identity(job, scanned);
  meta.options = recorded_options(job, scanned.seed);
  meta.names = job.options.names;
  if (job.tokenizer) {
    meta.token_text = [tok = job.tokenizer](int32_t id) {
      return tok->id_to_token(id).value_or("");
    };
    meta.token_context = token_context(job.tokenizer, scanned.sequences);
  }
  const ParamCounts params = count_params(spec);
  meta.params_total = params.total;
  meta.params_active = params.active;
  meta.finished_at = utc_now_iso8601();
  meta.model_name = study_model_name(job.options.model);
  meta.data_path = job.corpus().origin;
  meta.num_layers = spec.num_layers;
  meta.hidden_size = spec.hidden_size;
  meta.num_samples = static_cast<int64_t>(scanned.picked.size());
  meta.max_seq_len = job.sequence.max_seq_len;
  return meta;
}

std::vector<TokenSequence> shard_sequences(const std::vector<TokenSequence>& all,
                                           const Shard& shard) {
  if (shard.count <= 1) return all;
  std::vector<TokenSequence> out;
  for (std::size_t i = static_cast<std::size_t>(shard.index); i < all.size();
       i += static_cast<std::size_t>(shard.count)) {
    out.push_back(all[i]);
  }
  return out;
}

void throw_out_of_memory(const ScanJob& job) {
  const ModelSpec& spec = job.model.spec();
  throw Error(ErrorCode::kIo,
              fmt::format("{}: out of memory while scanning (hidden size {}, {} layers, "
                          "windows of {} tokens); a smaller --window-tokens needs less",
                          job.model.dir().string(), spec.hidden_size, spec.num_layers,
                          job.options.window_tokens));
}

std::optional<QuantRun> quant_run(const ScanJob& job, QuantResult&& q) {
  if (!job.options.quant) return std::nullopt;
  const SampleSplit& split = job.split;
  return QuantRun{
      std::move(q),
      {selection_hash(job.corpus(), split.calibration), split.calibration, split.evaluation}};
}

}  // namespace job

ScanJobResult run_scan_job(const ScanJob& job,
                           const std::function<void(const ScanProgress&)>& progress) {
  ScanOptions opt = job::scan_options(job.options);
  opt.progress = progress;
  ScanJobResult out;
  QuantResult q;
  const std::vector<TokenSequence> mine = job::shard_sequences(job.sequences, job.options.shard);
  try {
    out.scan = job.options.quant ? quant_check(job.model, job.calibration, mine, opt, job.quant, q)
                                 : scan(job.model, mine, opt);
  } catch (const std::bad_alloc&) {
    job::throw_out_of_memory(job);
  }
  out.meta = job::scan_meta(job, {job.picked, job.sequences, job.options.seed});
  out.quant = job::quant_run(job, std::move(q));
  return out;
}

}  // namespace maxact
