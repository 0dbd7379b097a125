#include <cmath>

#include "maxact/dtype.h"
#include "maxact/tap_stats.h"
#include "stats/extremes.h"

namespace maxact {
using stats::keep_extreme;

// ---- CategoryStats ---------------------------------------------------------------------------

void CategoryStats::add_row(const float* x, int64_t channels, Location loc) {
  ++tokens;
  float hi = -std::numeric_limits<float>::infinity(), lo = -hi;
  int32_t ihi = -1, ilo = -1;
  for (int64_t c = 0; c < channels; ++c) {
    const float v = x[c];
    if (!std::isfinite(v)) {
      ++nonfinite;
      continue;
    }
    ++count;
    // Strict comparisons keep the first channel of a tie, as TapStats does.
    if (v > hi || ihi < 0) {
      hi = v;
      ihi = static_cast<int32_t>(c);
    }
    if (v < lo || ilo < 0) {
      lo = v;
      ilo = static_cast<int32_t>(c);
    }
    const float a = std::fabs(v);
    over_fp16 += a > kFp16Max;
    over_fp8 += a > kE4m3Max;
  }
  if (ihi < 0) return;
  loc.channel = ihi;
  keep_extreme(max, hi, loc, true);
  loc.channel = ilo;
  keep_extreme(min, lo, loc, false);
}

void CategoryStats::add_row(const float* x, int64_t channels, Location loc, const RowExtremes& e) {
  if (!e.finite) {
    add_row(x, channels, loc);
    return;
  }
  ++tokens;
  count += static_cast<uint64_t>(channels);
  stats::keep_row_extreme(max, x, e.max, loc, true);
  stats::keep_row_extreme(min, x, e.min, loc, false);
  if (e.absmax > kE4m3Max) {
    for (int64_t c = 0; c < channels; ++c) {
      const float a = std::fabs(x[c]);
      over_fp16 += a > kFp16Max;
      over_fp8 += a > kE4m3Max;
    }
  }
}

void CategoryStats::merge(const CategoryStats& o) {
  tokens += o.tokens;
  count += o.count;
  over_fp16 += o.over_fp16;
  over_fp8 += o.over_fp8;
  nonfinite += o.nonfinite;
  if (o.max.loc.valid()) keep_extreme(max, o.max.value, o.max.loc, true);
  if (o.min.loc.valid()) keep_extreme(min, o.min.value, o.min.loc, false);
}

Located CategoryStats::absmax() const {
  if (!max.loc.valid()) return min;
  if (!min.loc.valid()) return max;
  const float a = std::fabs(max.value), b = std::fabs(min.value);
  if (a != b) return a > b ? max : min;
  return min.loc.before(max.loc) ? min : max;
}

}  // namespace maxact
