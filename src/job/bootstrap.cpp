#include <algorithm>
#include <cmath>

#include "job/job_common.h"
#include "maxact/error.h"
#include "maxact/scan_job.h"
#include "maxact/study_max.h"
#include "maxact/taps.h"

namespace maxact {
namespace {

std::optional<BootstrapSpread> spread_of(const std::vector<BootstrapSubset>& subsets) {
  std::vector<double> peaks;
  for (const BootstrapSubset& s : subsets) {
    if (s.global_max) peaks.push_back(std::fabs(static_cast<double>(s.global_max->value)));
  }
  if (peaks.empty()) return std::nullopt;
  BootstrapSpread out;
  for (double p : peaks) out.mean += p;
  out.mean /= static_cast<double>(peaks.size());
  double var = 0;
  for (double p : peaks) var += (p - out.mean) * (p - out.mean);
  out.std = std::sqrt(var / static_cast<double>(peaks.size()));
  const auto [lo, hi] = std::minmax_element(peaks.begin(), peaks.end());
  out.min = *lo;
  out.max = *hi;
  out.relative_range = out.mean > 0 ? (out.max - out.min) / out.mean : 0.0;
  out.cv_percent = out.mean > 0 ? out.std / out.mean * 100.0 : 0.0;
  return out;
}

}  // namespace

void check_bootstrap(const ScanJobOptions& options) {
  if (options.samples == 0) throw Error(ErrorCode::kCorpus, "--bootstrap needs --samples N");
}

BootstrapResult run_bootstrap(const ScanJob& job, const BootstrapRepeat& each) {
  const ScanJobOptions& a = job.options;
  check_bootstrap(a);
  const Corpus& corpus = job.corpus();
  const auto subsets = bootstrap_selections(corpus, a.samples, a.seed, a.bootstrap);
  ScanOptions opt = job::scan_options(a);
  if (opt.taps.empty() && each) {
    // Each by its exact Hugging Face name: a glob over study names could select more.
    for (const TapInfo& t : model_taps(job.model.spec())) {
      if (!t.study_name.empty()) opt.taps.push_back(t.name);
    }
  } else if (opt.taps.empty()) {
    // Only what the study's maximum is taken over.
    opt.taps = {"embedding_output", "layer_*_hidden", "layer_*_attn_output", "layer_*_mlp_output",
                "final_layernorm"};
  }
  BootstrapResult out;
  out.model_arg = a.model;
  out.model_type = job.model.spec().model_type;
  out.corpus_origin = corpus.origin;
  out.samples = a.samples;
  out.precision = a.precision;
  for (std::size_t k = 0; k < subsets.size(); ++k) {
    const auto seqs = job_sequences(job, subsets[k]);
    if (seqs.empty()) throw Error(ErrorCode::kCorpus, corpus.origin + ": no tokens to scan");
    ScanJobResult res;
    res.scan = scan(job.model, seqs, opt);
    const ScanResult& r = res.scan;
    BootstrapSubset s{a.seed + k, job::selection_hash(corpus, subsets[k]), r.sequences, r.tokens,
                      std::nullopt};
    if (const GlobalMax g = study_global_max(r); g.tap >= 0) {
      const TapInfo& t = r.taps[static_cast<std::size_t>(g.tap)];
      s.global_max = BootstrapPeak{g.value.value, t.name, t.study_name, g.value.loc};
    }
    out.subsets.push_back(std::move(s));
    if (each) {
      res.meta = job::scan_meta(job, {subsets[k], seqs, a.seed + k});
      each(k, res);
    }
  }
  out.spread = spread_of(out.subsets);
  return out;
}

}  // namespace maxact
