// `maxact report SCAN.json`: one scan report as a self-contained HTML page.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "html/page.h"
#include "html/report_view.h"
#include "html/scan_sections.h"
#include "maxact/html_report.h"

namespace maxact {
using html::Loc;
using html::ScanView;
using html::TapRef;
using nlohmann::json;

namespace {

std::string header(const ScanView& v) {
  const json& root = v.root();
  const ReportReader& r = v.reader();
  const json& model = r.member(root, "model", "");
  const json& corpus = r.member(root, "corpus", "");
  const json& options = r.member(root, "options", "");
  const json& run = r.member(root, "run", "");
  std::string params = "not recorded";
  if (const auto p = model.find("parameters"); p != model.end() && p->is_object()) {
    const int64_t total =
        r.integer(r.member(*p, "total", "model.parameters"), "model.parameters.total");
    const int64_t active =
        r.integer(r.member(*p, "active", "model.parameters"), "model.parameters.active");
    params = fmt::format("{:.4g} M", static_cast<double>(total) / 1e6);
    if (active != total)
      params += fmt::format(" ({:.4g} M active per token)", static_cast<double>(active) / 1e6);
  }
  std::string out = fmt::format(
      "<header>\n<h1>Activation peaks of {}</h1>\n<dl class=\"meta\">\n"
      "<dt>model</dt><dd>{} — family {}, model_type {}, {}</dd>\n"
      "<dt>parameters</dt><dd>{}</dd>\n<dt>precision</dt><dd>{}</dd>\n"
      "<dt>corpus</dt><dd>{} — {} samples, {} sequences, {} tokens (content SHA-256 "
      "<code>{}</code>)</dd>\n"
      "<dt>scanned</dt><dd>{} by maxact {} ({} threads, {} kernel)</dd>\n"
      "<dt>report</dt><dd><code>{}</code></dd>\n</dl>\n",
      html::escape(v.model()), html::escape(v.model()), html::escape(v.family()),
      html::escape(html::string_or(model, "model_type")),
      html::escape(html::string_or(model, "architecture")), params,
      html::escape(html::string_or(options, "precision")),
      html::escape(html::string_or(corpus, "origin")),
      html::int_span(r.integer(r.member(corpus, "samples", "corpus"), "corpus.samples"),
                     "corpus.samples"),
      html::int_span(r.integer(r.member(corpus, "sequences", "corpus"), "corpus.sequences"),
                     "corpus.sequences"),
      html::int_span(r.integer(r.member(corpus, "tokens", "corpus"), "corpus.tokens"),
                     "corpus.tokens"),
      html::escape(html::string_or(corpus, "content_hash")),
      html::escape(html::string_or(run, "finished_at")),
      html::escape(html::string_or(root, "maxact_version")),
      html::int_span(r.integer(r.member(run, "threads", "run"), "run.threads"), "run.threads"),
      html::escape(html::string_or(run, "linear_kernel", "?")), html::escape(v.file()));
  std::string tap, component;
  int layer = -1;
  if (const std::optional<Loc> g = v.global_max(&tap, &component, &layer)) {
    out += fmt::format(
        "<p id=\"global-max\">Global max M (the study's components: embedding, residual stream, "
        "attention and MLP outputs, final norm): <span class=\"big\">{}</span> "
        "(|M| = {}) at <code>{}</code> ({}{}), {}, token {}</p>\n",
        html::value_span(g->value, "global_max.value"), html::num(std::fabs(g->value)),
        html::escape(tap), html::escape(component),
        layer >= 0 ? fmt::format(", layer {}", layer) : std::string(),
        html::where_html(*g, "global_max.location"), v.context_html(*g));
  } else {
    out += "<p id=\"global-max\">No value was recorded at the study's components.</p>\n";
  }
  return out + "</header>\n";
}

json layer_chart(const ScanView& v, std::string& caption) {
  json rows = json::array();
  double peak = 0;
  std::map<std::string, std::pair<int, double>> best;  // per series: layer and |x| of its peak
  for (const html::LayerPoint& p : html::layer_points(v)) {
    const double a = std::fabs(p.at.value);
    if (!(a > 0)) continue;  // a log axis has no 0
    peak = std::max(peak, a);
    auto& b = best[p.series];
    if (a > b.second) b = {p.layer, a};
    json row = {
        {"layer", p.layer}, {"series", p.series},
        {"abs", a},         {"value", p.at.value},
        {"tap", p.tap},     {"source", p.at.sample >= 0 ? p.at.source + ".value" : p.at.source}};
    row["where"] = p.at.sample >= 0 ? html::where_text(p.at) : "quantile estimate";
    rows.push_back(std::move(row));
  }
  const std::vector<std::string> order = {html::kSeriesResidual, html::kSeriesAttention,
                                          html::kSeriesMlp,      html::kSeriesLinearInput,
                                          html::kSeriesMedian,   html::kSeriesQ999};
  caption =
      "Per decoder layer, the largest |x| of each kind of tap (log scale); hover a point "
      "for the signed value, the tap, where it occurred and its place in the JSON. ";
  for (const std::string& s : order) {
    if (const auto it = best.find(s); it != best.end()) {
      caption += fmt::format("{}: highest {} at layer {}. ", html::escape(s),
                             html::num(it->second.second), it->second.first);
    }
  }
  json spec = html::vl_base("Per-layer maxima of |x| by tap kind, log scale");
  spec["height"] = 340;
  json layers = json::array();
  layers.push_back(
      {{"data", {{"values", rows}}},
       {"mark", {{"type", "line"}, {"point", {{"filled", true}, {"size", 45}}}}},
       {"encoding",
        {{"x",
          {{"field", "layer"},
           {"type", "quantitative"},
           {"title", "decoder layer"},
           {"axis", {{"tickMinStep", 1}}}}},
         {"y",
          {{"field", "abs"},
           {"type", "quantitative"},
           {"scale", {{"type", "log"}}},
           {"title", "max |x| (log scale)"}}},
         {"color", {{"field", "series"}, {"type", "nominal"}, {"sort", order}, {"title", nullptr}}},
         {"strokeDash", {{"field", "series"}, {"type", "nominal"}, {"sort", order}}},
         {"shape", {{"field", "series"}, {"type", "nominal"}, {"sort", order}}},
         {"tooltip", html::tooltip({{{"field", "series"}},
                                    {{"field", "layer"}},
                                    {{"field", "value"}, {"format", ".6g"}, {"title", "value"}},
                                    {{"field", "tap"}},
                                    {{"field", "where"}}})}}}});
  // The formats' limits, where the values come within a decade of them.
  json limits = json::array();
  if (peak >= html::kFp8E4m3Max / 10)
    limits.push_back({{"limit", "FP8-E4M3 max 448"}, {"y", html::kFp8E4m3Max}});
  if (peak >= html::kFp16Max / 10)
    limits.push_back({{"limit", "FP16 max 65504"}, {"y", html::kFp16Max}});
  if (!limits.empty()) {
    layers.push_back({{"data", {{"values", limits}}},
                      {"mark", {{"type", "rule"}, {"strokeDash", {2, 2}}, {"color", "#9a3412"}}},
                      {"encoding",
                       {{"y", {{"field", "y"}, {"type", "quantitative"}}},
                        {"tooltip", json::array({{{"field", "limit"}}})}}}});
    caption += "Dashed red lines: the FP8-E4M3 / FP16 limits.";
  }
  spec["layer"] = layers;
  return spec;
}

// Residual stream per-channel absmax, layer × channel, channels grouped when there are many.
json channel_heatmap(const ScanView& v, std::string& caption, std::string& table) {
  const ReportReader& r = v.reader();
  std::vector<const TapRef*> hidden;
  for (const TapRef& t : v.taps()) {
    if (t.component == "hidden" && t.layer >= 0) hidden.push_back(&t);
  }
  if (hidden.empty()) return nullptr;
  const std::size_t layers = hidden.size();
  const int64_t channels = hidden.front()->channels;
  // At most ~12,800 cells: the page stays small for a 100-layer model.
  const int64_t bins = std::clamp<int64_t>(12800 / static_cast<int64_t>(layers), 64, 256);
  const int64_t width = channels <= bins ? 1 : (channels + bins - 1) / bins;
  json cells = json::array();
  struct ChannelPeak {
    double value = 0;  // max over layers
    const TapRef* tap = nullptr;
  };
  std::map<int64_t, ChannelPeak> per_channel;
  std::map<int64_t, int> layer_argmax;  // channel -> layers it leads
  for (const TapRef* t : hidden) {
    const std::string at = t->path() + ".stats.channel_absmax";
    const json& ca =
        r.array(r.member(*t->stats, "channel_absmax", t->path() + ".stats"), at, t->channels);
    int64_t lead = -1;
    double lead_v = -1;
    for (int64_t c0 = 0; c0 < t->channels; c0 += width) {
      double m = 0;
      const int64_t c1 = std::min(t->channels, c0 + width);
      for (int64_t c = c0; c < c1; ++c) {
        const json& x = ca[static_cast<std::size_t>(c)];
        if (x.is_null()) continue;
        const double a = r.number(x, fmt::format("{}[{}]", at, c));
        m = std::max(m, a);
        auto& pc = per_channel[c];
        if (a > pc.value) pc = {a, t};
        if (a > lead_v) {
          lead_v = a;
          lead = c;
        }
      }
      if (m > 0) {
        cells.push_back({{"l", t->layer}, {"c", c0}, {"c2", c1}, {"v", m}, {"t", t->index}});
      }
    }
    if (lead >= 0) ++layer_argmax[lead];
  }
  std::vector<std::pair<int64_t, ChannelPeak>> top(per_channel.begin(), per_channel.end());
  std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) {
    return a.second.value != b.second.value ? a.second.value > b.second.value : a.first < b.first;
  });
  if (top.size() > 10) top.resize(10);
  table =
      "<table id=\"top-channels\"><caption>Residual-stream channels with the largest |x| "
      "over all layers</caption>\n<tr><th>channel</th><th>max |x|</th><th>at layer</th>"
      "<th>layers where it is the largest channel</th></tr>\n";
  for (const auto& [c, peak] : top) {
    if (peak.tap == nullptr) continue;  // a channel without a positive value
    const std::string at = peak.tap->path();
    table += fmt::format(
        "<tr><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
        "<td class=\"n\">{} of {}</td></tr>\n",
        c, html::value_span(peak.value, fmt::format("{}.stats.channel_absmax[{}]", at, c)),
        html::int_span(peak.tap->layer, at + ".layer"), layer_argmax[c], layers);
  }
  table += "</table>\n";
  caption = fmt::format(
      "Per-channel max |x| of the residual stream after each decoder layer (log colour; "
      "channel_absmax in the JSON). {}Persistent massive channels show as vertical lines; the "
      "table lists the largest.",
      width > 1 ? fmt::format("{} channels drawn in groups of {} (each cell: the group's max); ",
                              channels, width)
                : "");
  json spec = html::vl_base("Residual stream per-channel max |x|, layer by channel");
  spec["height"] =
      std::min<int64_t>(600, std::max<int64_t>(120, 22 * static_cast<int64_t>(layers)));
  spec["data"] = {{"values", cells}};
  spec["transform"] = json::array(
      {{{"calculate",
         "'taps[' + datum.t + '].stats.channel_absmax[' + (datum.c2 - datum.c > 1 ? datum.c + "
         "'..' + (datum.c2 - 1) : datum.c) + ']'"},
        {"as", "source"}},
       {{"calculate", "datum.c2 - datum.c > 1 ? datum.c + '-' + (datum.c2 - 1) : '' + datum.c"},
        {"as", "channel"}}});
  spec["mark"] = "rect";
  spec["encoding"] = {
      {"x",
       {{"field", "c"},
        {"type", "quantitative"},
        {"title", "channel"},
        {"scale", {{"domain", {0, channels}}, {"nice", false}}}}},
      {"x2", {{"field", "c2"}}},
      {"y", {{"field", "l"}, {"type", "ordinal"}, {"title", "layer"}}},
      {"color",
       {{"field", "v"},
        {"type", "quantitative"},
        {"scale", {{"type", "log"}, {"scheme", "viridis"}}},
        {"title", "max |x|"}}},
      {"tooltip", html::tooltip({{{"field", "l"}, {"title", "layer"}},
                                 {{"field", "channel"}},
                                 {{"field", "v"}, {"format", ".6g"}, {"title", "max |x|"}}})}};
  return spec;
}

