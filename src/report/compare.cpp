// `maxact compare`: the study's co-variation claim (peaks vs quantization error) as numbers.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "maxact/error.h"
#include "maxact/quant_report.h"

namespace maxact {
namespace {

using json = nlohmann::json;
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double mean_rank = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (std::size_t k = i; k <= j; ++k) r[order[k]] = mean_rank;
    i = j + 1;
  }
  return r;
}

json num(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

double get(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : kNan;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// A count in a report: a non-negative integer (a negative or fractional one is a damaged report,
// not a number to average).
uint64_t count_of(const std::string& path, const json& v, const char* what) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
    throw Error(ErrorCode::kOption, path + ": malformed maxact scan report: " + what +
                                        " must be a non-negative integer, found " +
                                        quote_untrusted(v.dump(), 40, false));
  }
  return v.get<uint64_t>();
}

// One report's row of the table; adds the policies it has to `policies` (first-seen order).
json model_row(const std::string& path, const json& r, std::vector<std::string>& policies) {
  json m = {{"report", path},
            // Typed reads here, inside the caller's catch, so a wrong type names the file.
            {"model", r.at("model").at("argument").get<std::string>()},
            {"model_type", r.at("model").at("model_type").get<std::string>()},
            {"precision", r.at("options").at("precision").get<std::string>()},
            {"tokens", count_of(path, r.at("run").at("tokens"), "run.tokens")}};
  const json& g = r.at("global_max");
  if (g.is_object()) {
    m["global_max"] = g.at("value").get<double>();
    m["abs_global_max"] = g.at("abs").get<double>();
    if (!(m["abs_global_max"].get<double>() >= 0)) {
      throw Error(ErrorCode::kOption,
                  path + ": malformed maxact scan report: global_max.abs must be non-negative");
    }
    m["at"] = g.at("tap").get<std::string>();
    m["location"] = g.at("location");
  } else {
    m["global_max"] = m["abs_global_max"] = m["at"] = nullptr;
  }
  std::size_t taps = 0, f16 = 0, f8 = 0;
  for (const json& t : r.at("taps")) {
    ++taps;
    f16 += count_of(path, t.at("stats").at("over_fp16"), "over_fp16") > 0;
    f8 += count_of(path, t.at("stats").at("over_fp8_e4m3"), "over_fp8_e4m3") > 0;
  }
  m["taps"] = taps;
  m["taps_over_fp16"] = taps ? static_cast<double>(f16) / static_cast<double>(taps) : kNan;
  m["taps_over_fp8_e4m3"] = taps ? static_cast<double>(f8) / static_cast<double>(taps) : kNan;
  json err = json::object();
  if (r.contains("quant")) {
    for (const auto& [policy, v] : r.at("quant").at("pooled").items()) {
      if (std::find(policies.begin(), policies.end(), policy) == policies.end()) {
        policies.push_back(policy);
      }
      err[policy] = {{"sqnr_db", v.at("all").at("sqnr_db")},
                     {"sqnr_db_clean", v.at("clean").at("sqnr_db")},
                     {"rel_rmse", v.at("all").at("rel_rmse")}};
    }
  }
  m["quant"] = err;
  return m;
}

}  // namespace

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const std::size_t n = x.size();
  if (n < 2 || y.size() != n) return kNan;
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < n; ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= static_cast<double>(n);
  my /= static_cast<double>(n);
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : kNan;
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  return pearson(ranks(x), ranks(y));
}

