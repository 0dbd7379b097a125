// `maxact report SCAN.json`: one scan report as a self-contained HTML page.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "html/page.h"
#include "html/report_view.h"
#include "maxact/html_report.h"

namespace maxact {
using html::Loc;
using html::ScanView;
using html::TapRef;
using nlohmann::json;

namespace {

// "sample 3, position 17, channel 80" with each number traceable.
std::string where_html(const Loc& l, const std::string& base) {
  return fmt::format(
      "sample {}, position {}, channel {}", html::int_span(l.sample, base + ".sample"),
      html::int_span(l.position, base + ".position"), html::int_span(l.channel, base + ".channel"));
}

std::string where_text(const Loc& l) {
  return fmt::format(
      "sample {}, position {}, token {} {}, channel {}", l.sample, l.position, l.token,
      json(l.token_text).dump(-1, ' ', false, json::error_handler_t::replace), l.channel);
}

std::string str_or(const json& o, const char* key, const char* fallback = "not recorded") {
  const auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
}

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
      html::escape(str_or(model, "model_type")), html::escape(str_or(model, "architecture")),
      params, html::escape(str_or(options, "precision")), html::escape(str_or(corpus, "origin")),
      html::int_span(r.integer(r.member(corpus, "samples", "corpus"), "corpus.samples"),
                     "corpus.samples"),
      html::int_span(r.integer(r.member(corpus, "sequences", "corpus"), "corpus.sequences"),
                     "corpus.sequences"),
      html::int_span(r.integer(r.member(corpus, "tokens", "corpus"), "corpus.tokens"),
                     "corpus.tokens"),
      html::escape(str_or(corpus, "content_hash")), html::escape(str_or(run, "finished_at")),
      html::escape(str_or(root, "maxact_version")),
      html::int_span(r.integer(r.member(run, "threads", "run"), "run.threads"), "run.threads"),
      html::escape(str_or(run, "linear_kernel", "?")), html::escape(v.file()));
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
        where_html(*g, "global_max.location"), v.context_html(*g));
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
    row["where"] = p.at.sample >= 0 ? where_text(p.at) : "quantile estimate";
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

void categories_section(const ScanView& v, html::Page& page) {
  const ReportReader& r = v.reader();
  const json& cats = r.member(v.root(), "categories", "");
  if (!cats.is_object() || cats.empty()) return;
  const json& corpus_cats = r.member(r.member(v.root(), "corpus", ""), "categories", "corpus");
  json rows = json::array();
  std::string table =
      "<table id=\"categories\">\n<tr><th>category</th><th>tokens</th><th>peak</th><th>tap</th>"
      "<th>where</th><th>token in context</th></tr>\n";
  for (const auto& [name, c] : cats.items()) {
    const std::string at = "categories[" + json(name).dump() + "]";
    const std::string base = at + ".global_max";
    const json& g = r.member(c, "global_max", at);
    std::string tokens_html = "–";
    if (const auto it = corpus_cats.find(name); it != corpus_cats.end() && it->is_object()) {
      if (const auto tk = it->find("tokens"); tk != it->end()) {
        const std::string src = "corpus.categories[" + json(name).dump() + "].tokens";
        tokens_html = html::int_span(r.integer(*tk, src), src);
      }
    }
    if (g.is_null()) {
      table += fmt::format(
          "<tr><td>{}</td><td class=\"n\">{}</td><td colspan=\"4\">nothing "
          "recorded</td></tr>\n",
          html::escape(name), tokens_html);
      continue;
    }
    std::string tap;
    const std::optional<Loc> l = v.peak(g, base, &tap, nullptr, nullptr);
    rows.push_back({{"category", name},
                    {"abs", std::fabs(l->value)},
                    {"value", l->value},
                    {"tap", tap},
                    {"where", where_text(*l)},
                    {"source", base + ".value"}});
    table += fmt::format(
        "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
        "<td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
        html::escape(name), tokens_html, html::value_span(l->value, base + ".value"),
        html::escape(tap), where_html(*l, base + ".location"), v.context_html(*l));
  }
  table += "</table>\n";
  page.add("<section id=\"categories-section\"><h2>Per corpus category</h2>\n");
  json spec = html::vl_base("Peak |x| per corpus category");
  spec["data"] = {{"values", rows}};
  spec["mark"] = {{"type", "bar"}};
  spec["encoding"] = {
      {"y", {{"field", "category"}, {"type", "nominal"}, {"sort", "-x"}, {"title", nullptr}}},
      {"x",
       {{"field", "abs"}, {"type", "quantitative"}, {"title", "peak |x| over the study's taps"}}},
      {"tooltip", html::tooltip({{{"field", "category"}},
                                 {{"field", "value"}, {"format", ".6g"}},
                                 {{"field", "tap"}},
                                 {{"field", "where"}}})}};
  std::string extremes;
  if (!rows.empty()) {
    const auto by_abs = [](const json& a, const json& b) {
      return a["abs"].get<double>() < b["abs"].get<double>();
    };
    const json& hi = *std::max_element(rows.begin(), rows.end(), by_abs);
    const json& lo = *std::min_element(rows.begin(), rows.end(), by_abs);
    extremes = fmt::format(
        " Highest: {} ({}); lowest: {} ({}).", html::escape(hi["category"].get<std::string>()),
        html::num(hi["value"].get<double>()), html::escape(lo["category"].get<std::string>()),
        html::num(lo["value"].get<double>()));
  }
  page.chart({"chart-categories", "Where each domain peaks",
              "The study's global max restricted to each category of the corpus; the table below "
              "gives the numbers and the tokens." +
                  extremes,
              spec});
  page.add(table + "</section>\n");
}

