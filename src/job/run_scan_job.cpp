#include <fmt/format.h>

#include <new>

#include "job/job_common.h"
#include "maxact/error.h"
#include "maxact/scan_job.h"

namespace maxact {
namespace {

std::string category_name(const std::string& c) {
  return c.empty() ? std::string("(none)") : c;
}

CorpusIdentity corpus_identity(const ScanJob& job, const job::Scanned& scanned,
                               const ScanResult& res) {
  const Corpus& corpus = job.corpus();
  CorpusIdentity c;
  c.origin = corpus.origin;
  c.content_hash = job::selection_hash(corpus, scanned.picked);
  c.samples = scanned.picked.size();
  c.sequences = scanned.sequences.size();
  c.tokens = res.tokens;
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

}  // namespace

namespace job {

ScanMeta scan_meta(const ScanJob& job, const Scanned& scanned, const ScanResult& res) {
  const ModelSpec& spec = job.model.spec();
  ScanMeta meta;
  meta.model_arg = job.options.model;
  meta.model_dir = job.model.dir().string();
  meta.model_type = spec.model_type;
  meta.family = spec.family;
  meta.architecture = spec.architecture;
  meta.corpus = corpus_identity(job, scanned, res);
  meta.options = recorded_options(job, scanned.seed);
  meta.names = job.options.names;
  if (job.tokenizer) {
    meta.token_text = [tok = job.tokenizer](int32_t id) {
      return tok->id_to_token(id).value_or("");
    };
  }
  meta.model_name = study_model_name(job.options.model);
  meta.data_path = job.corpus().origin;
  meta.num_layers = spec.num_layers;
  meta.hidden_size = spec.hidden_size;
  meta.num_samples = static_cast<int64_t>(scanned.picked.size());
  meta.max_seq_len = job.sequence.max_seq_len;
  return meta;
}

}  // namespace job

ScanJobResult run_scan_job(const ScanJob& job,
                           const std::function<void(const ScanProgress&)>& progress) {
  ScanOptions opt = job::scan_options(job.options);
  opt.progress = progress;
  ScanJobResult out;
  QuantResult q;
  try {
    out.scan = job.options.quant
                   ? quant_check(job.model, job.calibration, job.sequences, opt, job.quant, q)
                   : scan(job.model, job.sequences, opt);
  } catch (const std::bad_alloc&) {
    const ModelSpec& spec = job.model.spec();
    throw Error(ErrorCode::kIo,
                fmt::format("{}: out of memory while scanning (hidden size {}, {} layers, "
                            "windows of {} tokens); a smaller --window-tokens needs less",
                            job.model.dir().string(), spec.hidden_size, spec.num_layers,
                            job.options.window_tokens));
  }
  out.meta = job::scan_meta(job, {job.picked, job.sequences, job.options.seed}, out.scan);
  if (job.options.quant) {
    const SampleSplit& split = job.split;
    out.quant = QuantRun{std::move(q),
                         {job::selection_hash(job.corpus(), split.calibration), split.calibration,
                          split.evaluation}};
  }
  return out;
}

}  // namespace maxact