namespace {

// One row per report, in order; fills `policies` in first-seen order.
json model_rows(const std::vector<std::pair<std::string, json>>& reports,
                std::vector<std::string>& policies) {
  json models = json::array();
  for (const auto& [path, r] : reports) {
    const auto schema = r.is_object() ? r.find("schema") : r.end();
    if (!r.is_object() || schema == r.end() || *schema != "maxact.scan") {
      throw Error(ErrorCode::kOption, path + ": not a maxact scan report (schema maxact.scan)");
    }
    try {
      models.push_back(model_row(path, r, policies));
    } catch (const json::exception& e) {
      // .at() and typed reads throw on a missing key or a wrong type: name the file.
      throw Error(ErrorCode::kOption, path + ": malformed maxact scan report: " + e.what());
    }
  }
  return models;
}

// Per policy: Pearson and Spearman of log10 |M| against SQNR over the models that have both.
json correlations(const json& models, const std::vector<std::string>& policies) {
  json corr = json::object();
  for (const auto& p : policies) {
    std::vector<double> x, y;
    for (const json& m : models) {
      const double a = get(m, "abs_global_max");
      if (!m["quant"].contains(p) || !(a > 0)) continue;
      const double s = get(m["quant"][p], "sqnr_db");
      if (!std::isfinite(s)) continue;
      x.push_back(std::log10(a));
      y.push_back(s);
    }
    corr[p] = {
        {"models", x.size()}, {"pearson", num(pearson(x, y))}, {"spearman", num(spearman(x, y))}};
  }
  return corr;
}

// A number with 6 significant digits, or "" for null.
std::string cell(const json& v) {
  return v.is_number() ? fmt::format("{:.6g}", v.get<double>()) : std::string();
}

// The header lines of the text table and of the CSV.
void add_headers(const std::vector<std::string>& policies, Comparison& out) {
  out.text = fmt::format("{:<28} {:>12} {:<26} {:>8} {:>8}", "model", "global max", "at", "fp16 %",
                         "fp8 %");
  for (const auto& p : policies) out.text += fmt::format(" {:>18}", p);
  out.text += "\n";
  out.csv =
      "report,model,model_type,precision,tokens,global_max,at,taps,taps_over_fp16,"
      "taps_over_fp8_e4m3";
  for (const auto& p : policies) out.csv += ",sqnr_db_" + p + ",sqnr_db_clean_" + p;
  out.csv += "\n";
}

// One model's line of the text table and of the CSV.
void add_model_row(const json& m, const std::vector<std::string>& policies, Comparison& out) {
  const std::string at = m["at"].is_string() ? m["at"].get<std::string>() : "-";
  out.text += fmt::format("{:<28} {:>12} {:<26} {:>8.2f} {:>8.2f}", m["model"].get<std::string>(),
                          m["global_max"].is_number() ? cell(m["global_max"]) : "-", at,
                          100.0 * get(m, "taps_over_fp16"), 100.0 * get(m, "taps_over_fp8_e4m3"));
  out.csv += fmt::format("{},{},{},{},{},{},{},{},{},{}", csv_field(m["report"]),
                         csv_field(m["model"]), csv_field(m["model_type"]),
                         csv_field(m["precision"]), m["tokens"].get<uint64_t>(),
                         cell(m["global_max"]), csv_field(at), m["taps"].get<std::size_t>(),
                         cell(m["taps_over_fp16"]), cell(m["taps_over_fp8_e4m3"]));
  for (const auto& p : policies) {
    const json e = m["quant"].contains(p) ? m["quant"][p] : json::object();
    const std::string s = cell(e.value("sqnr_db", json()));
    out.text += fmt::format(" {:>15} dB", s.empty() ? "-" : s);
    out.csv += "," + s + "," + cell(e.value("sqnr_db_clean", json()));
  }
  out.text += "\n";
  out.csv += "\n";
}

// The correlation summary under the text table (or why there is none).
std::string correlation_text(const json& corr, const std::vector<std::string>& policies) {
  if (policies.empty()) {
    return "no report has a quant section (run maxact scan --quant): no error columns\n";
  }
  std::string text = "correlation of log10 |M| with SQNR across models:\n";
  for (const auto& p : policies) {
    const json& c = corr[p];
    text += fmt::format("  {:<20} n={:<3} Pearson {:>7} Spearman {:>7}\n", p,
                        c["models"].get<std::size_t>(),
                        cell(c["pearson"]).empty() ? "-" : cell(c["pearson"]),
                        cell(c["spearman"]).empty() ? "-" : cell(c["spearman"]));
  }
  return text;
}

}  // namespace

Comparison compare_reports(const std::vector<std::pair<std::string, json>>& reports) {
  std::vector<std::string> policies;  // in first-seen order
  const json models = model_rows(reports, policies);
  const json corr = correlations(models, policies);

  Comparison out;
  out.table = {{"schema", "maxact.compare"},
               {"schema_version", 1},
               {"models", models},
               {"correlation_log10_abs_max_vs_sqnr_db", corr}};
  add_headers(policies, out);
  for (const json& m : models) add_model_row(m, policies, out);
  out.text += correlation_text(corr, policies);
  return out;
}

}  // namespace maxact
