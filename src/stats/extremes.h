// Keeping a located extreme under the statistics' total order, shared by TapStats and
// CategoryStats so both break ties the same way (the order merges rely on).
#pragma once

#include "maxact/tap_stats.h"

namespace maxact::stats {

// cur becomes v at loc when v wins: the larger value (max) or the smaller (min), the earlier
// location on ties.
inline void keep_extreme(Located& cur, float v, const Location& loc, bool want_max) {
  const bool take = !cur.loc.valid() || (want_max ? v > cur.value : v < cur.value) ||
                    (v == cur.value && loc.before(cur.loc));
  if (take) cur = {v, loc};
}

// A finite row's extreme v (its max or min, found by a first pass) offered to cur: only a row
// that can win looks for the first channel holding v, which becomes the location's channel.
inline void keep_row_extreme(Located& cur, const float* x, float v, Location loc, bool want_max) {
  if (cur.loc.valid() && (want_max ? v < cur.value : v > cur.value)) return;
  int32_t c = 0;
  while (x[c] != v) ++c;
  loc.channel = c;
  keep_extreme(cur, v, loc, want_max);
}

}  // namespace maxact::stats