struct TopRow {
  Loc at;
  const TapRef* tap;
};

// The K largest values, one row per token (its largest value), over the given taps' top lists.
std::string top_table(const ScanView& v, bool study_only, std::size_t k, const char* id) {
  const ReportReader& r = v.reader();
  std::vector<TopRow> rows;
  for (const TapRef& t : v.taps()) {
    if (study_only && !html::study_component(t.component)) continue;
    const std::string at = t.path() + ".stats.top";
    const json& top = r.array(r.member(*t.stats, "top", t.path() + ".stats"), at);
    for (std::size_t j = 0; j < top.size(); ++j) {
      if (auto l = v.loc(top[j], fmt::format("{}[{}]", at, j))) rows.push_back({*l, &t});
    }
  }
  std::stable_sort(rows.begin(), rows.end(), [](const TopRow& a, const TopRow& b) {
    return std::fabs(a.at.value) > std::fabs(b.at.value);
  });
  std::set<std::pair<int64_t, int64_t>> seen;
  std::string out = fmt::format(
      "<table id=\"{}\">\n<tr><th>#</th><th>value</th><th>token in context</th><th>token id</th>"
      "<th>sample</th><th>position</th><th>channel</th><th>layer</th><th>tap</th></tr>\n",
      id);
  std::size_t n = 0;
  for (const TopRow& row : rows) {
    if (n == k) break;
    if (!seen.insert({row.at.sample, row.at.position}).second) continue;
    ++n;
    const std::string& s = row.at.source;
    out += fmt::format(
        "<tr><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td>"
        "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}"
        "</td><td><code>{}</code> ({})</td></tr>\n",
        n, html::value_span(row.at.value, s + ".value"), v.context_html(row.at),
        html::int_span(row.at.token, s + ".token"), html::int_span(row.at.sample, s + ".sample"),
        html::int_span(row.at.position, s + ".position"),
        html::int_span(row.at.channel, s + ".channel"),
        row.tap->layer >= 0 ? html::int_span(row.tap->layer, row.tap->path() + ".layer") : "–",
        html::escape(row.tap->name), html::escape(row.tap->component));
  }
  return out + "</table>\n";
}

}  // namespace

