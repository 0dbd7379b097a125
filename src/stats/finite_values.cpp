#include "stats/finite_values.h"

#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "maxact/error.h"

namespace maxact::stats {
namespace {

// ---- Groups of values sharing their top 13 bits --------------------------------------------
//
// A group (sign, exponent, 4 leading fraction bits) shares one ExactSum bucket and one histogram
// bin, so its values enter the accumulators as three integer sums: count and Σm in one word
// (count from bit 40, Σm below it: < 2^40 for up to 2^16 values of m < 2^24) and Σm² in another
// (< 2^64 for up to 2^16 values). Integer sums are exact, so the state equals the per-value one.
struct Group {
  uint64_t count_msum = 0;
  uint64_t msum2 = 0;
};
constexpr uint64_t kCountUnit = uint64_t{1} << 40;
constexpr uint32_t kZeroKey = 8192;         // ±0, kept apart: the histogram's zero bin
constexpr std::size_t kMaxPending = 65536;  // values between flushes: both words stay exact

class GroupTable {
 public:
  GroupTable() : g_(kZeroKey + 1) {}

  // key: the value's top 13 bits (kZeroKey for ±0); m: its integer mantissa.
  void add(uint32_t key, uint32_t m) {
    Group& g = g_[key];
    g.count_msum += m + kCountUnit;
    g.msum2 += static_cast<uint64_t>(m) * m;
  }
  // The range of |x| keys (top 12 bits of |x|) added since the last flush, zeros aside.
  void note(uint32_t abs_key_min, uint32_t abs_key_max) {
    lo_ = std::min(lo_, abs_key_min);
    hi_ = std::max(hi_, abs_key_max);
  }
  // Makes room for `values` more; flushes first when they would exceed the exact range.
  void reserve(std::size_t values, const ValueAccumulators& a) {
    if (full(values)) flush(a);
    pending_ += values;
  }
  // Whether `values` more need a flush first (reserve() in two steps, for callers that note the
  // key range lazily).
  bool full(std::size_t values) const { return pending_ + values > kMaxPending; }
  void count(std::size_t values) { pending_ += values; }

  void flush(const ValueAccumulators& a) {
    if (pending_ == 0) return;
    for (uint32_t sign = 0; sign < 2; ++sign) {
      for (uint32_t k = lo_; k <= hi_; ++k) {
        Group& g = g_[sign << 12 | k];
        if (g.count_msum == 0) continue;
        // A value of the group: same exponent (bucket) and same histogram bin; the low bit makes
        // the smallest subnormal group nonzero.
        const float like = std::bit_cast<float>(k << 19 | 1u);
        const auto msum = static_cast<int128>(g.count_msum & (kCountUnit - 1));
        a.hist.add(like, g.count_msum >> 40);
        a.sum.add_mantissa_sum(like, sign != 0 ? -msum : msum);
        a.sumabs.add_mantissa_sum(like, msum);
        a.sumsq.add_square_mantissa_sum(like, static_cast<int128>(g.msum2));
        g = {};
      }
    }
    Group& z = g_[kZeroKey];
    if (z.count_msum != 0) a.hist.add(0.0f, z.count_msum >> 40);
    z = {};
    a.sumsq.add_square_mantissa_sum(0.0f, 0);  // a sum of squares, even of zeros only
    pending_ = 0;
    lo_ = kNone;
    hi_ = 0;
  }

