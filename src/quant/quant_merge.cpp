#include <fmt/format.h>

#include <cstring>

#include "maxact/error.h"
#include "maxact/quant_check.h"

namespace maxact {
namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw Error(ErrorCode::kState, "cannot merge these quantization checks: " + what);
}

// Bitwise: the calibrations were computed from the same samples, so they agree exactly.
bool same_bits(float a, float b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}
bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

bool same_calibration(const TapCalibration& a, const TapCalibration& b) {
  if (a.channel_absmax.size() != b.channel_absmax.size()) return false;
  for (std::size_t c = 0; c < a.channel_absmax.size(); ++c) {
    if (!same_bits(a.channel_absmax[c], b.channel_absmax[c])) return false;
  }
  return a.count == b.count && same_bits(a.max_abs, b.max_abs) &&
         same_bits(a.quantile, b.quantile) && same_bits(a.mse_threshold, b.mse_threshold) &&
         same_bits(a.mse, b.mse) && a.has_quantile == b.has_quantile && a.has_mse == b.has_mse;
}

}  // namespace

void merge_quant_results(QuantResult& into, const QuantResult& from) {
  require(into.options.policies == from.options.policies &&
              into.options.taps == from.options.taps &&
              into.options.peak_only == from.options.peak_only &&
              same_bits(into.options.clip_quantile, from.options.clip_quantile),
          "their options differ");
  require(into.taps.size() == from.taps.size() && into.calib_tokens == from.calib_tokens &&
              into.calib_sequences == from.calib_sequences,
          "they calibrated on different samples or taps");
  for (std::size_t i = 0; i < into.taps.size(); ++i) {
    TapQuant& a = into.taps[i];
    const TapQuant& b = from.taps[i];
    require(a.tap.name == b.tap.name && a.policies.size() == b.policies.size(),
            fmt::format("quantized tap {} is {} in one and {} in the other", i, a.tap.name,
                        b.tap.name));
    require(same_calibration(a.calibration, b.calibration),
            fmt::format("{}: the calibrations differ", a.tap.name));
    for (std::size_t p = 0; p < a.policies.size(); ++p) {
      require(a.policies[p].policy == b.policies[p].policy &&
                  same_bits(a.policies[p].threshold, b.policies[p].threshold),
              fmt::format("{}: the policies' thresholds differ", a.tap.name));
      a.policies[p].all.merge(b.policies[p].all);
      a.policies[p].clean.merge(b.policies[p].clean);
    }
    a.tokens += b.tokens;
    a.outlier_tokens += b.outlier_tokens;
  }
}

}  // namespace maxact
