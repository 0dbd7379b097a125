// Tap statistics: exactness of the sums, agreement with naive scalar references, and bitwise
// identical results for any split of the data and any merge order.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <thread>

#include "maxact/exact_sum.h"
#include "maxact/stats_json.h"
#include "maxact/tap_stats.h"

namespace maxact {
namespace {

TEST(ExactSum, CancellationSubnormalsAndSquares) {
  ExactSum s;
  s.add(1e30f);
  s.add(1.0f);
  s.add(-1e30f);
  EXPECT_EQ(s.value(), 1.0);  // naive left-to-right double gives 0
  ExactSum t;
  const float tiny = std::numeric_limits<float>::denorm_min();
  for (int i = 0; i < 3; ++i) t.add(tiny);
  EXPECT_EQ(t.value(), 3.0 * static_cast<double>(tiny));
  ExactSum q;
  q.add_square(3.0f);
  q.add_square(-4.0f);
  q.add_square(std::numeric_limits<float>::max());
  q.add_square(-std::numeric_limits<float>::max());
  const double fmax = std::numeric_limits<float>::max();
  EXPECT_EQ(q.value(), 2 * fmax * fmax + 25.0);  // 25 is below the double's ulp there
  ExactSum a;
  a.add_abs(-2.5f);
  a.add_abs(2.5f);
  EXPECT_EQ(a.value(), 5.0);
  EXPECT_EQ(ExactSum().value(), 0.0);
}

TEST(ExactSum, IntegerValuedSumsAreExactAndOrderFree) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> d(-(1 << 23), 1 << 23);
  std::vector<float> v(20000);
  double exact = 0;  // exact in double: |total| < 2^53
  for (auto& x : v) {
    x = static_cast<float>(d(rng));
    exact += x;
  }
  ExactSum fwd, rev;
  for (float x : v) fwd.add(x);
  for (auto it = v.rbegin(); it != v.rend(); ++it) rev.add(*it);
  EXPECT_EQ(fwd.value(), exact);
  EXPECT_TRUE(fwd == rev);
}

TEST(ExactSum, CorrectlyRoundedAgainstLongDoubleOnFractions) {
  std::mt19937 rng(11);
  std::normal_distribution<float> d(0.0f, 3.0f);
  for (int trial = 0; trial < 20; ++trial) {
    ExactSum s;
    long double ref = 0;  // 64-bit mantissa: exact for these few hundred terms of similar scale
    for (int i = 0; i < 300; ++i) {
      const float x = d(rng);
      s.add(x);
      ref += x;
    }
    EXPECT_EQ(s.value(), static_cast<double>(ref)) << trial;
  }
}

// Random activations for `rows` tokens of `C` channels with a few planted features.
struct Data {
  int64_t C;
  std::vector<float> x;
  std::vector<Location> at;
};

Data make_data(int64_t rows, int64_t C, unsigned seed) {
  Data d{C, std::vector<float>(static_cast<std::size_t>(rows * C)),
         std::vector<Location>(static_cast<std::size_t>(rows))};
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  for (auto& v : d.x) v = n(rng);
  for (int64_t r = 0; r < rows; ++r) {
    d.at[static_cast<std::size_t>(r)] = {r / 16, static_cast<int32_t>(r % 16),
                                         static_cast<int32_t>(1000 + r), -1};
  }
  auto at = [&](int64_t r, int64_t c) -> float& {
    return d.x[static_cast<std::size_t>(r * C + c)];
  };
  at(5, 3) = 7000.0f;    // massive, over FP8
  at(9, 3) = -7000.0f;   // ties |max| with an earlier location winning absmax
  at(11, 1) = 70000.0f;  // over FP16
  at(20, 2) = std::nanf("");
  at(21, 0) = std::numeric_limits<float>::infinity();
  for (int64_t c = 0; c < 4; ++c) at(30, c) = 0.5f;  // the row's lower median is >= 0.5, so
  at(30, 4) = 150.0f;  // > 100 but not 1000x its row's median: not massive
  return d;
}

TapStats run(const Data& d, int64_t begin, int64_t end, std::size_t topk = 8) {
  TapStatsOptions o;
  o.topk = topk;
  TapStats s(d.C, o);
  s.add_rows(d.x.data() + begin * d.C, end - begin, d.at.data() + begin);
  return s;
}

TEST(TapStats, MatchesNaiveReference) {
  const Data d = make_data(64, 6, 1);
  const TapStats s = run(d, 0, 64);
  uint64_t count = 0, over16 = 0, over8 = 0;
  double sum = 0;
  std::vector<float> chan_absmax(6, 0.0f);
  std::vector<double> chan_sumsq(6, 0.0);
  std::vector<std::pair<float, int64_t>> all;
  for (int64_t i = 0; i < 64 * 6; ++i) {
    const float v = d.x[static_cast<std::size_t>(i)];
    if (!std::isfinite(v)) continue;
    ++count;
    sum += v;
    chan_absmax[static_cast<std::size_t>(i % 6)] =
        std::max(chan_absmax[static_cast<std::size_t>(i % 6)], std::fabs(v));
    chan_sumsq[static_cast<std::size_t>(i % 6)] += static_cast<double>(v) * v;
    over16 += std::fabs(v) > 65504.0f;
    over8 += std::fabs(v) > 448.0f;
    all.push_back({v, i});
  }
  EXPECT_EQ(s.count(), count);
  EXPECT_NEAR(s.mean(), sum / static_cast<double>(count), 1e-12 * std::fabs(sum));
  EXPECT_EQ(s.max().value, 70000.0f);
  EXPECT_EQ(s.max().loc.sample, 0);
  EXPECT_EQ(s.max().loc.position, 11);
  EXPECT_EQ(s.max().loc.channel, 1);
  EXPECT_EQ(s.max().loc.token, 1011);
  EXPECT_EQ(s.min().value, -7000.0f);
  EXPECT_EQ(s.min().loc.position, 9);
  EXPECT_EQ(s.over_fp16(), over16);
  EXPECT_EQ(s.over_fp8(), over8);
  EXPECT_EQ(s.nan_count(), 1u);
  EXPECT_EQ(s.inf_count(), 1u);
  EXPECT_EQ(s.channel_absmax(), chan_absmax);
  const auto cs = s.channel_sumsq();
  for (std::size_t c = 0; c < 6; ++c)
    EXPECT_NEAR(cs[c], chan_sumsq[c], 64 * std::ldexp(1.0, -48) + 1e-12 * chan_sumsq[c]);
  // Top-K equals the K largest |x| of a full sort, ties broken by location.
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return std::fabs(a.first) != std::fabs(b.first) ? std::fabs(a.first) > std::fabs(b.first)
                                                    : a.second < b.second;
  });
  const auto top = s.top();
  ASSERT_EQ(top.size(), 8u);
  for (std::size_t i = 0; i < top.size(); ++i) {
    EXPECT_EQ(top[i].value, all[i].first) << i;
    EXPECT_EQ(top[i].loc.position + 16 * top[i].loc.sample, all[i].second / 6) << i;
  }
  // |7000| at (0,5) and |-7000| at (0,9): same magnitude, the earlier location ranks first.
  EXPECT_EQ(top[1].value, 7000.0f);
  EXPECT_EQ(top[2].value, -7000.0f);
  // Massive: 7000 and -7000 and 70000 rows (median ~0.7); the 150 is not 1000x its median.
  EXPECT_EQ(s.massive_values(), 3u);
  EXPECT_EQ(s.massive_tokens(), 3u);
  const auto j = stats_json(s);
  EXPECT_EQ(j["nan"]["first"]["position"], 4);  // row 20 = sample 1, position 4
  EXPECT_EQ(j["nan"]["first"]["sample"], 1);
  EXPECT_EQ(j["inf"]["first"]["channel"], 0);
}

