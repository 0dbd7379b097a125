// maxact compare: the correlations across reports and the table it prints.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "maxact/quant_report.h"
#include "test_util.h"

namespace maxact {
namespace {

TEST(Compare, CorrelationsAndTable) {
  EXPECT_NEAR(pearson({1, 2, 3}, {2, 4, 6}), 1.0, 1e-15);
  EXPECT_NEAR(pearson({1, 2, 3}, {3, 2, 1}), -1.0, 1e-15);
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {1, 4, 9, 100}), 1.0, 1e-15);
  EXPECT_NEAR(spearman({1, 2, 2, 3}, {1, 2, 3, 4}), pearson({1, 2.5, 2.5, 4}, {1, 2, 3, 4}), 1e-15);
  EXPECT_TRUE(std::isnan(pearson({1}, {2})));
  auto report = [](double m, double sqnr) {
    nlohmann::json t = {{"stats", {{"over_fp16", m > 65504 ? 1 : 0}, {"over_fp8_e4m3", 1}}}};
    std::string name = "m";
    name += std::to_string(static_cast<int>(m));
    return nlohmann::json{
        {"schema", "maxact.scan"},
        {"model", {{"argument", name}, {"model_type", "x"}}},
        {"options", {{"precision", "fp32"}}},
        {"run", {{"tokens", 10}}},
        {"global_max", {{"value", -m}, {"abs", m}, {"tap", "layer_1_hidden"}, {"location", {}}}},
        {"taps", {t, {{"stats", {{"over_fp16", 0}, {"over_fp8_e4m3", 0}}}}}},
        {"quant",
         {{"pooled",
           {{"int8_max_abs",
             {{"all", {{"sqnr_db", sqnr}, {"rel_rmse", 0.1}}},
              {"clean", {{"sqnr_db", sqnr + 1}}}}}}}}}};
  };
  const Comparison c = compare_reports(
      {{"a.json", report(100, 30)}, {"b.json", report(1e5, 12)}, {"c.json", report(1e3, 20)}});
  const auto& corr = c.table["correlation_log10_abs_max_vs_sqnr_db"]["int8_max_abs"];
  EXPECT_EQ(corr["models"], 3);
  EXPECT_NEAR(corr["spearman"].get<double>(), -1.0, 1e-12);
  // log10 M = 2, 5, 3 against 30, 12, 20 dB: Sxy = -80/3, Sxx = 14/3, Syy = 488/3 by hand.
  EXPECT_NEAR(corr["pearson"].get<double>(), -80.0 / std::sqrt(14.0 * 488.0), 1e-12);
  EXPECT_DOUBLE_EQ(c.table["models"][1]["taps_over_fp16"].get<double>(), 0.5);
  EXPECT_NE(c.text.find("int8_max_abs"), std::string::npos);
  EXPECT_NE(c.csv.find("b.json,m100000,x,fp32,10,-100000,layer_1_hidden,2,0.5,0.5,12,13"),
            std::string::npos)
      << c.csv;
  test::expect_error(
      [&] {
        compare_reports({{"bad.json", nlohmann::json{{"schema", "other"}}}});
      },
      ErrorCode::kOption, {"bad.json", "maxact.scan"});
}

// The study's summarize() by hand: count-weighted means per policy in first-seen order, a policy
// with no counts left out, and its quirk kept: a non-finite (null) SQNR is left out of the sum
// but its count still divides.
TEST(Compare, StudySummaryByHand) {
  auto row = [](const char* policy, int count, double rel, nlohmann::json sqnr) {
    return nlohmann::json{{"policy", policy},   {"count", count},   {"rel_rmse", rel},
                          {"rel_mae", rel / 2}, {"clip_rate", 0.5}, {"sqnr_db", sqnr}};
  };
  const nlohmann::json file = {{"model_name", "m"},
                               {"family", "f"},
                               {"role", nullptr},
                               {"reference_global_max_abs", 7.5},
                               {"metrics",
                                {row("max_abs", 1, 0.1, 10.0), row("clip_q0.9", 2, 0.4, 4.0),
                                 row("max_abs", 3, 0.3, nullptr), row("none", 0, 0.2, 1.0)}}};
  const nlohmann::ordered_json s = study_quant_summary({{"m.json", file}});
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].dump(), nlohmann::ordered_json({{"model_name", "m"},
                                                 {"family", "f"},
                                                 {"role", nullptr},
                                                 {"policy", "max_abs"},
                                                 {"reference_global_max_abs", 7.5},
                                                 {"mean_rel_rmse", (0.1 * 1 + 0.3 * 3) / 4},
                                                 {"mean_rel_mae", (0.05 * 1 + 0.15 * 3) / 4},
                                                 {"mean_clip_rate", 0.5},
                                                 {"mean_sqnr_db", 10.0 / 4},
                                                 {"layers", 2}})
                             .dump());
  EXPECT_EQ(s[1]["policy"], "clip_q0.9");
  EXPECT_EQ(s[1]["mean_sqnr_db"], 4.0);
  test::expect_error(
      [&] {
        study_quant_summary({{"m.json", file}, {"x.json", {{"metrics", 1}}}});
      },
      ErrorCode::kOption, {"x.json", "model_name: missing"});
}

}  // namespace
}  // namespace maxact
