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

}  // namespace
}  // namespace maxact
