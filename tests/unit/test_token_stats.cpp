// Sun et al.'s per-token statistics and the study's quantile reading: the exact lower median
// whatever the guess, each token's max / median / ratio against a naive per-row computation,
// and the interpolated quantile inside the histogram's bracket of the exact one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "maxact/dtype.h"
#include "maxact/stats_json.h"
#include "maxact/tap_stats.h"
#include "stats/finite_values.h"

namespace maxact {
namespace {

float sorted_lower_median(std::vector<float> v) {
  for (float& x : v) x = std::fabs(x);
  std::sort(v.begin(), v.end());
  return v[(v.size() - 1) / 2];
}

TEST(LowerMedian, ExactForAnyGuessSizeAndTies) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const float guesses[] = {
      0.0f,          1e-30f, 0.6745f, 0.7f, 7.0f, 1e30f, std::numeric_limits<float>::infinity(),
      std::nanf(""), -1.0f};
  for (std::size_t n : {1u, 2u, 3u, 4u, 7u, 64u, 1000u, 1024u, 3072u}) {
    for (int kind = 0; kind < 4; ++kind) {
      std::vector<float> v(n);
      for (float& x : v) {
        x = normal(rng);
        if (kind == 1) x = round_to_bf16(x);   // many ties
        if (kind == 2 && rng() % 2) x = 0.0f;  // zeros, -0 and +0
        if (kind == 2 && rng() % 4 == 0) x = -0.0f;
        if (kind == 3) x = 3.0f;  // all equal
      }
      if (n > 8) v[n / 3] = 5000.0f;  // a massive value does not move the median far
      const float want = sorted_lower_median(v);
      for (float g : guesses) {
        const float got = lower_median_abs(v.data(), v.size(), g);
        EXPECT_EQ(got, want) << "n=" << n << " kind=" << kind << " guess=" << g;
        for (stats::ValueKernel k : stats::value_kernels()) {
          const float by = stats::lower_median_abs(v.data(), v.size(), g, k);
          EXPECT_EQ(std::memcmp(&by, &want, 4), 0)
              << stats::value_kernel_name(k) << " n=" << n << " kind=" << kind << " guess=" << g;
        }
      }
    }
  }
}

struct Rows {
  int64_t C;
  std::vector<float> x;
  std::vector<Location> at;
};

Rows make_rows(int64_t rows, int64_t C, unsigned seed) {
  Rows d{C, std::vector<float>(static_cast<std::size_t>(rows * C)),
         std::vector<Location>(static_cast<std::size_t>(rows))};
  std::mt19937 rng(seed);
  std::lognormal_distribution<float> ln(0.0f, 1.0f);
  for (auto& v : d.x) v = (rng() % 2 ? 1.0f : -1.0f) * ln(rng);
  for (int64_t r = 0; r < rows; ++r)
    d.at[static_cast<std::size_t>(r)] = {r / 10, static_cast<int32_t>(r % 10),
                                         static_cast<int32_t>(7 + r), -1};
  auto row = [&](int64_t r) { return d.x.data() + r * C; };
  row(3)[5] = 4000.0f;                           // massive: > 100 and > 1000 x its median (~1)
  row(4)[2] = -4000.0f;                          // ties |4000| at a later location
  row(6)[1] = 150.0f;                            // > 100 but only ~150 x its median
  std::fill(row(8), row(8) + C, std::nanf(""));  // no finite value: no ratio
  row(9)[0] = std::numeric_limits<float>::infinity();
  for (int64_t c = 0; c < C; ++c) row(12)[c] = c == 3 ? 2.0f : 0.0f;  // median 0: huge ratio
  return d;
}

TEST(TokenRatio, MatchesNaivePerRowComputation) {
  const int64_t R = 60, C = 33;
  const Rows d = make_rows(R, C, 2);
  TapStats s(C);
  s.add_rows(d.x.data(), R, d.at.data());
  uint64_t tokens = 0, pass = 0, infinite = 0;
  long double sum = 0, sumsq = 0;
  float best_abs = -1, best_ratio = -1;
  int64_t best_abs_row = -1, best_ratio_row = -1;
  for (int64_t r = 0; r < R; ++r) {
    std::vector<float> fin;
    for (int64_t c = 0; c < C; ++c) {
      const float v = d.x[static_cast<std::size_t>(r * C + c)];
      if (std::isfinite(v)) fin.push_back(std::fabs(v));
    }
    if (fin.empty()) continue;
    ++tokens;
    const float amax = *std::max_element(fin.begin(), fin.end());
    const float med = sorted_lower_median(fin);
    const float ratio = amax / std::max(med, std::numeric_limits<float>::min());
    if (std::isinf(ratio)) {
      ++infinite;
    } else {
      sum += ratio;
      sumsq += static_cast<long double>(ratio) * ratio;
    }
    pass += amax > 100.0f && ratio > 1000.0f;
    if (amax > best_abs) best_abs = amax, best_abs_row = r;  // strict: the earliest on ties
    if (ratio > best_ratio) best_ratio = ratio, best_ratio_row = r;
  }
  EXPECT_EQ(s.ratio_tokens(), tokens);
  EXPECT_EQ(s.tokens(), static_cast<uint64_t>(R));
  EXPECT_EQ(s.massive_tokens(), pass);
  EXPECT_EQ(pass, 2u);  // rows 3 and 4; the 150 of row 6 is only ~150 x its median
  EXPECT_EQ(s.infinite_ratios(), infinite);
  EXPECT_EQ(infinite, 0u);  // 2 / FLT_MIN is finite in float
  EXPECT_EQ(s.peak_token().loc.position, d.at[static_cast<std::size_t>(best_abs_row)].position);
  EXPECT_EQ(s.peak_token().absmax, 4000.0f);
  EXPECT_EQ(s.peak_token().loc.channel, 5);
  EXPECT_EQ(s.max_ratio_token().loc.position,
            d.at[static_cast<std::size_t>(best_ratio_row)].position);
  EXPECT_EQ(best_ratio_row, 12);
  EXPECT_EQ(s.max_ratio_token().median, 0.0f);
  const double mean = static_cast<double>(sum / tokens);
  const double var = static_cast<double>(sumsq / tokens) - mean * mean;
  EXPECT_NEAR(s.ratio_mean(), mean, 1e-12 * mean);
  EXPECT_NEAR(s.ratio_std(), std::sqrt(std::max(0.0, var)), 1e-9 * mean);
  const auto j = stats_json(s)["per_token"];
  EXPECT_EQ(j["tokens"], tokens);
  EXPECT_EQ(j["peak"]["position"], 3);
  EXPECT_EQ(j["max_ratio"]["sample"], 1);
}

TEST(TokenRatio, InfiniteRatioMakesMeanInfiniteAndMergesExactly) {
  const int64_t C = 8;
  std::vector<float> x(3 * C, 0.0f);
  x[0] = 1.0f;        // row 0: median 0, ratio 1 / FLT_MIN: finite
  x[C + 1] = 300.0f;  // row 1: median 0, ratio overflows float: infinite, and massive
  for (int64_t c = 0; c < C; ++c) x[2 * C + c] = 1.0f + c;  // row 2: ordinary
  std::vector<Location> at = {{0, 0, 1, -1}, {0, 1, 2, -1}, {0, 2, 3, -1}};
  TapStats whole(C), a(C), b(C);
  whole.add_rows(x.data(), 3, at.data());
  a.add_rows(x.data(), 2, at.data());
  b.add_rows(x.data() + 2 * C, 1, at.data() + 2);
  b.merge(a);
  EXPECT_TRUE(whole == b);
  EXPECT_EQ(whole.infinite_ratios(), 1u);
  EXPECT_EQ(whole.ratio_mean(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(whole.massive_tokens(), 1u);
  EXPECT_EQ(whole.massive_values(), 1u);
  EXPECT_EQ(whole.max_ratio_token().loc.position, 1);
}

TEST(LogHistogram, StudyQuantileLiesInTheBracketOfTheExactOne) {
  std::mt19937 rng(9);
  std::lognormal_distribution<float> d(-1.0f, 2.5f);
  std::vector<float> v(20001);
  LogHistogram h;
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] = i % 50 == 0 ? 0.0f : d(rng);
    h.add(v[i]);
  }
  std::sort(v.begin(), v.end());
  for (double q : {0.01, 0.02, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999}) {
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
    const double exact = v[rank - 1];
    const auto b = h.quantile(q);
    const double est = h.quantile_estimate(q);
    EXPECT_LE(b.lower, est) << q;
    EXPECT_GE(b.upper, est) << q;
    EXPECT_LE(b.lower, exact) << q;
    EXPECT_GE(b.upper, exact) << q;
    // Within the bin's width of the exact value: at most 1/16 of an octave.
    EXPECT_LE(std::fabs(est - exact), exact / 16 + 1e-300) << q;
  }
  // Up to the share of exact zeros (2 %) the quantile is 0, as the study reads its zero bucket.
  EXPECT_EQ(h.quantile_estimate(0.01), 0.0);
  LogHistogram empty;
  EXPECT_TRUE(std::isnan(empty.quantile_estimate(0.5)));
}

}  // namespace
}  // namespace maxact
