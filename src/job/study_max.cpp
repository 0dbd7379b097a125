#include "maxact/study_max.h"

#include <cmath>
#include <optional>

namespace maxact {
namespace {

// Given each tap's located absmax (nullopt where it saw nothing).
template <typename AbsmaxOf>
GlobalMax largest_over_study_taps(const ScanResult& r, AbsmaxOf absmax_of) {
  GlobalMax g;
  for (std::size_t i = 0; i < r.taps.size(); ++i) {
    if (!component_in_study_max(r.taps[i].component)) continue;
    const std::optional<Located> a = absmax_of(i);
    if (!a) continue;
    if (g.tap < 0 || std::fabs(a->value) > std::fabs(g.value.value)) {
      g.tap = static_cast<int>(i);
      g.value = *a;
    }
  }
  return g;
}

}  // namespace

GlobalMax study_global_max(const ScanResult& r) {
  return largest_over_study_taps(r, [&](std::size_t i) -> std::optional<Located> {
    if (r.stats[i].count() == 0) return std::nullopt;
    return r.stats[i].absmax();
  });
}

GlobalMax category_global_max(const ScanResult& r, std::size_t k) {
  return largest_over_study_taps(r, [&](std::size_t i) -> std::optional<Located> {
    const CategoryStats& c = r.by_category[i][k];
    if (c.count == 0) return std::nullopt;
    return c.absmax();
  });
}

}  // namespace maxact