TEST(TapStats, BitwiseIdenticalForAnySplitAndMergeOrder) {
  const Data d = make_data(400, 12, 3);
  const TapStats whole = run(d, 0, 400, 20);
  // Uneven windows merged left to right, right to left, and as a balanced tree.
  const std::vector<int64_t> cuts = {0, 1, 17, 64, 65, 200, 333, 400};
  std::vector<TapStats> parts;
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i)
    parts.push_back(run(d, cuts[i], cuts[i + 1], 20));
  TapStats left(12, {20}), right(12, {20});
  for (const auto& p : parts) left.merge(p);
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) right.merge(*it);
  std::vector<TapStats> level = parts;
  while (level.size() > 1) {
    std::vector<TapStats> next;
    for (std::size_t i = 0; i < level.size(); i += 2) {
      TapStats t = level[i];
      if (i + 1 < level.size()) t.merge(level[i + 1]);
      next.push_back(t);
    }
    level = next;
  }
  EXPECT_TRUE(left == whole);
  EXPECT_TRUE(right == whole);
  EXPECT_TRUE(level[0] == whole);
  EXPECT_EQ(stats_json(left).dump(), stats_json(whole).dump());
  // Threads filling their own partials, merged in completion order.
  std::vector<TapStats> by_thread(3, TapStats(12, {20}));
  std::vector<std::thread> pool;
  for (int t = 0; t < 3; ++t) {
    pool.emplace_back([&, t] {
      for (int64_t r = t; r < 400; r += 3)
        by_thread[static_cast<std::size_t>(t)].add_rows(d.x.data() + r * 12, 1, d.at.data() + r);
    });
  }
  for (auto& th : pool) th.join();
  TapStats threaded(12, {20});
  for (int t = 2; t >= 0; --t) threaded.merge(by_thread[static_cast<std::size_t>(t)]);
  EXPECT_TRUE(threaded == whole);
}