 private:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  std::vector<Group> g_;
  std::size_t pending_ = 0;
  uint32_t lo_ = kNone, hi_ = 0;
};

// One per thread: 128 KB, clean between calls.
GroupTable& groups() {
  thread_local GroupTable t;
  return t;
}

// ---- Per-channel Σ of fixed-point squares, as two 64-bit words ----------------------------
//
// Each term is ChannelSums' round(v² · 2^48) (< 2^127), split exactly into q_hi · 2^64 + q_lo;
// lo carries into hi, and hi is held at 2^63 once reached (the block alone passed 2^127, which
// ChannelSums records as an overflow), so it never wraps.
constexpr uint64_t kHiSticky = uint64_t{1} << 63;

struct SquareSum {
  uint64_t lo = 0, hi = 0, saturated = 0;
  void add(float v) {
    const double sq = ChannelSums::fixed_square(v);
    if (!(sq < ChannelSums::kFixedLimit)) {
      ++saturated;
      return;
    }
    const double q = ChannelSums::round_fixed(sq);
    const double qh = std::trunc(q * 0x1p-64);
    const auto ql = static_cast<uint64_t>(q - qh * 0x1p64);
    lo += ql;
    hi = std::min(hi + static_cast<uint64_t>(qh) + (lo < ql ? 1 : 0), kHiSticky);
  }
};

// The top 13 bits of x (kZeroKey for ±0) and its integer mantissa, as ExactSum decomposes it.
inline void group_of(float x, uint32_t& key, uint32_t& m, uint32_t& abs_key) {
  const auto u = std::bit_cast<uint32_t>(x);
  const uint32_t a = u & 0x7FFFFFFFu;
  key = a == 0 ? kZeroKey : u >> 19;
  m = (u & 0x7FFFFFu) | (a >= 0x800000u ? 0x800000u : 0u);
  abs_key = a >> 19;
}

// ---- Kernels ---------------------------------------------------------------------------------

void per_value(const float* const* rows, std::size_t n, std::size_t C, const ValueAccumulators& a) {
  constexpr std::size_t kTile = 256;  // channels whose state (20 bytes each) stays in L1
  for (std::size_t c0 = 0; c0 < C; c0 += kTile) {
    const std::size_t c1 = std::min(C, c0 + kTile);
    for (std::size_t r = 0; r < n; ++r) {
      const float* x = rows[r];
      for (std::size_t c = c0; c < c1; ++c) {
        const float v = x[c];
        a.sum.add(v);
        a.sumabs.add_abs(v);
        a.sumsq.add_square(v);
        a.hist.add(std::fabs(v));
        a.chan.add(c, v);
      }
    }
  }
}

void binned(const float* const* rows, std::size_t n, std::size_t C, const ValueAccumulators& a) {
  GroupTable& t = groups();
  constexpr std::size_t kBlock = 64;  // channels per sweep over the rows
  float mx[kBlock], mn[kBlock];
  SquareSum sq[kBlock];
  for (std::size_t c0 = 0; c0 < C; c0 += kBlock) {
    const std::size_t w = std::min(kBlock, C - c0);
    std::fill(mx, mx + w, -std::numeric_limits<float>::infinity());
    std::fill(mn, mn + w, std::numeric_limits<float>::infinity());
    std::fill(sq, sq + w, SquareSum{});
    for (std::size_t r = 0; r < n; ++r) {
      t.reserve(w, a);
      const float* x = rows[r] + c0;
      uint32_t kmin = 0xFFFFFFFFu, kmax = 0;
      for (std::size_t j = 0; j < w; ++j) {
        const float v = x[j];
        if (v > mx[j]) mx[j] = v;
        if (v < mn[j]) mn[j] = v;
        sq[j].add(v);
        uint32_t key, m, ak;
        group_of(v, key, m, ak);
        t.add(key, m);
        if (key != kZeroKey) {
          kmin = std::min(kmin, ak);
          kmax = std::max(kmax, ak);
        }
      }
      t.note(kmin, kmax);
    }
    for (std::size_t j = 0; j < w; ++j) {
      a.chan.add_partial(c0 + j, mx[j], mn[j], sq[j].lo, sq[j].hi, sq[j].saturated);
    }
  }
  t.flush(a);
}

#define MAXACT_AVX512 __attribute__((target("avx512f,avx512dq"), always_inline)) inline

// 16 channels' accumulators across the rows of a block, in registers: max, min, and SquareSum's
// words for the low and the high 8 lanes.
struct Lanes16 {
  __m512 mx, mn;
  __m512i lo[2], hi[2], saturated[2];
};

// The squares of 8 values (as doubles) into 8 lanes of SquareSum. Below 2^64 (|v| < 256, nearly
// every activation) the high word only takes lo's carry.
MAXACT_AVX512 void square_lanes(__m512d d, __m512i& lo, __m512i& hi, __m512i& saturated) {
  const __m512i one = _mm512_set1_epi64(1);
  const __m512d sq = _mm512_mul_pd(_mm512_mul_pd(d, d), _mm512_set1_pd(ChannelSums::kFixedScale));
  const __m512d k52 = _mm512_set1_pd(0x1p52);
  const __mmask8 small = _mm512_cmp_pd_mask(sq, k52, _CMP_LT_OQ);
  __m512d q = _mm512_mask_sub_pd(sq, small, _mm512_add_pd(sq, k52), k52);
  const __mmask8 big = _mm512_cmp_pd_mask(sq, _mm512_set1_pd(0x1p64), _CMP_NLT_UQ);
  __m512i qhi = _mm512_setzero_si512();
  if (big != 0) {
    const __mmask8 sat =
        _mm512_cmp_pd_mask(sq, _mm512_set1_pd(ChannelSums::kFixedLimit), _CMP_NLT_UQ);
    saturated = _mm512_mask_add_epi64(saturated, sat, saturated, one);
    q = _mm512_maskz_mov_pd(static_cast<__mmask8>(~sat), q);
    const __m512d qh = _mm512_maskz_roundscale_pd(0xFF, _mm512_mul_pd(q, _mm512_set1_pd(0x1p-64)),
                                                  _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    q = _mm512_fnmadd_pd(qh, _mm512_set1_pd(0x1p64), q);  // exact: q's low 64 bits
    qhi = _mm512_cvttpd_epu64(qh);
  }
  const __m512i qlo = _mm512_cvttpd_epu64(q);
  lo = _mm512_add_epi64(lo, qlo);
  const __mmask8 carry = _mm512_cmplt_epu64_mask(lo, qlo);
  hi = _mm512_add_epi64(hi, qhi);
  hi = _mm512_mask_add_epi64(hi, carry, hi, one);
  if (big != 0) {
    hi = _mm512_maskz_min_epu64(0xFF, hi, _mm512_set1_epi64(static_cast<int64_t>(kHiSticky)));
  }
}

// One row's 16 (or fewer: `lanes`) values of a block into its accumulators and the group table.
MAXACT_AVX512 void add_lanes16(const float* x, __mmask16 lanes, Lanes16& acc, GroupTable& t,
                               __m512i& kmin, __m512i& kmax) {
  const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF), frac = _mm512_set1_epi32(0x7FFFFF),
                implicit = _mm512_set1_epi32(0x800000), zero_key = _mm512_set1_epi32(kZeroKey);
  const __m512 v = _mm512_maskz_loadu_ps(lanes, x);
  acc.mx = _mm512_mask_max_ps(acc.mx, lanes, acc.mx, v);
  acc.mn = _mm512_mask_min_ps(acc.mn, lanes, acc.mn, v);
  square_lanes(_mm512_maskz_cvtps_pd(0xFF, _mm512_maskz_extractf32x8_ps(0xFF, v, 0)), acc.lo[0],
               acc.hi[0], acc.saturated[0]);
  square_lanes(_mm512_maskz_cvtps_pd(0xFF, _mm512_maskz_extractf32x8_ps(0xFF, v, 1)), acc.lo[1],
               acc.hi[1], acc.saturated[1]);
  const __m512i u = _mm512_castps_si512(v);
  const __m512i au = _mm512_and_si512(u, abs_mask);
  const __mmask16 nonzero = _mm512_test_epi32_mask(au, au);
  const __m512i key = _mm512_mask_srli_epi32(zero_key, nonzero, u, 19);
  const __mmask16 normal = _mm512_cmpge_epu32_mask(au, implicit);
  const __m512i f = _mm512_and_si512(u, frac);
  const __m512i m = _mm512_mask_or_epi32(f, normal, f, implicit);
  const __m512i ak = _mm512_maskz_srli_epi32(0xFFFF, au, 19);
  const __mmask16 counted = nonzero & lanes;
  kmin = _mm512_mask_min_epu32(kmin, counted, kmin, ak);
  kmax = _mm512_mask_max_epu32(kmax, counted, kmax, ak);
  alignas(64) uint32_t keys[16], ms[16];
  _mm512_store_si512(keys, key);
  _mm512_store_si512(ms, m);
  const int live = std::popcount(static_cast<unsigned>(lanes));
  for (int i = 0; i < live; ++i) t.add(keys[i], ms[i]);
}

// The lanes' range of group keys, told to the table.
MAXACT_AVX512 void note_range(GroupTable& t, __m512i kmin, __m512i kmax) {
  alignas(64) uint32_t lo[16], hi[16];
  _mm512_store_si512(lo, kmin);
  _mm512_store_si512(hi, kmax);
  t.note(*std::min_element(lo, lo + 16), *std::max_element(hi, hi + 16));
}

MAXACT_AVX512 void reset(Lanes16& acc) {
  acc.mx = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  acc.mn = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  for (int i = 0; i < 2; ++i) acc.lo[i] = acc.hi[i] = acc.saturated[i] = _mm512_setzero_si512();
}

// Channels [c0, c0 + w) of the accumulators into ChannelSums.
MAXACT_AVX512 void flush_lanes16(const Lanes16& acc, std::size_t c0, std::size_t w,
                                 ChannelSums& chan) {
  alignas(64) float mx[16], mn[16];
  alignas(64) uint64_t lo[16], hi[16], sat[16];
  _mm512_store_ps(mx, acc.mx);
  _mm512_store_ps(mn, acc.mn);
  for (int i = 0; i < 2; ++i) {
    _mm512_store_si512(lo + 8 * i, acc.lo[i]);
    _mm512_store_si512(hi + 8 * i, acc.hi[i]);
    _mm512_store_si512(sat + 8 * i, acc.saturated[i]);
  }
  for (std::size_t j = 0; j < w; ++j) chan.add_partial(c0 + j, mx[j], mn[j], lo[j], hi[j], sat[j]);
}

__attribute__((target("avx512f,avx512dq"))) void avx512(const float* const* rows, std::size_t n,
                                                        std::size_t C, const ValueAccumulators& a) {
  GroupTable& t = groups();
  // Two vectors of channels per sweep over the rows: 32 channels' accumulators in registers.
  for (std::size_t c0 = 0; c0 < C; c0 += 32) {
    const std::size_t w = std::min<std::size_t>(32, C - c0), w1 = w > 16 ? w - 16 : 0;
    const auto lanes0 = static_cast<__mmask16>(w >= 16 ? 0xFFFFu : (1u << w) - 1u);
    const auto lanes1 = static_cast<__mmask16>(w1 >= 16 ? 0xFFFFu : (1u << w1) - 1u);
    Lanes16 acc0, acc1;
    reset(acc0);
    reset(acc1);
    // The group keys' range, lane by lane, told to the table before it flushes.
    __m512i kmin = _mm512_set1_epi32(-1), kmax = _mm512_setzero_si512();
    for (std::size_t r = 0; r < n; ++r) {
      if (t.full(w)) {
        note_range(t, kmin, kmax);
        t.flush(a);
      }
      t.count(w);
      const float* x = rows[r] + c0;
      add_lanes16(x, lanes0, acc0, t, kmin, kmax);
      if (lanes1 != 0) add_lanes16(x + 16, lanes1, acc1, t, kmin, kmax);
    }
    note_range(t, kmin, kmax);
    flush_lanes16(acc0, c0, std::min<std::size_t>(16, w), a.chan);
    flush_lanes16(acc1, c0 + 16, w1, a.chan);
  }
  t.flush(a);
}

#undef MAXACT_AVX512

RowRange row_range_scalar(const float* x, std::size_t C) {
  float hi = -std::numeric_limits<float>::infinity(), lo = -hi, amax = 0.0f;
  uint32_t special = 0;
  for (std::size_t c = 0; c < C; ++c) {
    const float v = x[c];
    special |= static_cast<uint32_t>((std::bit_cast<uint32_t>(v) & 0x7F800000u) == 0x7F800000u);
    hi = v > hi ? v : hi;
    lo = v < lo ? v : lo;
    const float a = std::fabs(v);
    amax = a > amax ? a : amax;
  }
  return {hi, lo, amax, special != 0};
}

__attribute__((target("avx512f"))) RowRange row_range_avx512(const float* x, std::size_t C) {
  const __m512i exp_mask = _mm512_set1_epi32(0x7F800000);
  __m512 hi = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 lo = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  __m512 amax = _mm512_setzero_ps();
  __mmask16 special = 0;
  for (std::size_t c = 0; c < C; c += 16) {
    const auto lanes = static_cast<__mmask16>(C - c >= 16 ? 0xFFFFu : (1u << (C - c)) - 1u);
    const __m512 v = _mm512_maskz_loadu_ps(lanes, x + c);
    hi = _mm512_mask_max_ps(hi, lanes, v, hi);  // v > hi ? v : hi, lane by lane
    lo = _mm512_mask_min_ps(lo, lanes, v, lo);
    const __m512 a = _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7FFFFFFF)));
    amax = _mm512_mask_max_ps(amax, 0xFFFF, a, amax);
    const __m512i e = _mm512_and_si512(_mm512_castps_si512(v), exp_mask);
    special |= _mm512_mask_cmpeq_epi32_mask(lanes, e, exp_mask);
  }
  alignas(64) float h[16], l[16], a[16];
  _mm512_store_ps(h, hi);
  _mm512_store_ps(l, lo);
  _mm512_store_ps(a, amax);
  RowRange r{h[0], l[0], a[0], special != 0};
  for (int i = 1; i < 16; ++i) {
    r.max = h[i] > r.max ? h[i] : r.max;
    r.min = l[i] < r.min ? l[i] : r.min;
    r.absmax = a[i] > r.absmax ? a[i] : r.absmax;
  }
  // Equal zeros of either sign: the sequential pass keeps the first.
  for (float* z : {&r.max, &r.min}) {
    if (*z != 0.0f || r.special) continue;
    std::size_t c = 0;
    while (x[c] != 0.0f) ++c;
    *z = x[c];
  }
  return r;
}

