#include "html/scan_sections.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace maxact::html {
using nlohmann::json;

namespace {

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
  return fmt::format(" Over all tokens the best is {} ({:.1f} dB), the worst {} ({:.1f} dB).",
                     escape((*best)["policy"].get<std::string>()), (*best)["sqnr_db"].get<double>(),
                     escape((*worst)["policy"].get<std::string>()),
                     (*worst)["sqnr_db"].get<double>());
}

// Bars per policy, one per `group` side by side.
json grouped_bars(const std::string& description, const json& rows, const char* group,
                  const char* y, const char* y_title, const char* y_format) {
  json spec = vl_base(description);
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
       tooltip({{{"field", "policy"}}, {{"field", group}}, {{"field", y}, {"format", ".4g"}}})}};
  return spec;
}

}  // namespace

void categories_section(const ScanView& v, Page& page) {
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
        tokens_html = int_span(r.integer(*tk, src), src);
      }
    }
    if (g.is_null()) {
      table += fmt::format(
          "<tr><td>{}</td><td class=\"n\">{}</td><td colspan=\"4\">nothing "
          "recorded</td></tr>\n",
          escape(name), tokens_html);
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
        escape(name), tokens_html, value_span(l->value, base + ".value"), escape(tap),
        where_html(*l, base + ".location"), v.context_html(*l));
  }
  table += "</table>\n";
  page.add("<section id=\"categories-section\"><h2>Per corpus category</h2>\n");
  json spec = vl_base("Peak |x| per corpus category");
  spec["data"] = {{"values", rows}};
  spec["mark"] = {{"type", "bar"}};
  spec["encoding"] = {
      {"y", {{"field", "category"}, {"type", "nominal"}, {"sort", "-x"}, {"title", nullptr}}},
      {"x",
       {{"field", "abs"}, {"type", "quantitative"}, {"title", "peak |x| over the study's taps"}}},
      {"tooltip", tooltip({{{"field", "category"}},
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
    extremes =
        fmt::format(" Highest: {} ({}); lowest: {} ({}).",
                    escape(hi["category"].get<std::string>()), num(hi["value"].get<double>()),
                    escape(lo["category"].get<std::string>()), num(lo["value"].get<double>()));
  }
  page.chart({"chart-categories", "Where each domain peaks",
              "The study's global max restricted to each category of the corpus; the table below "
              "gives the numbers and the tokens." +
                  extremes,
              spec});
  page.add(table + "</section>\n");
}

void headroom_section(const ScanView& v, Page& page) {
  std::string out =
      "<section id=\"headroom\"><h2>Headroom in FP16 and FP8</h2>\n<p>Per kind of tap: the "
      "fraction of values beyond the largest finite FP16 (65504) and FP8-E4M3 (448) values, and "
      "the static per-tensor FP8 scale its largest value implies (max |x| / 448). A value beyond "
      "a format's limit saturates (FP8) or overflows to infinity (FP16) unless scaled.</p>\n"
      "<table id=\"headroom-table\">\n<tr><th>kind</th><th>taps</th><th>values</th><th>beyond "
      "FP16</th><th>beyond FP8-E4M3</th><th>taps with a value beyond 448</th><th>largest |x| "
      "(signed)</th>"
      "<th>where</th><th>implied FP8 scale</th></tr>\n";
  for (const Headroom& h : headroom(v)) {
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
        escape(h.component), h.taps, h.count, frac(h.over_fp16), frac(h.over_fp8), h.taps_over_fp8,
        h.absmax_source.empty() ? "–" : value_span(h.value, h.absmax_source + ".value"),
        escape(h.absmax_tap), num(h.absmax / kFp8E4m3Max));
  }
  page.add(out + "</table>\n</section>\n");
}

void quant_section(const ScanView& v, Page& page) {
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
  page.chart(
      {"chart-quant-sqnr", "SQNR per policy",
       "Signal-to-quantization-noise ratio of each policy, pooled over the quantized taps; "
       "left bar of each pair: all tokens, right: clean tokens (colour and order)." +
           sqnr_extremes(sqnr) +
           (lossless.empty() ? std::string()
                             : " Lossless on these values (no bar): " + escape(lossless) + "."),
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
      return std::isfinite(x) ? value_span(x, at + "." + subset + "." + key) : std::string("–");
    };
    t += fmt::format(
        "<tr><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}"
        "</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
        escape(policy), escape(r.string(r.member(taps[wi], "tap", "quant.taps"), "quant.taps.tap")),
        cell("all", "sqnr_db"), cell("clean", "sqnr_db"), cell("all", "clip_rate"),
        cell("all", "exceedance_rate"));
  }
  page.add(t + "</table>\n</section>\n");
}

void experts_section(const ScanView& v, Page& page) {
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
  json s1 = vl_base("Tokens routed to each expert, layer by expert");
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
           tooltip({{{"field", "layer"}}, {{"field", "expert"}}, {{"field", "tokens"}}})}}}},
       {{"data", {{"values", load}}},
        {"transform", json::array({{{"filter", "datum.tokens == 0"}}})},
        {"mark", {{"type", "text"}, {"text", "\u2715"}, {"color", "#b91c1c"}, {"fontSize", 14}}},
        {"encoding",
         {{"x", {{"field", "expert"}, {"type", "ordinal"}}},
          {"y", {{"field", "layer"}, {"type", "ordinal"}}}}}}});
  page.chart({"chart-expert-load", "Tokens per expert",
              fmt::format("Tokens routed to each expert (a token counts once for each of its "
                          "top-k experts). {} of {} experts received no token{}: calibration on "
                          "this text would never see them (marked \u2715).",
                          n_never, n_experts,
                          n_never ? " (" + escape(never) + (n_never > 40 ? ", …" : "") + ")" : ""),
              s1});
  if (!maxima.empty()) {
    json s2 = vl_base("Per-expert max |x| of the down projection's input");
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
                      {"tooltip", tooltip({{{"field", "layer"}},
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

}  // namespace maxact::html
