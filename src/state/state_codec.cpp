#include "state/state_codec.h"

#include <algorithm>
#include <cmath>

#include "maxact/channel_sums.h"
#include "maxact/exact_sum.h"
#include "maxact/quantize.h"
#include "maxact/tap_stats.h"

namespace maxact {

// Sizes are written as their 8 bytes (std::size_t is uint64_t on every target maxact builds for).
static_assert(sizeof(std::size_t) == 8);

using state::io_enum;

// Sums a state may hold stay below 2^100 in magnitude (a 48-bit square times 2^52 additions, or a
// 53-bit mantissa times 2^47 rows), so merging up to 2^27 of them (states, or a report's pooled
// taps) cannot overflow a 128-bit bucket.
constexpr int128 kSumBound = static_cast<int128>(1) << 100;
// Counts of sequences, tokens and windows: far beyond any corpus, small enough to add up.
constexpr int64_t kCountBound = int64_t{1} << 48;

// The private accumulators, field by field (the classes name this struct their friend).
struct StateAccess {
  template <class Ar>
  static void io(Ar& ar, ExactSum& s) {
    ar(s.b_);
    ar(s.squares_);
    for (const int128 b : s.b_) ar.check(b < kSumBound && b > -kSumBound, "an exact sum too large");
  }
  template <class Ar>
  static void io(Ar& ar, ExactDoubleSum& s) {
    ar(s.b_);
    for (std::size_t i = 0; i < s.b_.size(); ++i) {
      const auto& [e, m] = s.b_[i];
      ar.check(e > -1200 && e < 1100 && m < kSumBound && m > -kSumBound &&
                   (i == 0 || s.b_[i - 1].first < e),
               "an exact double sum's buckets out of order or range");
    }
  }
  template <class Ar>
  static void io(Ar& ar, LogHistogram& h) {
    ar(h.bins_);
    ar(h.zero_);
    ar(h.under_);
    ar(h.over_);
    ar.check(h.bins_.size() == LogHistogram::kBins, "a histogram of the wrong size");
  }
  template <class Ar>
  static void io(Ar& ar, TopK& t) {
    ar(t.k_);
    ar(t.heap_);
    ar.check(t.k_ <= (std::size_t{1} << 20) && t.heap_.size() <= t.k_,
             "a top-K list longer than K");
    if constexpr (Ar::kReading) {
      std::make_heap(t.heap_.begin(), t.heap_.end(),
                     [](const Located& a, const Located& b) { return TopK::better(a, b); });
    }
  }
  template <class Ar>
  static void io(Ar& ar, ChannelSums& c) {
    ar(c.max_);
    ar(c.min_);
    ar(c.sumsq_);
    ar(c.saturated_);
    ar.check(c.min_.size() == c.max_.size() && c.sumsq_.size() == c.max_.size(),
             "per-channel arrays of different lengths");
  }
  template <class Ar>
  static void io(Ar& ar, ErrorStats& e) {
    ar(e.count_);
    ar(e.nonfinite_);
    ar(e.clipped_);
    ar(e.exceeded_);
    ar(e.sum_sq_x_);
    ar(e.sum_abs_x_);
    ar(e.sum_sq_e_);
    ar(e.sum_abs_e_);
  }
  template <class Ar>
  static void io(Ar& ar, TapStats& s) {
    ar(s.channels_);
    ar(s.opt_);
    auto& a = s.a_;
    ar(a.count);
    ar(a.sum);
    ar(a.sumsq);
    ar(a.sumabs);
    ar(a.max);
    ar(a.min);
    ar(a.hist);
    ar(a.top);
    ar(a.chan);
    ar(a.tokens);
    ar(a.massive_values);
    ar(a.massive_tokens);
    ar(a.token_max_hist);
    ar(a.massive);
    ar(a.ratio_tokens);
    ar(a.ratio_infinite);
    ar(a.ratio_sum);
    ar(a.ratio_sumsq);
    ar(a.peak_token);
    ar(a.max_ratio_token);
    ar(a.over_fp16);
    ar(a.over_fp8);
    ar(a.nan);
    ar(a.inf);
    ar(a.first_nan);
    ar(a.first_inf);
    ar.check(s.channels_ >= 0 && s.channels_ <= (int64_t{1} << 24) &&
                 a.chan.channels() == static_cast<std::size_t>(s.channels_),
             "a tap's channel count and its per-channel arrays disagree");
  }
};

namespace state {

// The private accumulators through StateAccess; the public structures' fields below.
template <class Ar, class T>
requires requires(Ar& ar, T& t) {
  StateAccess::io(ar, t);
}
void io(Ar& ar, T& t) {
  StateAccess::io(ar, t);
}

template <class Ar>
void io(Ar& ar, Location& l) {
  ar(l.sample);
  ar(l.position);
  ar(l.token);
  ar(l.channel);
}
// A located value is a finite activation (the statistics keep NaN and Inf apart): a NaN would
// break the orderings top lists are sorted by.
template <class Ar>
void io(Ar& ar, Located& l) {
  ar(l.value);
  ar(l.loc);
  ar.check(!l.loc.valid() || std::isfinite(l.value), "a located value that is not finite");
}
template <class Ar>
void io(Ar& ar, TokenRatio& t) {
  ar(t.absmax);
  ar(t.median);
  ar(t.ratio);
  ar(t.loc);
  ar.check(!std::isnan(t.absmax) && !std::isnan(t.median) && !std::isnan(t.ratio),
           "a token ratio that is NaN");
}
template <class Ar>
void io(Ar& ar, TapStatsOptions& o) {
  ar(o.topk);
  ar(o.massive_tokens_kept);
  ar(o.massive_abs);
  ar(o.massive_ratio);
}
template <class Ar>
void io(Ar& ar, CategoryStats& c) {
  ar(c.tokens);
  ar(c.count);
  ar(c.over_fp16);
  ar(c.over_fp8);
  ar(c.nonfinite);
  ar(c.max);
  ar(c.min);
}
template <class Ar>
void io(Ar& ar, ExpertInputs& e) {
  ar(e.in);
  ar(e.down_in);
}
template <class Ar>
void io(Ar& ar, GgufInputOrder& g) {
  ar(g.key_heads);
  ar(g.value_heads);
  ar(g.head_dim);
}
template <class Ar>
void io(Ar& ar, LinearUse& u) {
  ar(u.module);
  ar(u.gguf);
  ar(u.gguf_input_order);
  io_enum(ar, u.experts, 3);
  ar(u.expert_modules);
}
template <class Ar>
void io(Ar& ar, TapInfo& t) {
  ar(t.name);
  ar(t.study_name);
  io_enum(ar, t.component, static_cast<int>(Component::kRouter) + 1);
  ar(t.layer);
  ar(t.channels);
  ar(t.linear_input);
  ar(t.study_alias);
  io_enum(ar, t.point, kTapPoints);
  ar(t.feeds);
}

template <class Ar>
void io(Ar& ar, ScanResult& r) {
  ar(r.taps);
  ar(r.stats);
  ar(r.categories);
  ar(r.by_category);
  ar(r.expert_load);
  ar(r.expert_down_in_max);
  ar(r.expert_inputs);
  ar(r.sequences);
  ar(r.tokens);
  ar(r.windows);
  ar(r.seconds);
  ar(r.threads);
  ar(r.blas_core);
  ar(r.linear_kernel);
  ar(r.stats_kernel);
  ar.check(r.stats.size() == r.taps.size(), "taps and statistics of different counts");
  ar.check(r.sequences >= 0 && r.sequences <= kCountBound && r.tokens >= 0 &&
               r.tokens <= kCountBound && r.windows >= 0 && r.windows <= kCountBound,
           "sequence, token or window counts out of range");
  for (std::size_t i = 0; i < r.taps.size(); ++i) {
    ar.check(r.taps[i].channels == r.stats[i].channels() && r.taps[i].layer >= -1 &&
                 r.taps[i].layer < static_cast<int>(r.expert_load.size()),
             "a tap's channels or layer out of range");
  }
  ar.check(std::adjacent_find(r.categories.begin(), r.categories.end(),
                              [](const auto& a, const auto& b) { return !(a < b); }) ==
               r.categories.end(),
           "categories not sorted");
  ar.check(r.by_category.size() == r.taps.size(), "per-category statistics of another tap count");
  for (const auto& c : r.by_category) {
    ar.check(c.size() == r.categories.size(), "per-category statistics of another category count");
  }
  ar.check(r.expert_down_in_max.size() == r.expert_load.size() &&
               (r.expert_inputs.empty() || r.expert_inputs.size() == r.expert_load.size()),
           "per-expert arrays of different layer counts");
  for (std::size_t l = 0; l < r.expert_load.size(); ++l) {
    ar.check(r.expert_down_in_max[l].size() == r.expert_load[l].size() &&
                 (r.expert_inputs.empty() || r.expert_inputs[l].empty() ||
                  r.expert_inputs[l].size() == r.expert_load[l].size()),
             "per-expert arrays of different expert counts");
  }
}

template <class Ar>
void io(Ar& ar, CategoryCount& c) {
  ar(c.samples);
  ar(c.bytes);
  ar(c.sequences);
  ar(c.tokens);
}
template <class Ar>
void io(Ar& ar, CorpusIdentity& c) {
  ar(c.origin);
  ar(c.content_hash);
  ar(c.samples);
  ar(c.sequences);
  ar(c.tokens);
  ar(c.skipped_bad_lines);
  ar(c.skipped_empty);
  ar(c.categories);
  ar.check(
      c.sequences <= static_cast<uint64_t>(kCountBound) && c.tokens >= 0 && c.tokens <= kCountBound,
      "corpus counts out of range");
}
template <class Ar>
void io(Ar& ar, RecordedQuantOptions& q) {
  ar(q.calib);
  ar(q.eval);
  ar(q.clip_quantile);
  ar(q.taps);
  ar(q.policies);
  ar(q.layers);
}
template <class Ar>
void io(Ar& ar, RecordedOptions& o) {
  io_enum(ar, o.precision, 2);
  ar(o.samples);
  ar(o.seed);
  ar(o.max_seq_len);
  ar(o.window_tokens);
  ar(o.bos);
  ar(o.protocol);
  ar(o.role);
  ar(o.ids_native);
  ar(o.topk);
  ar(o.taps);
  ar(o.expert_inputs);
  ar(o.quant);
}
template <class Ar>
void io(Ar& ar, ScanMeta& m) {
  ar(m.model_arg);
  ar(m.model_dir);
  ar(m.model_type);
  ar(m.family);
  ar(m.architecture);
  ar(m.corpus);
  ar(m.options);
  io_enum(ar, m.names, 2);
  ar(m.params_total);
  ar(m.params_active);
  ar(m.finished_at);
  ar(m.command);
  ar(m.model_name);
  ar(m.data_path);
  ar(m.num_layers);
  ar(m.hidden_size);
  ar(m.num_samples);
  ar(m.max_seq_len);
}

template <class Ar>
void io(Ar& ar, QuantOptions& q) {
  ar(q.clip_quantile);
  ar(q.taps);
  ar(q.peak_only);
  uint64_t n = q.policies.size();
  ar(n);
  ar.check(n <= kQuantPolicies, "more quantization policies than exist");
  q.policies.resize(static_cast<std::size_t>(n));
  for (QuantPolicy& p : q.policies) io_enum(ar, p, kQuantPolicies);
}
template <class Ar>
void io(Ar& ar, TapCalibration& c) {
  ar(c.count);
  ar(c.max_abs);
  ar(c.quantile);
  ar(c.mse_threshold);
  ar(c.mse);
  ar(c.has_quantile);
  ar(c.has_mse);
  ar(c.channel_absmax);
}
template <class Ar>
void io(Ar& ar, PolicyErrors& p) {
  io_enum(ar, p.policy, kQuantPolicies);
  ar(p.threshold);
  ar(p.all);
  ar(p.clean);
}
template <class Ar>
void io(Ar& ar, TapQuant& t) {
  ar(t.tap);
  ar(t.calibration);
  ar(t.tokens);
  ar(t.outlier_tokens);
  ar(t.policies);
  ar.check(t.tap.channels >= 0 && t.tap.channels <= (int64_t{1} << 24) &&
               static_cast<int64_t>(t.calibration.channel_absmax.size()) == t.tap.channels,
           "a calibration of another channel count");
}
// Every tap holds one error record per policy, in the options' order (none before the first
// evaluated window of a checkpoint).
template <class Ar>
void io(Ar& ar, QuantResult& q) {
  ar(q.options);
  ar(q.taps);
  ar(q.calib_sequences);
  ar(q.calib_tokens);
  ar(q.calib_seconds);
  for (const TapQuant& t : q.taps) {
    bool same = t.policies.empty() || t.policies.size() == q.options.policies.size();
    for (std::size_t p = 0; same && p < t.policies.size(); ++p) {
      same = t.policies[p].policy == q.options.policies[p];
    }
    ar.check(same, "a quantized tap's policies differ from the check's");
  }
}
template <class Ar>
void io(Ar& ar, CalibrationIdentity& c) {
  ar(c.content_hash);
  std::vector<uint64_t> samples(c.samples.begin(), c.samples.end());
  std::vector<uint64_t> eval(c.evaluation_samples.begin(), c.evaluation_samples.end());
  ar(samples);
  ar(eval);
  c.samples.assign(samples.begin(), samples.end());
  c.evaluation_samples.assign(eval.begin(), eval.end());
}
template <class Ar>
void io(Ar& ar, QuantRun& q) {
  ar(q.result);
  ar(q.calibration);
}

template void io(Writer&, ScanResult&);
template void io(Reader&, ScanResult&);
template void io(Writer&, ScanMeta&);
template void io(Reader&, ScanMeta&);
template void io(Writer&, QuantRun&);
template void io(Reader&, QuantRun&);

}  // namespace state
}  // namespace maxact