bool has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
}

}  // namespace

const char* value_kernel_name(ValueKernel k) {
  switch (k) {
    case ValueKernel::kPerValue:
      return "per-value";
    case ValueKernel::kBinned:
      return "binned";
    case ValueKernel::kAvx512:
      return "avx512";
  }
  return "?";
}

std::vector<ValueKernel> value_kernels() {
  std::vector<ValueKernel> v;
  if (has_avx512()) v.push_back(ValueKernel::kAvx512);
  v.push_back(ValueKernel::kBinned);
  v.push_back(ValueKernel::kPerValue);
  return v;
}

ValueKernel default_value_kernel() {
  static const ValueKernel chosen = [] {
    const std::vector<ValueKernel> all = value_kernels();
    const char* want = std::getenv("MAXACT_STATS_KERNEL");
    if (want == nullptr || *want == '\0') return all.front();
    std::string names;
    for (ValueKernel k : all) {
      if (std::string(value_kernel_name(k)) == want) return k;
      names += (names.empty() ? "" : ", ") + std::string(value_kernel_name(k));
    }
    throw Error(ErrorCode::kOption, "MAXACT_STATS_KERNEL=" + quote_untrusted(want, 32, false) +
                                        ": not a statistics kernel this CPU runs (" + names + ")");
  }();
  return chosen;
}

RowRange row_range(const float* x, std::size_t channels, ValueKernel kernel) {
  return kernel == ValueKernel::kAvx512 ? row_range_avx512(x, channels)
                                        : row_range_scalar(x, channels);
}

void add_finite_values(const float* const* rows, std::size_t n, std::size_t channels,
                       const ValueAccumulators& a, ValueKernel kernel) {
  if (n == 0 || channels == 0) return;
  switch (kernel) {
    case ValueKernel::kPerValue:
      return per_value(rows, n, channels, a);
    case ValueKernel::kBinned:
      return binned(rows, n, channels, a);
    case ValueKernel::kAvx512:
      return avx512(rows, n, channels, a);
  }
}

}  // namespace maxact::stats
