#include "engine/sink.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "engine/phase_timer.h"
#include "maxact/error.h"

namespace maxact::engine {

Sink::Sink(const ModelSpec& spec, const ScanOptions& options, ThreadPool& pool, int categories)
    : pool_(pool),
      opt_(options.stats),
      statistics_(options.statistics),
      expert_inputs_(options.expert_inputs),
      part_values_(std::max<int64_t>(1, options.part_values)),
      observer_(options.observer),
      categories_(categories) {
  std::vector<bool> matched(options.taps.size(), false);
  embed_ = add(embedding_tap(spec), options.taps, matched);
  by_layer_.resize(static_cast<std::size_t>(spec.num_layers));
  expert_load.resize(static_cast<std::size_t>(spec.num_layers));
  expert_down_in_max.resize(static_cast<std::size_t>(spec.num_layers));
  expert_inputs.resize(static_cast<std::size_t>(spec.num_layers));
  for (int l = 0; l < spec.num_layers; ++l) {
    const auto li = static_cast<std::size_t>(l);
    by_layer_[li].fill(kAbsent);
    for (const TapInfo& t : layer_taps(spec, l)) {
      by_layer_[li][static_cast<std::size_t>(t.point)] = add(t, options.taps, matched);
    }
    if (spec.layers[li].mlp == MlpKind::kMoe) {
      expert_load[li].assign(static_cast<std::size_t>(spec.moe.num_experts), 0);
      expert_down_in_max[li].assign(static_cast<std::size_t>(spec.moe.num_experts), Located{});
      if (expert_inputs_) {
        expert_inputs[li].assign(
            static_cast<std::size_t>(spec.moe.num_experts),
            ExpertInputs{ChannelSums(spec.hidden_size), ChannelSums(spec.moe.intermediate)});
      }
    }
  }
  final_ = add(final_norm_tap(spec), options.taps, matched);
  // A glob that selects nothing is almost always a typo: say so rather than report nothing.
  for (std::size_t g = 0; g < matched.size(); ++g) {
    if (!matched[g]) {
      throw Error(ErrorCode::kOption, "--taps: '" + options.taps[g] +
                                          "' matches no tap of this model (names like " +
                                          layer_taps(spec, 0).back().name + " or layer_0_hidden)");
    }
  }
  if (observer_ != nullptr) observer_->start(taps);
}

void keep_expert_max(Located& cur, const Located& v) {
  if (!v.loc.valid()) return;
  const float a = std::fabs(v.value), b = std::fabs(cur.value);
  if (!cur.loc.valid() || a > b || (a == b && v.loc.before(cur.loc))) cur = v;
}

void Sink::add_expert_max(int layer, int expert, const Located& v) {
  std::lock_guard<std::mutex> lock(mu_);
  keep_expert_max(
      expert_down_in_max[static_cast<std::size_t>(layer)][static_cast<std::size_t>(expert)], v);
}

void Sink::add_expert_inputs(int layer, int expert, bool down, const float* rows, int64_t n,
                             int64_t channels) {
  if (!expert_inputs_ || n <= 0) return;
  const PhaseTimer timer(ScanPhase::kStatistics);
  ExpertInputs& e =
      expert_inputs[static_cast<std::size_t>(layer)][static_cast<std::size_t>(expert)];
  ChannelSums& dst = down ? e.down_in : e.in;
  const int64_t parts =
      std::min<int64_t>(pool_.size(), std::max<int64_t>(1, n * channels / part_values_));
  pool_.parallel_for(parts, [&](int64_t i, int) {
    int64_t b, end;
    split_range(channels, parts, i, b, end);
    dst.add_rows(rows, n, channels, static_cast<std::size_t>(b), static_cast<std::size_t>(end));
  });
}

void Sink::absent(int layer, TapPoint p) {
  throw std::logic_error(fmt::format("layer {} publishes tap point {}, which its layer_taps lacks",
                                     layer, static_cast<int>(p)));
}

int Sink::add(const TapInfo& t, const std::vector<std::string>& globs, std::vector<bool>& matched) {
  bool selected = globs.empty();
  for (std::size_t g = 0; g < globs.size(); ++g) {
    if (tap_matches(globs[g], t)) {
      selected = true;
      matched[g] = true;
    }
  }
  if (!selected) return -1;
  taps.push_back(t);
  stats.emplace_back(t.channels, opt_);
  by_category.emplace_back(static_cast<std::size_t>(categories_));
  return static_cast<int>(taps.size()) - 1;
}

void Sink::publish(int tap, const float* data, int64_t rows, int64_t ld, const Location* locs,
                   const int32_t* categories) {
  if (tap < 0 || rows <= 0) return;
  const PhaseTimer timer(ScanPhase::kStatistics);
  TapStats& dst = stats[static_cast<std::size_t>(tap)];
  auto& dst_cat = by_category[static_cast<std::size_t>(tap)];
  const int64_t C = dst.channels();
  const int32_t* cats =
      categories != nullptr ? categories : (cats_ != nullptr ? cats_ + (locs - rows_) : nullptr);
  // Categories take each row's extremes from the statistics' own first pass over it.
  const bool by_cat = cats != nullptr && !dst_cat.empty();
  auto categorize = [&](std::vector<CategoryStats>& out, int64_t b, int64_t e,
                        const RowExtremes* ex) {
    for (int64_t r = b; r < e; ++r) {
      out[static_cast<std::size_t>(cats[r])].add_row(data + r * ld, C, locs[r], ex[r - b]);
    }
  };
  const int64_t parts =
      std::min<int64_t>(pool_.size(), std::max<int64_t>(1, rows * C / part_values_));
  if (observer_ != nullptr) {
    pool_.parallel_for(parts, [&](int64_t i, int) {
      int64_t b, e;
      split_range(rows, parts, i, b, e);
      observer_->observe(tap, data + b * ld, e - b, ld);
    });
  }
  if (!statistics_) return;
  if (parts <= 1) {
    std::vector<RowExtremes> ex(by_cat ? static_cast<std::size_t>(rows) : 0);
    dst.add_rows(data, rows, locs, ld, by_cat ? ex.data() : nullptr);
    if (by_cat) categorize(dst_cat, 0, rows, ex.data());
    return;
  }
  pool_.parallel_for(parts, [&](int64_t i, int) {
    int64_t b, e;
    split_range(rows, parts, i, b, e);
    TapStats local(C, opt_);
    std::vector<RowExtremes> ex(by_cat ? static_cast<std::size_t>(e - b) : 0);
    local.add_rows(data + b * ld, e - b, locs + b, ld, by_cat ? ex.data() : nullptr);
    std::vector<CategoryStats> local_cat(dst_cat.size());
    if (by_cat) categorize(local_cat, b, e, ex.data());
    std::lock_guard<std::mutex> lock(mu_);
    dst.merge(local);
    for (std::size_t k = 0; k < local_cat.size(); ++k) dst_cat[k].merge(local_cat[k]);
  });
}

}  // namespace maxact::engine