TEST(LogHistogram, QuantileBracketsTheTrueValue) {
  std::mt19937 rng(5);
  std::lognormal_distribution<float> d(0.0f, 3.0f);
  std::vector<float> v(50000);
  LogHistogram h;
  for (auto& x : v) {
    x = d(rng);
    h.add(x);
  }
  std::sort(v.begin(), v.end());
  for (double q : {0.01, 0.5, 0.9, 0.999, 1.0}) {
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
    const double truth = v[rank - 1];
    const auto b = h.quantile(q);
    EXPECT_LE(b.lower, truth) << q;
    EXPECT_GT(b.upper, truth) << q;
    EXPECT_LE(b.upper / b.lower, 1.0 + 1.0 / 16 + 1e-12) << q;
  }
  LogHistogram z;
  z.add(0.0f);
  z.add(0.0f);
  z.add(1.0f);
  EXPECT_EQ(z.quantile(0.5).upper, 0.0);
  EXPECT_EQ(z.quantile(1.0).lower, 1.0);
}

}  // namespace
}  // namespace maxact

namespace maxact {
namespace {

// Σx² per channel in 128-bit fixed point: a total beyond its range is reported as unknown (NaN,
// JSON null), the same whichever way the rows were split, never as a wrapped negative number.
TEST(TapStatsOverflow, ChannelSumOfSquaresOverflowIsSticky) {
  const float big = 6e11f;  // big² · 2^48 ≈ 1.0e38: one fits, two exceed 2^127
  const float row[2] = {big, 1.0f};
  const Location at[1] = {{0, 0, 1, -1}};
  TapStats one(2), two(2), merged(2), part(2);
  one.add_rows(row, 1, at);
  two.add_rows(row, 1, at);
  two.add_rows(row, 1, at);
  merged.add_rows(row, 1, at);
  part.add_rows(row, 1, at);
  merged.merge(part);
  EXPECT_FALSE(std::isnan(one.channel_sumsq()[0]));
  EXPECT_TRUE(std::isnan(two.channel_sumsq()[0]));
  EXPECT_TRUE(std::isnan(merged.channel_sumsq()[0]));
  EXPECT_TRUE(two == merged);
  EXPECT_DOUBLE_EQ(two.channel_sumsq()[1], 2.0);
  EXPECT_TRUE(stats_json(two)["channel_sum_sq"][0].is_null());
}

}  // namespace
}  // namespace maxact