std::string render_html_report(const json& report, const std::string& file) {
  const ScanView v(report, file);
  html::Page page("maxact — " + v.model());
  page.add(header(v));
  // Links to the sections this report has.
  const json& root = v.root();
  const bool channels = std::any_of(v.taps().begin(), v.taps().end(), [](const TapRef& t) {
    return t.component == "hidden" && t.layer >= 0;
  });
  const auto cats = root.find("categories");
  const auto experts = root.find("experts");
  std::string nav = "<nav><a href=\"#layers\">layers</a>";
  if (channels) nav += "<a href=\"#channels\">channels</a>";
  nav += "<a href=\"#top\">top values</a>";
  if (cats != root.end() && cats->is_object() && !cats->empty()) {
    nav += "<a href=\"#categories-section\">categories</a>";
  }
  nav += "<a href=\"#headroom\">headroom</a>";
  if (const auto q = root.find("quant"); q != root.end() && q->is_object()) {
    nav += "<a href=\"#quant\">quantization</a>";
  }
  if (experts != root.end() && experts->is_array() && !experts->empty()) {
    nav += "<a href=\"#experts\">experts</a>";
  }
  page.add(nav + "</nav>\n");
  std::string caption;
  const json layers = layer_chart(v, caption);
  page.add("<section id=\"layers\"><h2>Layer by layer</h2>\n");
  page.chart({"chart-layers", "Peaks per layer", caption, layers});
  page.add("</section>\n");
  std::string table;
  const json heat = channel_heatmap(v, caption, table);
  if (!heat.is_null()) {
    page.add("<section id=\"channels\"><h2>Residual-stream channels</h2>\n");
    page.chart({"chart-channels", "Channel × layer", caption, heat});
    page.add(table + "</section>\n");
  }
  page.add(
      "<section id=\"top\"><h2>Largest values</h2>\n<p>The largest |x| over the study's "
      "taps (embedding, residual stream, attention and MLP outputs, final norm), one row per "
      "token (its largest value), from each tap's top list; the token highlighted within "
      "its neighbours, whitespace shown as \u21b5 / \u2192.</p>\n" +
      top_table(v, true, 30, "top-study") +
      "<p>The same over every tap (Linear inputs, projections, norms, KV cache…):</p>\n" +
      top_table(v, false, 15, "top-all") + "</section>\n");
  html::categories_section(v, page);
  html::headroom_section(v, page);
  html::quant_section(v, page);
  html::experts_section(v, page);
  page.add("<footer class=\"note\"><p>Generated by maxact from <code>" + html::escape(file) +
           "</code>. Every number shown carries its place in the JSON report (hover a chart, or "
           "the data-source attribute of a table cell).</p></footer>\n");
  return page.render();
}

}  // namespace maxact
