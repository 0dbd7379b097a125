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

}  // namespace maxact::stats
