#include "maxact/scan_job.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "job/job_common.h"
#include "maxact/error.h"
#include "maxact/output_files.h"

namespace maxact {

namespace job {

ScanOptions scan_options(const ScanJobOptions& o) {
  ScanOptions opt;
  opt.precision = o.precision;
  opt.threads = o.threads;
  opt.window_tokens = o.window_tokens;
  opt.taps = o.taps;
  opt.stats.topk = o.topk;
  opt.expert_inputs = o.expert_inputs;
  return opt;
}

std::string selection_hash(const Corpus& corpus, const std::vector<std::size_t>& selection) {
  Corpus sel;
  for (std::size_t i : selection) sel.samples.push_back(corpus.samples[i]);
  return sel.content_hash();
}

}  // namespace job

namespace {

void check_quant_args(const ScanJobOptions& a) {
  const bool any = a.calib || a.eval || a.clip_quantile || !a.quant_taps.empty() ||
                   !a.policies.empty() || !a.quant_layers.empty() || a.quant_csv;
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

QuantOptions quant_options(const ScanJobOptions& a) {
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

// --ids-native: the samples' ids as given, checked against the model's vocabulary (an id past
// it would index past the embedding table), truncated to the sequence policy's length.
std::vector<TokenSequence> native_sequences(const ScanJob& job,
                                            const std::vector<std::size_t>& selection) {
  const Corpus& corpus = job.corpus();
  const int64_t vocab = job.model.spec().vocab_size;
  std::vector<TokenSequence> out;
  for (std::size_t i : selection) {
    const auto& s = corpus.samples[i];
    if (!s.has_ids) {
      throw Error(ErrorCode::kCorpus,
                  fmt::format("{}: sample {} has text, but --ids-native needs input_ids",
                              corpus.origin, i));
    }
    for (int32_t id : s.ids) {
      if (id >= vocab) {
        throw Error(ErrorCode::kCorpus,
                    fmt::format("{}: token id {} is outside the model's vocabulary ({} "
                                "tokens); --ids-native needs the model's own ids",
                                s.location.empty() ? corpus.origin : s.location, id, vocab));
      }
    }
    TokenSequence t{i, s.category, s.ids};
    const int64_t max_len = job.sequence.max_seq_len;
    if (max_len > 0 && static_cast<int64_t>(t.ids.size()) > max_len) {
      t.ids.resize(static_cast<std::size_t>(max_len));
    }
    if (!t.ids.empty()) out.push_back(std::move(t));
  }
  return out;
}

// Positions past the context a model was trained for produce activations it never learnt to
// keep in range (RoPE angles it never saw); a peak found there says little about the model, so
// the user hears about it (the scan still runs: long-context studies do this on purpose).
void warn_past_context(const ScanJob& job, const std::vector<TokenSequence>& seqs) {
  const int64_t context = job.model.spec().max_position_embeddings;
  if (!job.options.warning || context <= 0) return;
  std::size_t past = 0, longest = 0;
  for (const auto& s : seqs) {
    past += static_cast<int64_t>(s.ids.size()) > context;
    longest = std::max(longest, s.ids.size());
  }
  if (past == 0) return;
  job.options.warning(
      fmt::format("{} of {} sequences are longer than the model's max_position_embeddings ({}; "
                  "longest {} tokens); use --max-seq-len {} to stay within it",
                  past, seqs.size(), context, longest, context));
}

}  // namespace

std::string study_model_name(const std::string& model_arg) {
  std::string s = model_arg.substr(0, model_arg.find('@'));
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  const std::string name = std::filesystem::path(s).filename().string();
  return name.empty() ? "model" : name;
}

ScanJob open_scan_job(const ScanJobOptions& options) {
  ScanJob job;
  job.options = options;
  job.model = Model::open(options.model);
  require_scan_support(job.model.spec(), job.model.dir().string());
  if (!options.corpus.empty()) {
    job.read = read_corpus(options.corpus, options.read, &job.read_report);
  }
  check_quant_args(options);
  job.inputs = input_files(job.model.dir());
  for (const std::string& extra : {options.corpus, options.source_tokenizer}) {
    if (extra.empty() || extra == "-") continue;
    const auto more = input_files(extra);
    job.inputs.insert(job.inputs.end(), more.begin(), more.end());
  }
  return job;
}

std::vector<TokenSequence> job_sequences(const ScanJob& job,
                                         const std::vector<std::size_t>& selection) {
  std::vector<TokenSequence> seqs;
  if (job.options.ids_native) {
    seqs = native_sequences(job, selection);
  } else if (!job.tokenizer) {
    throw Error(ErrorCode::kTokenizer,
                fmt::format("{}: no tokenizer.json; give token ids with --ids-native",
                            job.model.dir().string()));
  } else {
    seqs = prepare_sequences(job.corpus(), selection, *job.tokenizer, job.source_tokenizer.get(),
                             job.sequence);
  }
  // Every pass (scan, calibration, bootstrap subsets) hears when it runs past the context.
  warn_past_context(job, seqs);
  return seqs;
}

void prepare_scan_job(ScanJob& job) {
  const ScanJobOptions& a = job.options;
  const Corpus& corpus = job.corpus();
  // With --quant the scan's own samples are the evaluation samples.
  if (a.quant) {
    job.split =
        split_samples(corpus, a.calib.value_or(128), a.eval.value_or(256), a.seed, a.proportional);
  }
  job.picked =
      a.quant ? job.split.evaluation : select_samples(corpus, a.samples, a.seed, a.proportional);
  job.sequence = sequence_options(a.protocol, a.bos, a.buckets, a.max_seq_len, a.seed);
  if (job.model.has_tokenizer()) {
    job.tokenizer = std::make_shared<const Tokenizer>(open_tokenizer(job.model.dir().string()));
  }
  if (!a.source_tokenizer.empty()) {
    job.source_tokenizer = std::make_shared<const Tokenizer>(open_tokenizer(a.source_tokenizer));
  }
  if (a.bootstrap > 0) return;
  job.sequences = job_sequences(job, job.picked);
  if (job.sequences.empty()) throw Error(ErrorCode::kCorpus, corpus.origin + ": no tokens to scan");
  if (static_cast<std::size_t>(a.shard.count) > job.sequences.size()) {
    throw Error(ErrorCode::kOption,
                fmt::format("--shard {}/{}: more shards than the {} sequences selected",
                            a.shard.index, a.shard.count, job.sequences.size()));
  }
  if (a.quant) {
    job.calibration = job_sequences(job, job.split.calibration);
    job.quant = quant_options(a);
  }
  if (a.warning) {
    const int64_t windows =
        count_windows(job::shard_sequences(job.sequences, a.shard), a.window_tokens);
    if (const std::string advice = job::window_tokens_advice(job, windows); !advice.empty()) {
      a.warning(advice);
    }
  }
}

}  // namespace maxact
