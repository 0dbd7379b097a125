// The value-level statistics of finite rows: exact sums of x, |x| and x², the |x| histogram, and
// per-channel max, min and Σx². This pass runs once per activation value of every tap, so it is
// the scan's hottest loop after the GEMMs.
#pragma once

#include <cstddef>

#include "maxact/channel_sums.h"
#include "maxact/exact_sum.h"
#include "maxact/tap_stats.h"

namespace maxact::stats {

struct ValueAccumulators {
  ExactSum& sum;
  ExactSum& sumabs;
  ExactSum& sumsq;
  LogHistogram& hist;
  ChannelSums& chan;
};

// kPerValue adds every value to every accumulator in turn: the definition the others must match
// bit for bit. kBinned groups the values by their top 13 bits (one exponent, one histogram bin
// per group) and sums each group's integer mantissas before touching the accumulators; kAvx512 is
// kBinned with the per-channel statistics and the group keys computed 16 lanes at a time.
enum class ValueKernel { kPerValue, kBinned, kAvx512 };

// Adds rows[0..n), `channels` finite values each. Every kernel leaves the same state.
void add_finite_values(const float* const* rows, std::size_t n, std::size_t channels,
                       const ValueAccumulators& a, ValueKernel kernel);

// A row's max, min and largest |x|, as a sequential pass finds them (of equal zeros, the first),
// and whether it holds a NaN or an Inf (then the three are unset).
struct RowRange {
  float max, min, absmax;
  bool special;
};
RowRange row_range(const float* x, std::size_t channels, ValueKernel kernel);

// The lower median of |x[0..n)| (maxact::lower_median_abs), gathering candidates with `kernel`'s
// instructions: the same exact order statistic from every kernel.
float lower_median_abs(const float* x, std::size_t n, float guess, ValueKernel kernel);

// The fastest kernel this CPU runs, or the one MAXACT_STATS_KERNEL names (per-value, binned,
// avx512): so a machine with AVX-512 can run the others too.
ValueKernel default_value_kernel();
const char* value_kernel_name(ValueKernel k);
// The kernels this CPU runs, fastest first.
std::vector<ValueKernel> value_kernels();

}  // namespace maxact::stats
