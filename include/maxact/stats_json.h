// The statistics as JSON, the form docs/SCAN_JSON.md documents: the scan report's per-tap and
// per-category objects. Statistics carry no rendering of their own; every output reads them
// through their accessors.
#pragma once

#include <nlohmann/json.hpp>

#include "maxact/tap_stats.h"

namespace maxact {

nlohmann::json location_json(const Location& l);  // null when invalid
nlohmann::json located_json(const Located& e);    // null when invalid
// A token under the per-token criterion: location, abs, median, ratio (null when invalid).
nlohmann::json token_ratio_json(const TokenRatio& t);
// Sparse: {"zero", "sub_bins_per_octave", "bins": [[lower_edge, count], ...]}.
nlohmann::json histogram_json(const LogHistogram& h);
// Per-channel absmax, Σx² (null where it overflowed) and the saturation count; with
// signed_extremes also the signed max and min (null for a channel without a finite value).
nlohmann::json channel_sums_json(const ChannelSums& c, bool signed_extremes);
// signed_channel_extremes: the per-channel max / min too (Linear inputs: SmoothQuant-style tools).
nlohmann::json stats_json(const TapStats& s, bool signed_channel_extremes = false);
nlohmann::json category_json(const CategoryStats& c);

}  // namespace maxact