void headroom_section(const ScanView& v, html::Page& page) {
  std::string out =
      "<section id=\"headroom\"><h2>Headroom in FP16 and FP8</h2>\n<p>Per kind of tap: the "
      "fraction of values beyond the largest finite FP16 (65504) and FP8-E4M3 (448) values, and "
      "the static per-tensor FP8 scale its largest value implies (max |x| / 448). A value beyond "
      "a format's limit saturates (FP8) or overflows to infinity (FP16) unless scaled.</p>\n"
      "<table id=\"headroom-table\">\n<tr><th>kind</th><th>taps</th><th>values</th><th>beyond "
      "FP16</th><th>beyond FP8-E4M3</th><th>taps with a value beyond 448</th><th>largest |x| "
      "(signed)</th>"
      "<th>where</th><th>implied FP8 scale</th></tr>\n";
  for (const html::Headroom& h : html::headroom(v)) {
    const auto frac = [&](int64_t n) {
      return h.count > 0
                 ? fmt::format("{:.3g} % ({})",
                               100.0 * static_cast<double>(n) / static_cast<double>(h.count), n)
                 : std::string("–");
    };
    out += fmt::format(
        "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
        "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td><code>{}</code>"
        "</td><td class=\"n\">{}</td></tr>\n",
        html::escape(h.component), h.taps, h.count, frac(h.over_fp16), frac(h.over_fp8),
        h.taps_over_fp8,
        h.absmax_source.empty() ? "–" : html::value_span(h.value, h.absmax_source + ".value"),
        html::escape(h.absmax_tap), html::num(h.absmax / html::kFp8E4m3Max));
  }
  page.add(out + "</table>\n</section>\n");
}

double metric(const ScanView& v, const json& o, const std::string& at, const char* key) {
  const json& x = v.reader().member(o, key, at);
  return x.is_null() ? std::nan("") : v.reader().number(x, at + "." + key);
}

// " Best over all tokens: P (x dB); worst: Q (y dB)." from the SQNR bars' rows.
std::string sqnr_extremes(const json& rows) {
  const json* best = nullptr;
  const json* worst = nullptr;
  for (const json& r : rows) {
    if (r["tokens"] != "all tokens") continue;
    const double s = r["sqnr_db"].get<double>();
    if (!best || s > (*best)["sqnr_db"].get<double>()) best = &r;
    if (!worst || s < (*worst)["sqnr_db"].get<double>()) worst = &r;
  }
  if (!best) return "";
  return fmt::format(
      " Over all tokens the best is {} ({:.1f} dB), the worst {} ({:.1f} dB).",
      html::escape((*best)["policy"].get<std::string>()), (*best)["sqnr_db"].get<double>(),
      html::escape((*worst)["policy"].get<std::string>()), (*worst)["sqnr_db"].get<double>());
}

// Bars per policy, one per `group` side by side.
json grouped_bars(const std::string& description, const json& rows, const char* group,
                  const char* y, const char* y_title, const char* y_format) {
  json spec = html::vl_base(description);
  spec["data"] = {{"values", rows}};
  spec["mark"] = {{"type", "bar"}};
  json axis = json::object();
  if (*y_format) axis["format"] = y_format;
  spec["encoding"] = {
      {"x", {{"field", "policy"}, {"type", "nominal"}, {"sort", nullptr}, {"title", nullptr}}},
      {"xOffset", {{"field", group}, {"type", "nominal"}}},
      {"y", {{"field", y}, {"type", "quantitative"}, {"title", y_title}, {"axis", axis}}},
      {"color", {{"field", group}, {"type", "nominal"}, {"title", nullptr}}},
      {"tooltip",
       html::tooltip(
           {{{"field", "policy"}}, {{"field", group}}, {{"field", y}, {"format", ".4g"}}})}};
  return spec;
}

