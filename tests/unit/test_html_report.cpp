// The HTML pages and the model card as a hostile or broken report meets them: text from the
// report never becomes markup or script, a malformed report is an error naming the file and the
// place, and the output is a function of the input. The pages' numbers and rendering are checked
// in a browser by tests/html/check_html_reports.py.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "maxact/error.h"
#include "maxact/html_report.h"
#include "test_util.h"

namespace {
using nlohmann::json;

json located(double v, const std::string& text) {
  return {{"value", v}, {"sample", 3},  {"position", 1},
          {"token", 7}, {"channel", 1}, {"token_text", text}};
}

// The smallest report the pages read: two layers of residual stream.
json tiny_report(const std::string& text = "a", const std::string& model = "org/m") {
  json taps = json::array();
  for (int l = 0; l < 2; ++l) {
    const double v = l == 0 ? 2.5 : -40.0;
    taps.push_back({{"name", "model.layers." + std::to_string(l)},
                    {"component", "hidden"},
                    {"layer", l},
                    {"channels", 2},
                    {"stats",
                     {{"count", 8},
                      {"absmax", located(v, text)},
                      {"top", json::array({located(v, text)})},
                      {"abs_quantile_estimates", {{"0.5", 0.5}, {"0.999", 2.0}}},
                      {"channel_absmax", json::array({1.0, std::fabs(v)})},
                      {"over_fp16", 0},
                      {"over_fp8_e4m3", 0}}}});
  }
  json loc = located(-40.0, text);
  loc.erase("value");
  return {{"schema", "maxact.scan"},
          {"maxact_version", "0"},
          {"model",
           {{"argument", model},
            {"family", "llama"},
            {"model_type", "llama"},
            {"architecture", "LlamaForCausalLM"},
            {"num_layers", 2}}},
          {"corpus",
           {{"origin", "builtin"},
            {"samples", 1},
            {"sequences", 1},
            {"tokens", 4},
            {"content_hash", "00"},
            {"categories", json::object()}}},
          {"options", {{"precision", "fp32"}, {"max_seq_len", 16}}},
          {"run", {{"command", "maxact scan org/m"}, {"tokens", 4}, {"threads", 2}}},
          {"global_max",
           {{"value", -40.0},
            {"abs", 40.0},
            {"tap", "model.layers.1"},
            {"hf_name", "model.layers.1"},
            {"component", "hidden"},
            {"layer", 1},
            {"location", loc}}},
          {"categories", json::object()},
          {"experts", json::array()},
          {"token_contexts", {{"3:1", {{"before", "x\n"}, {"token", text}, {"after", "y"}}}}},
          {"taps", taps}};
}

// Every name a report carries, hostile: taps, a category, a policy, the model.
json hostile_report(const std::string& evil) {
  json r = tiny_report(evil, evil);
  for (json& t : r["taps"]) t["name"] = evil + t["name"].get<std::string>();
  json g = r["global_max"];
  g["tap"] = evil;
  r["categories"] = {{evil, {{"global_max", g}}}};
  r["corpus"]["categories"] = {{evil, {{"tokens", 4}}}};
  const json metrics = {
      {"sqnr_db", 30.0}, {"rel_rmse", 0.03}, {"clip_rate", 0.0}, {"exceedance_rate", 0.0}};
  r["quant"] = {
      {"pooled", {{evil, {{"all", metrics}, {"clean", metrics}}}}},
      {"taps", json::array({{{"tap", evil},
                             {"policies", {{evil, {{"all", metrics}, {"clean", metrics}}}}}}})}};
  return r;
}

// Markdown outside code: fenced blocks (a fence of 3+ backticks to the same fence) and inline
// code spans removed, which a renderer shows verbatim.
std::string outside_code(const std::string& md) {
  std::string out;
  std::size_t i = 0;
  while (i < md.size()) {
    if (md[i] != '`') {
      out += md[i++];
      continue;
    }
    std::size_t n = 0;
    while (i + n < md.size() && md[i + n] == '`') ++n;
    const std::string fence(n, '`');
    std::size_t end = md.find(fence, i + n);
    while (end != std::string::npos && end + n < md.size() && md[end + n] == '`') {
      end = md.find(fence, end + n + 1);
    }
    if (end == std::string::npos) return out + md.substr(i);
    i = end + n;
  }
  return out;
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(HtmlReport, TextFromTheReportNeverBecomesMarkup) {
  const std::string evil = "</script><script>alert(1)</script><img src=x onerror=alert(2)>";
  const std::string page = maxact::render_html_report(hostile_report(evil), evil + ".json");
  // The three libraries, the charts' data and the bootstrap: nothing else opens a script.
  EXPECT_EQ(count(page, "<script"), 5u);
  EXPECT_EQ(count(page, "alert(1)</script>"), 0u);
  EXPECT_EQ(count(page, "<img src=x"), 0u);
  EXPECT_GT(count(page, "&lt;img src=x onerror=alert(2)&gt;"), 0u);
  EXPECT_GT(count(page, "\\u003c/script>"), 0u);  // in the charts' JSON
  const std::string cmp = maxact::render_html_compare(
      {{evil + "a.json", hostile_report(evil)}, {evil + "b.json", hostile_report(evil)}});
  EXPECT_EQ(count(cmp, "<script"), 5u);
  EXPECT_EQ(count(cmp, "<img src=x"), 0u);
  // In a model card, markup from the report stays text and the command's fence holds.
  json r = hostile_report(evil);
  r["run"]["command"] = "maxact scan m\n```\n<img src=x onerror=alert(3)>";
  const std::string card = maxact::render_model_card(r, "r.json");
  EXPECT_EQ(count(outside_code(card), "<img"), 0u) << card;
  EXPECT_EQ(count(outside_code(card), "<script"), 0u) << card;
  EXPECT_NE(card.find("````sh\nmaxact scan m\n```\n<img"), std::string::npos) << card;
}

TEST(HtmlReport, SameInputSamePage) {
  const json r = tiny_report();
  EXPECT_EQ(maxact::render_html_report(r, "r.json"), maxact::render_html_report(r, "r.json"));
  EXPECT_EQ(maxact::render_model_card(r, "r.json"), maxact::render_model_card(r, "r.json"));
}

TEST(HtmlReport, MalformedReportsNameTheFileAndThePlace) {
  const auto expect_error = [](json r, const std::string& where) {
    try {
      (void)maxact::render_html_report(r, "r.json");
      FAIL() << "no error for " << where;
    } catch (const maxact::Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("r.json"), std::string::npos) << m;
      EXPECT_NE(m.find(where), std::string::npos) << m;
    }
  };
  json r = tiny_report();
  r["taps"][1]["stats"].erase("top");
  expect_error(r, "taps[1].stats.top");
  r = tiny_report();
  r["taps"][0]["layer"] = "zero";
  expect_error(r, "taps[0].layer");
  r = tiny_report();
  r["taps"][0]["stats"]["channel_absmax"] = json::array({1.0});
  expect_error(r, "taps[0].stats.channel_absmax");
  r = tiny_report();
  r["schema"] = "maxact.compare";
  expect_error(r, "not a maxact scan report");
  r = tiny_report();
  r["global_max"]["location"] = 5;
  expect_error(r, "global_max.location");
  r = hostile_report("c");
  r["categories"]["c"]["global_max"]["location"] = "here";
  expect_error(r, "categories[\"c\"].global_max.location");
  r = hostile_report("p");
  r["quant"]["taps"][0]["policies"]["p"].erase("clean");
  expect_error(r, "quant.taps[0].policies.p.clean");
  r = tiny_report();
  r["run"]["threads"] = "<img src=x>";
  expect_error(r, "run.threads");
  r = tiny_report();
  r["taps"][0]["channels"] = int64_t{1} << 62;
  expect_error(r, "taps[0].channels");
  r = tiny_report();
  r["model"]["num_layers"] = int64_t{1} << 40;
  expect_error(r, "model.num_layers");
  EXPECT_THROW((void)maxact::render_model_card(json::array(), "r.json"), maxact::Error);
}

TEST(HtmlReport, ModelCardStatesThePeakAndTheCommand) {
  const std::string card = maxact::render_model_card(tiny_report(), "r.json");
  EXPECT_NE(card.find("**-40**"), std::string::npos) << card;
  EXPECT_NE(card.find("maxact scan org/m"), std::string::npos) << card;
  EXPECT_NE(card.find("0 of 16 recorded values exceed 65504"), std::string::npos) << card;
}

// A real report (the MoE zoo model with experts, categories, token contexts and the quantization
// check) with one value replaced at a time: every page renders or throws maxact::Error naming the
// file; nothing else escapes (no nlohmann type_error, no out_of_range, no crash).
TEST(HtmlReport, MutatedReportsGiveErrorsNotCrashes) {
  std::ifstream in(MAXACT_REPORT_SEED);
  const json base = json::parse(std::string(std::istreambuf_iterator<char>(in), {}));
  ASSERT_NO_THROW((void)maxact::render_html_report(base, "m.json"));
  int errors = 0;
  for (const auto& [p, m] : maxact::test::mutations(base, 300, 7)) {
    for (int kind = 0; kind < 3; ++kind) {
      try {
        if (kind == 0) (void)maxact::render_html_report(m, "m.json");
        if (kind == 1) (void)maxact::render_model_card(m, "m.json");
        if (kind == 2) (void)maxact::render_html_compare({{"m.json", m}, {"n.json", base}});
      } catch (const maxact::Error& e) {
        ++errors;
        EXPECT_NE(std::string(e.what()).find(kind == 2 ? ".json" : "m.json"), std::string::npos)
            << e.what();
      } catch (const std::exception& e) {
        ADD_FAILURE() << p << " (page " << kind << "): " << e.what();
      }
    }
  }
  EXPECT_GT(errors, 0);
}

}  // namespace
