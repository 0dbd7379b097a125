// The quantization check: the exact calibration quantile and the MSE grid against brute force,
// every policy's errors against a per-value computation, the study's planted-outlier observation,
// the calibration / evaluation split, and thread and window invariance of the whole check. The row
// kernels it is built from: test_quant_kernels.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "maxact/corpus.h"
#include "maxact/model.h"
#include "maxact/quant_check.h"
#include "maxact/quant_report.h"
#include "quant/rounding.h"
#include "quant/row_kernels.h"
#include "test_util.h"

namespace maxact {
namespace {

// Rows of heavy-tailed values with zeros, a NaN and an Inf; row r has `channels` values.
std::vector<float> heavy_rows(int rows, int channels, unsigned seed) {
  std::mt19937 rng(seed);
  std::student_t_distribution<float> t(2.0f);
  std::vector<float> v(static_cast<std::size_t>(rows * channels));
  for (auto& x : v) x = t(rng);
  for (std::size_t i = 0; i < v.size(); i += 37) v[i] = 0.0f;
  v[5] = std::nanf("");
  v[11] = std::numeric_limits<float>::infinity();
  return v;
}

TapStats first_pass(const std::vector<float>& v, int rows, int channels) {
  TapStats s(channels);
  std::vector<Location> locs(static_cast<std::size_t>(rows));
  for (int r = 0; r < rows; ++r) locs[static_cast<std::size_t>(r)] = {0, r, 0, -1};
  s.add_rows(v.data(), rows, locs.data());
  return s;
}

std::vector<float> finite_abs_sorted(const std::vector<float>& v) {
  std::vector<float> a;
  for (float x : v)
    if (std::isfinite(x)) a.push_back(std::fabs(x));
  std::sort(a.begin(), a.end());
  return a;
}

TEST(ThresholdFinder, QuantileIsExactAndMergeOrderFree) {
  const int R = 300, C = 64;
  const auto v = heavy_rows(R, C, 1);
  const TapStats st = first_pass(v, R, C);
  const auto sorted = finite_abs_sorted(v);
  for (double q : {0.001, 0.02, 0.5, 0.9, 0.999, 1.0}) {
    ThresholdFinder whole(st, q, false);
    whole.add_rows(v.data(), R, C, C);
    // The same rows in three parts merged back to front.
    ThresholdFinder parts = whole.empty_like(), a = parts, b = parts, c = parts;
    a.add_rows(v.data(), 100, C, C);
    b.add_rows(v.data() + 100 * C, 150, C, C);
    c.add_rows(v.data() + 250 * C, 50, C, C);
    parts.merge(c);
    parts.merge(a);
    parts.merge(b);
    // Counting per bit pattern (what long runs switch to) gives the same value.
    ThresholdFinder dense(st, q, false, 10), d1 = dense, d2 = dense;
    d1.add_rows(v.data(), 120, C, C);
    d2.add_rows(v.data() + 120 * C, R - 120, C, C);
    dense.merge(d2);
    dense.merge(d1);
    TapCalibration x, y, z;
    whole.finish(x);
    parts.finish(y);
    dense.finish(z);
    EXPECT_EQ(z.quantile, x.quantile) << q;
    const auto rank =
        static_cast<std::size_t>(std::max(1.0, std::ceil(q * static_cast<double>(sorted.size()))));
    EXPECT_EQ(x.quantile, sorted[rank - 1]) << q;
    EXPECT_EQ(y.quantile, x.quantile) << q;
  }
  // Rank among the zeros: the quantile is 0.
  ThresholdFinder low(st, 0.01, false);
  low.add_rows(v.data(), R, C, C);
  TapCalibration z;
  low.finish(z);
  EXPECT_EQ(z.quantile, 0.0f);
}

TEST(ThresholdFinder, MseGridMatchesBruteForce) {
  const int R = 1000, C = 64;
  // Gaussian rows and one outlier: clipping it by a grid step costs less than the rounding error
  // the finer scale saves on 64000 values, so the best threshold lies inside the grid.
  std::mt19937 rng(2);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(R * C));
  for (auto& x : v) x = g(rng);
  v[77] = 100.0f;
  v[78] = std::nanf("");
  const TapStats st = first_pass(v, R, C);
  ThresholdFinder f(st, 0.999, true);
  f.add_rows(v.data(), R, C, C);
  TapCalibration cal;
  f.finish(cal);
  const float M = std::fabs(st.absmax().value);
  long double best = -1;
  int best_k = -1;
  uint64_t n = 0;
  for (int k = 0; k < kMseGrid; ++k) {
    const float s = mse_grid_threshold(M, k) / 127.0f;
    long double sse = 0;
    n = 0;
    for (float x : v) {
      if (!std::isfinite(x)) continue;
      ++n;
      const long double e = x - quantize_int8(x, s);
      sse += e * e;
    }
    if (best_k < 0 || sse < best) {
      best = sse;
      best_k = k;
    }
  }
  EXPECT_GT(best_k, 0);
  EXPECT_EQ(cal.mse_threshold, mse_grid_threshold(M, best_k));
  EXPECT_NEAR(cal.mse, static_cast<double>(best / n), 1e-12 * static_cast<double>(best / n));
  EXPECT_EQ(mse_grid_threshold(M, 0), M);
  EXPECT_EQ(mse_grid_threshold(M, kMseGridPerOctave), M / 2);
}

struct Expected {
  long double sse = 0, sae = 0, ssx = 0, sax = 0;
  uint64_t n = 0, clipped = 0, exceeded = 0, overflow = 0;
  void add(float x, float xq, bool clip, bool exceed) {
    clipped += clip;
    exceeded += exceed;
    if (!std::isfinite(xq)) {  // overflow: out of the count and every sum
      ++overflow;
      return;
    }
    ++n;
    ssx += static_cast<long double>(x) * x;
    sax += std::fabs(static_cast<long double>(x));
    const float ef = x - xq;  // the fp32 difference, as the quantizer's error tensor
    sse += static_cast<long double>(ef) * ef;
    sae += std::fabs(static_cast<long double>(ef));
  }
};

void expect_matches(const ErrorStats& got, const Expected& want, const std::string& what) {
  EXPECT_EQ(got.count(), want.n) << what;
  EXPECT_EQ(got.clipped(), want.clipped) << what;
  EXPECT_EQ(got.exceeded(), want.exceeded) << what;
  EXPECT_EQ(got.nonfinite(), want.overflow) << what;
  auto rel = [](double a, long double b) {
    return b == 0 ? std::fabs(a) : std::fabs(static_cast<long double>(a) - b) / std::fabs(b);
  };
  EXPECT_LT(rel(got.mae() * static_cast<double>(want.n), want.sae), 1e-12) << what;
  EXPECT_LT(rel(got.sum_sq_e(), want.sse), 1e-12) << what;
  EXPECT_LT(rel(got.sum_sq_x(), want.ssx), 1e-12) << what;
  EXPECT_LT(rel(got.relative_mae(), want.sae / want.sax), 1e-12) << what;
}

TEST(TapQuantizer, EveryPolicyMatchesPerValueComputation) {
  const int R = 120, C = 40;
  auto v = heavy_rows(R, C, 3);
  v[3 * C + 7] = 2000.0f;    // token 3 meets the massive-activation criterion
  v[9 * C + 1] = -90000.0f;  // token 9 too, and overflows FP16
  TapCalibration cal;
  cal.count = 1;
  cal.max_abs = 1500.0f;  // evaluation values beyond calibration: exceedances and clipping
  cal.quantile = 4.0f;
  cal.mse_threshold = 30.0f;
  cal.channel_absmax.assign(C, 8.0f);
  cal.channel_absmax[2] = 0.0f;  // a channel calibration saw only zeros
  std::vector<QuantPolicy> all;
  for (int p = 0; p < kQuantPolicies; ++p) all.push_back(QuantPolicy(p));
  TapQuantizer tq(cal, all, TapStatsOptions{});
  tq.add_rows(v.data(), R, C, C);
  EXPECT_EQ(tq.tokens(), static_cast<uint64_t>(R));
  EXPECT_EQ(tq.outlier_tokens(), 2u);

  for (const PolicyErrors& pe : tq.policies()) {
    Expected all_rows, clean_rows;
    for (int r = 0; r < R; ++r) {
      const float* x = v.data() + r * C;
      float amax = 0;
      for (int c = 0; c < C; ++c)
        if (std::isfinite(x[c])) amax = std::max(amax, std::fabs(x[c]));
      const bool outlier = r == 3 || r == 9;
      for (int c = 0; c < C; ++c) {
        const float xv = x[c];
        if (!std::isfinite(xv)) continue;
        float xq = 0;
        bool clip = false, exceed = false;
        auto int8 = [&](float s, float t) {
          const float q = s == 0 ? 0.0f : std::nearbyint(xv / s);
          clip = s == 0 ? xv != 0 : std::fabs(q) > 127;
          exceed = s == 0 ? xv != 0 : std::fabs(xv) > t;
          xq = quantize_int8(xv, s);
        };
        auto fp8 = [&](float s, float t, float (*rnd)(float), bool (*clips)(float)) {
          clip = clips(xv / s);
          exceed = std::fabs(xv) > t;
          xq = rnd(xv / s) * s;
        };
        switch (pe.policy) {
          case QuantPolicy::kInt8MaxAbs:
            int8(1500.0f / 127.0f, 1500.0f);
            break;
          case QuantPolicy::kInt8ClipQuantile:
            int8(4.0f / 127.0f, 4.0f);
            break;
          case QuantPolicy::kInt8Mse:
            int8(30.0f / 127.0f, 30.0f);
            break;
          case QuantPolicy::kInt8PerToken:
            int8(amax / 127.0f, amax);
            break;
          case QuantPolicy::kInt8PerChannel:
            int8(cal.channel_absmax[static_cast<std::size_t>(c)] / 127.0f,
                 cal.channel_absmax[static_cast<std::size_t>(c)]);
            break;
          case QuantPolicy::kE4m3MaxAbs:
            fp8(1500.0f / 448.0f, 1500.0f, &round_to_e4m3, &e4m3_clips);
            break;
          case QuantPolicy::kE4m3PerToken:
            fp8(amax / 448.0f, amax, &round_to_e4m3, &e4m3_clips);
            break;
          case QuantPolicy::kE5m2MaxAbs:
            fp8(1500.0f / 57344.0f, 1500.0f, &round_to_e5m2, &e5m2_clips);
            break;
          case QuantPolicy::kFp16:
            xq = round_to_f16(xv);
            break;
          case QuantPolicy::kBf16:
            xq = round_to_bf16(xv);
            break;
          case QuantPolicy::kCount:
            break;
        }
        all_rows.add(xv, xq, clip, exceed);
        if (!outlier) clean_rows.add(xv, xq, clip, exceed);
      }
    }
    const std::string name(policy_name(pe.policy));
    expect_matches(pe.all, all_rows, name);
    expect_matches(pe.clean, clean_rows, name + " clean");
  }
  // Hand checks of what the data must show.
  const auto& p = tq.policies();
  EXPECT_EQ(p[static_cast<int>(QuantPolicy::kFp16)].all.nonfinite(), 1u);  // -90000
  EXPECT_EQ(p[static_cast<int>(QuantPolicy::kInt8MaxAbs)].all.exceeded(), 2u);
  EXPECT_GT(p[static_cast<int>(QuantPolicy::kInt8PerChannel)].all.exceeded(), 0u);
  EXPECT_TRUE(std::isnan(p[static_cast<int>(QuantPolicy::kInt8PerToken)].threshold));

  // Any split of the rows merges to the same bits.
  TapQuantizer a = tq.empty_like(), b = tq.empty_like(), ab = tq.empty_like();
  a.add_rows(v.data(), 50, C, C);
  b.add_rows(v.data() + 50 * C, R - 50, C, C);
  ab.merge(b);
  ab.merge(a);
  ASSERT_EQ(ab.policies().size(), tq.policies().size());
  for (std::size_t i = 0; i < tq.policies().size(); ++i) {
    EXPECT_TRUE(ab.policies()[i] == tq.policies()[i]) << policy_name(tq.policies()[i].policy);
  }
}

// The study's observation ("Measuring Maximum Activations in Open Large Language Models"):
// with a few massive tokens, clipping at the 99.9 % quantile serves the ordinary tokens far
// better than the max-|x| scale, and loses overall, because the clipped outliers carry most of
// the energy.
TEST(TapQuantizer, PlantedOutlierClipBeatsMaxOnCleanTokensAndLosesOverall) {
  const int R = 400, C = 64;
  std::mt19937 rng(9);
  std::normal_distribution<float> g(0.0f, 1.0f);
  auto make = [&] {
    std::vector<float> v(static_cast<std::size_t>(R * C));
    for (auto& x : v) x = g(rng);
    for (int r = 0; r < R; r += 100) v[static_cast<std::size_t>(r * C + 5)] = 3000.0f;
    return v;
  };
  const auto calib = make(), eval = make();
  const TapStats st = first_pass(calib, R, C);
  ThresholdFinder f(st, 0.999, true);
  f.add_rows(calib.data(), R, C, C);
  TapCalibration cal;
  cal.count = st.count();
  cal.max_abs = std::fabs(st.absmax().value);
  cal.channel_absmax = st.channel_absmax();
  f.finish(cal);
  EXPECT_EQ(cal.max_abs, 3000.0f);
  EXPECT_LT(cal.quantile, 5.0f);
  TapQuantizer tq(cal, {QuantPolicy::kInt8MaxAbs, QuantPolicy::kInt8ClipQuantile},
                  TapStatsOptions{});
  tq.add_rows(eval.data(), R, C, C);
  EXPECT_EQ(tq.outlier_tokens(), 4u);
  const PolicyErrors& mx = tq.policies()[0];
  const PolicyErrors& cq = tq.policies()[1];
  EXPECT_GT(cq.clean.sqnr_db(), mx.clean.sqnr_db() + 20.0);
  EXPECT_LT(cq.all.sqnr_db(), mx.all.sqnr_db() - 20.0);
  EXPECT_LT(cq.all.sqnr_db(), 1.0);  // the outliers' energy is lost: ~0 dB, as the study saw
}

TEST(SplitSamples, DisjointDeterministicProportional) {
  Corpus c;
  c.origin = "test";
  for (int i = 0; i < 90; ++i) {
    Sample s;
    s.text = std::to_string(i);
    s.category = std::string(1, i < 60 ? 'a' : 'b');  // (GCC 12 -Wrestrict misfires on "a")
    c.samples.push_back(s);
  }
  const SampleSplit x = split_samples(c, 30, 15, 4, true), y = split_samples(c, 30, 15, 4, true);
  EXPECT_EQ(x.calibration, y.calibration);
  EXPECT_EQ(x.evaluation, y.evaluation);
  ASSERT_EQ(x.calibration.size(), 30u);
  ASSERT_EQ(x.evaluation.size(), 15u);
  std::vector<std::size_t> both = x.calibration;
  both.insert(both.end(), x.evaluation.begin(), x.evaluation.end());
  std::sort(both.begin(), both.end());
  EXPECT_EQ(std::adjacent_find(both.begin(), both.end()), both.end());
  const auto in_a = std::count_if(x.calibration.begin(), x.calibration.end(),
                                  [](std::size_t i) { return i < 60; });
  EXPECT_EQ(in_a, 20);  // two thirds, as in the corpus
  test::expect_error([&] { split_samples(c, 80, 20, 0, true); }, ErrorCode::kCorpus,
                     {"test", "100 disjoint samples", "has 90"});
  test::expect_error([&] { split_samples(c, 0, 20, 0, true); }, ErrorCode::kCorpus, {"test"});
}

void expect_same(const QuantResult& a, const QuantResult& b) {
  ASSERT_EQ(a.taps.size(), b.taps.size());
  for (std::size_t i = 0; i < a.taps.size(); ++i) {
    const auto& x = a.taps[i];
    const auto& y = b.taps[i];
    EXPECT_EQ(x.tap.name, y.tap.name);
    EXPECT_EQ(x.calibration.count, y.calibration.count) << x.tap.name;
    EXPECT_EQ(x.calibration.max_abs, y.calibration.max_abs) << x.tap.name;
    EXPECT_EQ(x.tokens, y.tokens) << x.tap.name;
    EXPECT_EQ(x.calibration.quantile, y.calibration.quantile) << x.tap.name;
    EXPECT_EQ(x.calibration.mse_threshold, y.calibration.mse_threshold) << x.tap.name;
    EXPECT_EQ(x.calibration.mse, y.calibration.mse) << x.tap.name;
    EXPECT_EQ(x.outlier_tokens, y.outlier_tokens);
    EXPECT_TRUE(x.policies == y.policies) << x.tap.name;
  }
}

TEST(QuantCheck, IdenticalForAnyThreadsAndWindows) {
  const Model m = Model::open_dir(test::fixture("llama"));
  const auto cal = test::random_sequences(6, 40, 256, 21);
  const auto ev = test::random_sequences(8, 40, 256, 22);
  QuantResult ref;
  ScanOptions o;
  o.threads = 1;
  o.window_tokens = 1 << 20;
  quant_check(m, cal, ev, o, QuantOptions{}, ref);
  ASSERT_FALSE(ref.taps.empty());
  // Default selection: linear inputs and decoder-layer outputs only.
  for (const auto& t : ref.taps) {
    EXPECT_TRUE(t.tap.linear_input || t.tap.component == Component::kHidden) << t.tap.name;
  }
  for (auto [threads, window] : {std::pair{2, 7}, std::pair{3, 60}}) {
    ScanOptions p = o;
    p.threads = threads;
    p.window_tokens = window;
    p.chunk_rows = 13;
    p.part_values = 300;  // blocks split over the threads: observe() runs concurrently
    QuantResult r;
    quant_check(m, cal, ev, p, QuantOptions{}, r);
    expect_same(ref, r);
  }
  // Peak only: one hidden-state tap, the one with the largest calibration max |x|.
  QuantOptions peak;
  peak.taps = {"layer_*_hidden", "final_layernorm"};
  peak.peak_only = true;
  QuantResult pr;
  quant_check(m, cal, ev, o, peak, pr);
  ASSERT_EQ(pr.taps.size(), 1u);
  float best = 0;
  for (const auto& t : ref.taps) {
    if (t.tap.component == Component::kHidden) best = std::max(best, t.calibration.max_abs);
  }
  EXPECT_GE(pr.taps[0].calibration.max_abs, best);
  test::expect_error(
      [&] {
        QuantOptions q;
        q.taps = {"nothing*"};
        QuantResult r;
        quant_check(m, cal, ev, o, q, r);
      },
      ErrorCode::kOption, {"--quant-taps"});
}

}  // namespace
}  // namespace maxact