void quant_section(const ScanView& v, html::Page& page) {
  const auto q = v.root().find("quant");
  if (q == v.root().end() || !q->is_object()) return;
  const ReportReader& r = v.reader();
  json sqnr = json::array(), rates = json::array();
  std::string lossless;
  const auto policies = v.pooled_policies(*q);
  for (const auto& [policy, pooled_entry] : policies) {
    const json& p = *pooled_entry;
    for (const char* subset : {"all", "clean"}) {
      const std::string at = "quant.pooled." + policy + "." + subset;
      const json& m = r.member(p, subset, "quant.pooled." + policy);
      const double s = metric(v, m, at, "sqnr_db");
      if (std::isfinite(s)) {
        sqnr.push_back({{"policy", policy},
                        {"tokens", std::string(subset) == "all" ? "all tokens" : "clean tokens"},
                        {"sqnr_db", s},
                        {"source", at + ".sqnr_db"}});
      } else if (std::string(subset) == "all") {
        lossless += (lossless.empty() ? "" : ", ") + policy;
      }
      if (std::string(subset) != "all") continue;
      for (auto [key, label] : {std::pair{"clip_rate", "clipped"},
                                std::pair{"exceedance_rate", "beyond the calibrated threshold"}}) {
        const double x = metric(v, m, at, key);
        if (std::isfinite(x)) {
          rates.push_back(
              {{"policy", policy}, {"rate", label}, {"value", x}, {"source", at + "." + key}});
        }
      }
    }
  }
  page.add(
      "<section id=\"quant\"><h2>Quantization check</h2>\n<p>Every quantized tap's error "
      "pooled per policy (energy-weighted), over all evaluation tokens and over the tokens "
      "that are not massive-activation outliers (<q>clean</q>). docs/QUANT.md defines the "
      "policies.</p>\n");
  const json s1 = grouped_bars("Pooled SQNR per quantization policy, all vs clean tokens", sqnr,
                               "tokens", "sqnr_db", "SQNR (dB, higher is better)", "");
  page.chart({"chart-quant-sqnr", "SQNR per policy",
              "Signal-to-quantization-noise ratio of each policy, pooled over the quantized taps; "
              "left bar of each pair: all tokens, right: clean tokens (colour and order)." +
                  sqnr_extremes(sqnr) +
                  (lossless.empty()
                       ? std::string()
                       : " Lossless on these values (no bar): " + html::escape(lossless) + "."),
              s1});
  const json s2 = grouped_bars("Clip and exceedance rates per policy", rates, "rate", "value",
                               "fraction of values", ".2~%");
  page.chart({"chart-quant-rates", "Clipped vs beyond the threshold",
              "Per policy over all tokens: the fraction of values the format saturated (clip "
              "rate) and the fraction above the calibrated threshold (exceedance rate).",
              s2});
  // The tap where each policy does worst.
  const json& taps = r.array(r.member(*q, "taps", "quant"), "quant.taps");
  std::string t =
      "<table id=\"quant-worst\">\n<tr><th>policy</th><th>worst tap</th><th>SQNR all"
      "</th><th>SQNR clean</th><th>clip rate</th><th>exceedance rate</th></tr>\n";
  for (const auto& [policy, unused] : policies) {
    double worst = INFINITY;
    std::size_t wi = 0;
    for (std::size_t i = 0; i < taps.size(); ++i) {
      const std::string at = fmt::format("quant.taps[{}].policies", i);
      const json& ps = r.member(taps[i], "policies", fmt::format("quant.taps[{}]", i));
      const auto p = ps.find(policy);
      if (p == ps.end()) continue;
      const double s =
          metric(v, r.member(*p, "all", at + "." + policy), at + "." + policy + ".all", "sqnr_db");
      if (std::isfinite(s) && s < worst) {
        worst = s;
        wi = i;
      }
    }
    if (!std::isfinite(worst)) continue;
    const std::string at = fmt::format("quant.taps[{}].policies.{}", wi, policy);
    const json& p = taps[wi]["policies"][policy];
    const auto cell = [&](const char* subset, const char* key) {
      const double x = metric(v, r.member(p, subset, at), at + "." + subset, key);
      return std::isfinite(x) ? html::value_span(x, at + "." + subset + "." + key)
                              : std::string("–");
    };
    t += fmt::format(
        "<tr><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}"
        "</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
        html::escape(policy),
        html::escape(r.string(r.member(taps[wi], "tap", "quant.taps"), "quant.taps.tap")),
        cell("all", "sqnr_db"), cell("clean", "sqnr_db"), cell("all", "clip_rate"),
        cell("all", "exceedance_rate"));
  }
  page.add(t + "</table>\n</section>\n");
}

