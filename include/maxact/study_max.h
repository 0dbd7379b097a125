// The study's global maximum of a scan: the largest |x| over the taps of its components
// (embedding, hidden, attention, MLP, final norm; component_in_study_max), signed, with the tap
// it came from. What a report leads with and what the bootstrap compares across subsets.
#pragma once

#include <cstddef>

#include "maxact/scan.h"

namespace maxact {

// `tap` indexes ScanResult::taps; -1 when nothing was recorded. Ties keep the earlier tap in
// forward order: deterministic, and the study's "first" peak.
struct GlobalMax {
  int tap = -1;
  Located value;
};
GlobalMax study_global_max(const ScanResult& r);

// The same restricted to category k of ScanResult::categories ("where does this domain peak?").
GlobalMax category_global_max(const ScanResult& r, std::size_t k);

}  // namespace maxact
