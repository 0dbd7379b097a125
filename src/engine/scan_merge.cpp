#include <fmt/format.h>

#include <algorithm>

#include "engine/sink.h"
#include "maxact/error.h"
#include "maxact/scan.h"

namespace maxact {
namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw Error(ErrorCode::kState, "cannot merge these scans: " + what);
}

bool same_tap(const TapInfo& a, const TapInfo& b) {
  return a.name == b.name && a.study_name == b.study_name && a.component == b.component &&
         a.layer == b.layer && a.channels == b.channels && a.linear_input == b.linear_input &&
         a.study_alias == b.study_alias && a.point == b.point && a.feeds == b.feeds;
}

// Index of each of `some` (sorted) in `all` (sorted, a superset).
std::vector<std::size_t> positions(const std::vector<std::string>& some,
                                   const std::vector<std::string>& all) {
  std::vector<std::size_t> out;
  for (const std::string& c : some) {
    out.push_back(
        static_cast<std::size_t>(std::lower_bound(all.begin(), all.end(), c) - all.begin()));
  }
  return out;
}

}  // namespace

void merge_scan_results(ScanResult& into, const ScanResult& from) {
  require(into.taps.size() == from.taps.size(),
          fmt::format("{} taps against {}", into.taps.size(), from.taps.size()));
  for (std::size_t i = 0; i < into.taps.size(); ++i) {
    require(same_tap(into.taps[i], from.taps[i]),
            fmt::format("tap {} is {} in one and {} in the other", i, into.taps[i].name,
                        from.taps[i].name));
  }
  require(into.expert_load.size() == from.expert_load.size() &&
              into.expert_inputs.size() == from.expert_inputs.size(),
          "their expert layouts differ");
  for (std::size_t l = 0; l < into.expert_load.size(); ++l) {
    require(into.expert_load[l].size() == from.expert_load[l].size() &&
                (into.expert_inputs.empty() ||
                 into.expert_inputs[l].size() == from.expert_inputs[l].size()),
            fmt::format("layer {}'s experts differ", l));
    if (into.expert_inputs.empty()) continue;
    for (std::size_t e = 0; e < into.expert_inputs[l].size(); ++e) {
      const ExpertInputs &a = into.expert_inputs[l][e], &b = from.expert_inputs[l][e];
      require(a.in.channels() == b.in.channels() && a.down_in.channels() == b.down_in.channels(),
              fmt::format("layer {} expert {}'s input widths differ", l, e));
    }
  }

  for (std::size_t i = 0; i < into.stats.size(); ++i) into.stats[i].merge(from.stats[i]);

  // Categories: the union, sorted (as scan() sorts its own), each side's statistics moved to
  // their place in it.
  std::vector<std::string> all = into.categories;
  all.insert(all.end(), from.categories.begin(), from.categories.end());
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  const std::vector<std::size_t> mine = positions(into.categories, all);
  const std::vector<std::size_t> theirs = positions(from.categories, all);
  for (std::size_t t = 0; t < into.by_category.size(); ++t) {
    std::vector<CategoryStats> merged(all.size());
    for (std::size_t k = 0; k < mine.size(); ++k) merged[mine[k]] = into.by_category[t][k];
    for (std::size_t k = 0; k < theirs.size(); ++k) {
      merged[theirs[k]].merge(from.by_category[t][k]);
    }
    into.by_category[t] = std::move(merged);
  }
  into.categories = std::move(all);

  for (std::size_t l = 0; l < into.expert_load.size(); ++l) {
    for (std::size_t e = 0; e < into.expert_load[l].size(); ++e) {
      into.expert_load[l][e] += from.expert_load[l][e];
      engine::keep_expert_max(into.expert_down_in_max[l][e], from.expert_down_in_max[l][e]);
      if (!into.expert_inputs.empty() && !into.expert_inputs[l].empty()) {
        into.expert_inputs[l][e].in.merge(from.expert_inputs[l][e].in);
        into.expert_inputs[l][e].down_in.merge(from.expert_inputs[l][e].down_in);
      }
    }
  }
  into.sequences += from.sequences;
  into.tokens += from.tokens;
  into.windows += from.windows;
  into.seconds += from.seconds;
  for (std::size_t i = 0; i < into.profile.seconds.size(); ++i) {
    into.profile.seconds[i] += from.profile.seconds[i];
  }
  into.profile.total += from.profile.total;
}

}  // namespace maxact