void experts_section(const ScanView& v, html::Page& page) {
  const ReportReader& r = v.reader();
  const json& experts = r.array(r.member(v.root(), "experts", ""), "experts");
  if (experts.empty()) return;
  json load = json::array(), maxima = json::array();
  std::string never;
  int64_t n_never = 0, n_experts = 0;
  for (std::size_t k = 0; k < experts.size(); ++k) {
    const std::string at = fmt::format("experts[{}]", k);
    const int64_t layer = r.integer(r.member(experts[k], "layer", at), at + ".layer");
    const json& n =
        r.array(r.member(experts[k], "tokens_per_expert", at), at + ".tokens_per_expert");
    for (std::size_t e = 0; e < n.size(); ++e) {
      const std::string src = fmt::format("{}.tokens_per_expert[{}]", at, e);
      const int64_t c = r.integer(n[e], src);
      ++n_experts;
      load.push_back({{"layer", layer}, {"expert", e}, {"tokens", c}, {"source", src}});
      if (c == 0) {
        ++n_never;
        if (n_never <= 40)
          never += fmt::format("{}layer {} expert {}", never.empty() ? "" : ", ", layer, e);
      }
    }
    const json& m =
        r.array(r.member(experts[k], "down_proj_in_absmax", at), at + ".down_proj_in_absmax");
    for (std::size_t e = 0; e < m.size(); ++e) {
      const std::string src = fmt::format("{}.down_proj_in_absmax[{}]", at, e);
      if (const std::optional<Loc> l = v.loc(m[e], src)) {
        maxima.push_back({{"layer", layer},
                          {"expert", e},
                          {"abs", std::fabs(l->value)},
                          {"value", l->value},
                          {"where", where_text(*l)},
                          {"source", src + ".value"}});
      }
    }
  }
  page.add("<section id=\"experts\"><h2>Experts</h2>\n");
  json s1 = html::vl_base("Tokens routed to each expert, layer by expert");
  s1["height"] = std::min<int64_t>(600, 22 * static_cast<int64_t>(experts.size()) + 40);
  s1["layer"] = json::array(
      {{{"data", {{"values", load}}},
        {"mark", "rect"},
        {"encoding",
         {{"x", {{"field", "expert"}, {"type", "ordinal"}}},
          {"y", {{"field", "layer"}, {"type", "ordinal"}}},
          {"color",
           {{"field", "tokens"}, {"type", "quantitative"}, {"scale", {{"scheme", "blues"}}}}},
          {"tooltip",
           html::tooltip({{{"field", "layer"}}, {{"field", "expert"}}, {{"field", "tokens"}}})}}}},
       {{"data", {{"values", load}}},
        {"transform", json::array({{{"filter", "datum.tokens == 0"}}})},
        {"mark", {{"type", "text"}, {"text", "\u2715"}, {"color", "#b91c1c"}, {"fontSize", 14}}},
        {"encoding",
         {{"x", {{"field", "expert"}, {"type", "ordinal"}}},
          {"y", {{"field", "layer"}, {"type", "ordinal"}}}}}}});
  page.chart(
      {"chart-expert-load", "Tokens per expert",
       fmt::format("Tokens routed to each expert (a token counts once for each of its "
                   "top-k experts). {} of {} experts received no token{}: calibration on "
                   "this text would never see them (marked \u2715).",
                   n_never, n_experts,
                   n_never ? " (" + html::escape(never) + (n_never > 40 ? ", …" : "") + ")" : ""),
       s1});
  if (!maxima.empty()) {
    json s2 = html::vl_base("Per-expert max |x| of the down projection's input");
    s2["height"] = s1["height"];
    s2["data"] = {{"values", maxima}};
    s2["mark"] = "rect";
    s2["encoding"] = {{"x", {{"field", "expert"}, {"type", "ordinal"}}},
                      {"y", {{"field", "layer"}, {"type", "ordinal"}}},
                      {"color",
                       {{"field", "abs"},
                        {"type", "quantitative"},
                        {"scale", {{"type", "log"}, {"scheme", "viridis"}}},
                        {"title", "max |x|"}}},
                      {"tooltip", html::tooltip({{{"field", "layer"}},
                                                 {{"field", "expert"}},
                                                 {{"field", "value"}, {"format", ".6g"}},
                                                 {{"field", "where"}}})}};
    page.chart({"chart-expert-max", "Per-expert maxima",
                "Largest |x| entering each expert's down projection (log colour); an expert "
                "without tokens has no cell.",
                s2});
  }
  page.add("</section>\n");
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
  categories_section(v, page);
  headroom_section(v, page);
  quant_section(v, page);
  experts_section(v, page);
  page.add("<footer class=\"note\"><p>Generated by maxact from <code>" + html::escape(file) +
           "</code>. Every number shown carries its place in the JSON report (hover a chart, or "
           "the data-source attribute of a table cell).</p></footer>\n");
  return page.render();
}

}  // namespace maxact
