// `maxact report A.json B.json ...`: several scans side by side, the study's figures.
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <set>

#include "html/page.h"
#include "html/report_view.h"
#include "maxact/html_report.h"
#include "maxact/quant_report.h"
#include "maxact/scan_job.h"

namespace maxact {
using html::Loc;
using html::ScanView;
using nlohmann::json;

namespace {

struct Compared {
  std::string label, family, component, tap, file;
  int layers = 0;
  std::optional<Loc> m;
  int64_t params = 0;
};

// A label per report: the model folder's name, made unique with the report's file when two
// reports scanned models of one name.
std::vector<Compared> models_of(const std::vector<ScanView>& views) {
  std::vector<Compared> out;
  std::map<std::string, int> seen;
  for (const ScanView& v : views) {
    Compared m;
    m.label = study_model_name(v.model());
    m.family = v.family();
    m.file = v.file();
    m.layers = v.num_layers();
    int layer = -1;
    m.m = v.global_max(&m.tap, &m.component, &layer);
    const json& model = v.reader().member(v.root(), "model", "");
    if (const auto p = model.find("parameters"); p != model.end() && p->is_object()) {
      m.params = v.reader().integer(v.reader().member(*p, "total", "model.parameters"),
                                    "model.parameters.total");
    }
    ++seen[m.label];
    out.push_back(std::move(m));
  }
  for (Compared& m : out) {
    if (seen[m.label] > 1) m.label += " (" + m.file + ")";
  }
  return out;
}

std::string fmt_opt(const json& v, const char* f = "{:.4g}", double scale = 1) {
  return v.is_number() ? fmt::format(fmt::runtime(f), v.get<double>() * scale) : std::string("–");
}

// M per model on a log axis, grouped by family.
void peaks_section(html::Page& page, const std::vector<Compared>& models) {
  json mrows = json::array();
  for (std::size_t i = 0; i < models.size(); ++i) {
    const Compared& m = models[i];
    if (!m.m || !(std::fabs(m.m->value) > 0)) continue;
    mrows.push_back({{"model", m.label},
                     {"family", m.family},
                     {"abs", std::fabs(m.m->value)},
                     {"value", m.m->value},
                     {"tap", m.tap},
                     {"component", m.component},
                     {"source", m.file + "#global_max.value"}});
  }
  json s1 = html::vl_base("Global max |M| per model, log scale, grouped by family");
  s1["data"] = {{"values", mrows}};
  s1["height"] = {{"step", 22}};
  // Points, not bars: a bar on a log axis has no baseline.
  s1["mark"] = {{"type", "point"}, {"filled", true}, {"size", 110}};
  s1["encoding"] = {
      {"y",
       {{"field", "model"},
        {"type", "nominal"},
        {"title", nullptr},
        {"sort", {{"field", "family"}}}}},
      {"x",
       {{"field", "abs"},
        {"type", "quantitative"},
        {"scale", {{"type", "log"}}},
        {"title", "|M| (log scale)"}}},
      {"color", {{"field", "family"}, {"type", "nominal"}}},
      {"shape", {{"field", "family"}, {"type", "nominal"}}},
      {"tooltip", html::tooltip({{{"field", "model"}},
                                 {{"field", "family"}},
                                 {{"field", "value"}, {"format", ".6g"}, {"title", "M"}},
                                 {{"field", "tap"}},
                                 {{"field", "component"}}})}};
  std::string cap =
      "Global max M of each model (the study's components), log scale, grouped by "
      "family (colour and shape; the family is also the sort key and in the table "
      "below). ";
  for (const Compared& m : models) {
    if (m.m) cap += fmt::format("{} {}. ", html::escape(m.label), html::num(m.m->value));
  }
  page.add("<section id=\"peaks\"><h2>Global max per model</h2>\n");
  page.chart({"chart-models-m", "|M| per model", cap, s1});
  page.add("</section>\n");
}

// Residual-stream peak over normalised depth.
void depth_section(html::Page& page, const std::vector<ScanView>& views,
                   const std::vector<Compared>& models) {
  json crows = json::array();
  for (std::size_t i = 0; i < views.size(); ++i) {
    const int L = std::max(1, views[i].num_layers());
    for (const html::LayerPoint& p : html::layer_points(views[i])) {
      if (p.series != html::kSeriesResidual || !(std::fabs(p.at.value) > 0)) continue;
      crows.push_back({{"model", models[i].label},
                       {"depth", (p.layer + 1.0) / L},
                       {"layer", p.layer},
                       {"abs", std::fabs(p.at.value)},
                       {"value", p.at.value},
                       {"source", models[i].file + "#" + p.at.source + ".value"}});
    }
  }
  json s2 =
      html::vl_base("Residual stream peak per layer over normalised depth, one line per model");
  s2["height"] = 320;
  s2["data"] = {{"values", crows}};
  s2["mark"] = {{"type", "line"}, {"point", {{"filled", true}, {"size", 40}}}};
  s2["encoding"] = {{"x",
                     {{"field", "depth"},
                      {"type", "quantitative"},
                      {"title", "depth (layer + 1) / L"},
                      {"scale", {{"domain", {0, 1}}}}}},
                    {"y",
                     {{"field", "abs"},
                      {"type", "quantitative"},
                      {"scale", {{"type", "log"}}},
                      {"title", "residual stream max |x| (log)"}}},
                    {"color", {{"field", "model"}, {"type", "nominal"}}},
                    {"strokeDash", {{"field", "model"}, {"type", "nominal"}}},
                    {"shape", {{"field", "model"}, {"type", "nominal"}}},
                    {"tooltip", html::tooltip({{{"field", "model"}},
                                               {{"field", "layer"}},
                                               {{"field", "value"}, {"format", ".6g"}}})}};
  page.add("<section id=\"depth\"><h2>Layer curves</h2>\n");
  page.chart({"chart-models-depth", "Residual stream over depth",
              "The residual stream's largest |x| after each decoder layer, layers scaled to the "
              "model's depth so models of different depth line up.",
              s2});
  page.add("</section>\n");
}

// Which component holds each model's peak.
void component_section(html::Page& page, const std::vector<Compared>& models) {
  json prow = json::array();
  for (const Compared& m : models) {
    if (m.m)
      prow.push_back({{"model", m.label},
                      {"component", m.component},
                      {"tap", m.tap},
                      {"source", m.file + "#global_max.component"}});
  }
  json s3 = html::vl_base("Which component holds each model's global max");
  s3["width"] = 420;
  s3["height"] = {{"step", 22}};
  s3["data"] = {{"values", prow}};
  s3["mark"] = {{"type", "point"}, {"filled", true}, {"size", 120}};
  s3["encoding"] = {
      {"y", {{"field", "model"}, {"type", "nominal"}, {"title", nullptr}}},
      {"x",
       {{"field", "component"},
        {"type", "nominal"},
        {"scale", {{"domain", {"embedding", "attention", "mlp", "hidden", "final_norm"}}}}}},
      {"shape", {{"field", "component"}, {"type", "nominal"}}},
      {"tooltip",
       html::tooltip({{{"field", "model"}}, {{"field", "component"}}, {{"field", "tap"}}})}};
  page.add("<section id=\"components\"><h2>Where the peak is</h2>\n");
  page.chart({"chart-models-component", "Component of the peak",
              "The component (study's names: embedding, attention output, MLP output, residual "
              "stream, final norm) whose tap holds each model's M; the table repeats it.",
              s3});
  page.add("</section>\n");
}

// M vs pooled INT8 SQNR, with the correlations compare_reports computes.
void sqnr_section(html::Page& page, const json& table, const std::vector<Compared>& models) {
  json srows = json::array();
  std::set<std::string> int8;
  for (std::size_t i = 0; i < models.size(); ++i) {
    const json& row = table["models"][i];
    for (const auto& [policy, q] : row["quant"].items()) {
      if (policy.rfind("int8", 0) != 0 || !q["sqnr_db"].is_number() ||
          !row["abs_global_max"].is_number())
        continue;
      int8.insert(policy);
      // The study's two policies in the plot (all INT8 ones in the table below).
      if (policy != "int8_max_abs" && policy != "int8_clip_q") continue;
      srows.push_back({{"model", models[i].label},
                       {"policy", policy},
                       {"abs", row["abs_global_max"]},
                       {"sqnr_db", q["sqnr_db"]},
                       {"source", models[i].file + "#quant.pooled." + policy + ".all.sqnr_db"}});
    }
  }
  page.add("<section id=\"sqnr\"><h2>Peak vs INT8 error</h2>\n");
  if (srows.empty()) {
    page.add(
        "<p>None of these reports has a quantization check (<code>maxact scan "
        "--quant</code>).</p>\n");
  } else {
    json s4 = html::vl_base("Global max |M| against pooled INT8 SQNR per policy");
    s4["height"] = 320;
    s4["data"] = {{"values", srows}};
    s4["layer"] = json::array(
        {{{"mark", {{"type", "point"}, {"filled", true}, {"size", 70}}},
          {"encoding",
           {{"x",
             {{"field", "abs"},
              {"type", "quantitative"},
              {"scale", {{"type", "log"}}},
              {"title", "|M| (log scale)"}}},
            {"y",
             {{"field", "sqnr_db"},
              {"type", "quantitative"},
              {"title", "pooled SQNR (dB)"},
              {"scale", {{"zero", false}}}}},
            {"color", {{"field", "policy"}, {"type", "nominal"}}},
            {"shape", {{"field", "policy"}, {"type", "nominal"}}},
            {"tooltip", html::tooltip({{{"field", "model"}},
                                       {{"field", "policy"}},
                                       {{"field", "abs"}, {"format", ".6g"}, {"title", "|M|"}},
                                       {{"field", "sqnr_db"}, {"format", ".4g"}}})}}}},
         {{"transform", json::array({{{"filter", "datum.policy == 'int8_max_abs'"}}})},
          {"mark", {{"type", "text"}, {"dx", 7}, {"align", "left"}, {"fontSize", 10}}},
          {"encoding",
           {{"x", {{"field", "abs"}, {"type", "quantitative"}, {"scale", {{"type", "log"}}}}},
            {"y", {{"field", "sqnr_db"}, {"type", "quantitative"}, {"scale", {{"zero", false}}}}},
            {"text", {{"field", "model"}}}}}}});
    std::string corr =
        "<table id=\"correlations\">\n<tr><th>policy</th><th>models</th><th>Pearson r"
        "</th><th>Spearman ρ</th></tr>\n";
    for (const std::string& p : int8) {
      const json& c = table.at("correlation_log10_abs_max_vs_sqnr_db").at(p);
      corr += fmt::format(
          "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td "
          "class=\"n\">{}</td></tr>\n",
          html::escape(p), c["models"].dump(), fmt_opt(c["pearson"], "{:.3f}"),
          fmt_opt(c["spearman"], "{:.3f}"));
    }
    page.chart(
        {"chart-models-sqnr", "|M| vs INT8 SQNR",
         "Each model's global max against its quantization check's pooled SQNR for the "
         "study's two INT8 policies (per-tensor max-abs, labelled; clipped at the 0.999 "
         "quantile). The table gives Pearson's r and Spearman's ρ between log10 |M| and SQNR "
         "across the models (the study's claim: the error tracks the peak; the same numbers "
         "as <code>maxact compare</code>).",
         s4});
    page.add(corr + "</table>\n");
  }
  page.add("</section>\n");
}

// All models.
void models_section(html::Page& page, const json& table, const std::vector<Compared>& models) {
  std::string t =
      "<section id=\"models\"><h2>All models</h2>\n<table id=\"models-table\">\n<tr>"
      "<th>model</th><th>family</th><th>parameters</th><th>layers</th><th>M</th>"
      "<th>at</th><th>component</th><th>tokens</th><th>taps beyond FP16</th>"
      "<th>taps beyond FP8</th><th>INT8 max-abs SQNR</th><th>report</th></tr>\n";
  for (std::size_t i = 0; i < models.size(); ++i) {
    const Compared& m = models[i];
    const json& row = table["models"][i];
    const json& q = row["quant"];
    t += fmt::format(
        "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}"
        "</td><td><code>{}</code></td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
        "<td class=\"n\">{}</td><td class=\"n\">{}</td><td><code>{}</code></td></tr>\n",
        html::escape(m.label), html::escape(m.family),
        m.params ? fmt::format("{:.4g} M", static_cast<double>(m.params) / 1e6) : "–", m.layers,
        m.m ? html::value_span(m.m->value, m.file + "#global_max.value") : "–", html::escape(m.tap),
        html::escape(m.component),
        row["tokens"].is_number_integer()
            ? html::int_span(row["tokens"].get<int64_t>(), m.file + "#run.tokens")
            : std::string("–"),
        fmt_opt(row["taps_over_fp16"], "{:.1f} %", 100),
        fmt_opt(row["taps_over_fp8_e4m3"], "{:.1f} %", 100),
        q.contains("int8_max_abs") ? fmt_opt(q["int8_max_abs"]["sqnr_db"], "{:.2f} dB") : "–",
        html::escape(m.file));
  }
  page.add(t + "</table>\n</section>\n");
}

}  // namespace

std::string render_html_compare(const std::vector<std::pair<std::string, json>>& reports) {
  std::vector<ScanView> views;
  for (const auto& [file, r] : reports) views.emplace_back(r, file);
  const Comparison cmp = compare_reports(reports);
  const json& table = cmp.table;
  const std::vector<Compared> models = models_of(views);
  html::Page page(fmt::format("maxact — {} models compared", models.size()));
  page.add(
      fmt::format("<header><h1>Activation peaks of {} models</h1>\n<p class=\"note\">From "
                  "the scan reports {}.</p></header>\n",
                  models.size(), [&] {
                    std::string s;
                    for (const Compared& m : models)
                      s += (s.empty() ? "" : ", ") + ("<code>" + html::escape(m.file) + "</code>");
                    return s;
                  }()));

  peaks_section(page, models);
  depth_section(page, views, models);
  component_section(page, models);
  sqnr_section(page, table, models);
  models_section(page, table, models);
  return page.render();
}

}  // namespace maxact
