#include "html/page.h"

#include <fmt/format.h>

#include <cctype>
#include <stdexcept>

#include "html/vega_assets.h"

namespace maxact::html {
using nlohmann::json;

namespace {

constexpr const char* kStyle = R"(
:root { color-scheme: light; --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --mark: #fff3b0; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0 auto; max-width: 1180px; padding: 16px 28px 48px; }
h1 { font-size: 1.5em; margin: 0.4em 0 0.2em; } h2 { font-size: 1.2em; margin: 1.6em 0 0.4em;
     border-bottom: 1px solid var(--line); padding-bottom: 4px; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid var(--line); padding: 3px 8px; vertical-align: top; }
th { background: #f6f8fa; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0 1.5em; } figcaption { color: var(--muted); max-width: 900px; margin-top: 4px; }
.ctx { font-family: ui-monospace, "DejaVu Sans Mono", monospace; white-space: pre; }
.ctx mark { background: var(--mark); outline: 1px solid #c9a400; }
.ws { color: #8c959f; } .note { color: var(--muted); } .warn { color: #9a3412; font-weight: 600; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 0.5em 0; }
dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; }
.big { font-size: 1.35em; font-weight: 650; }
nav a { margin-right: 12px; }
)";

// Inline <script> content ends at the first "</script" (any case). The libraries have none
// (checked, so a future version that has one fails loudly instead of breaking the page); the
// charts' JSON has no "<" at all: JSON reads \u003c as "<".
bool ends_script(std::string_view six) {
  std::string lower(six);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "script";
}

std::string_view checked_script(std::string_view s) {
  // "<!--" would switch the HTML parser into a state where "<script" nests.
  if (s.find("<!--") != std::string_view::npos) {
    throw std::logic_error("an inlined script contains \"<!--\"");
  }
  for (std::size_t i = s.find("</"); i != std::string_view::npos; i = s.find("</", i + 1)) {
    if (ends_script(s.substr(i + 2, 6))) {
      throw std::logic_error("an inlined script contains \"</script\"");
    }
  }
  return s;
}

std::string json_script(const json& j) {
  const std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '<') {
      out += "\\u003c";
    } else {
      out += c;
    }
  }
  return out;
}

constexpr const char* kBoot = R"(
(function () {
  var specs = JSON.parse(document.getElementById('maxact-charts').textContent);
  var views = {};
  var ids = Object.keys(specs);
  Promise.all(ids.map(function (id) {
    return vegaEmbed('#' + id, specs[id], {mode: 'vega-lite', renderer: 'svg', actions: false})
      .then(function (r) { views[id] = r.view; });
  })).then(function () {
    window.maxactViews = views;
    document.documentElement.setAttribute('data-charts-rendered', String(ids.length));
  }, function (e) {
    document.documentElement.setAttribute('data-charts-error', String(e));
    console.error('maxact: a chart failed to render: ' + e);
  });
})();
)";

}  // namespace

std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string num(double v) {
  return fmt::format("{:.6g}", v);
}

std::string value_span(double v, const std::string& source) {
  return fmt::format("<span class=\"num\" data-value=\"{}\"{}>{}</span>", v,
                     source.empty() ? "" : " data-source=\"" + escape(source) + "\"", num(v));
}

std::string int_span(int64_t v, const std::string& source) {
  return fmt::format("<span class=\"num\" data-value=\"{}\" data-source=\"{}\">{}</span>", v,
                     escape(source), v);
}

std::string visible(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') {
      out += "<span class=\"ws\">\u21b5</span>";
    } else if (c == '\t') {
      out += "<span class=\"ws\">\u2192</span>";
    } else if (c == '\r') {
      out += "<span class=\"ws\">\u240d</span>";
    } else {
      out += escape(std::string_view(&c, 1));
    }
  }
  return out;
}

void Page::chart(Chart c) {
  body_ += fmt::format(
      "<figure id=\"fig-{0}\"><h3>{1}</h3><div class=\"chart\" id=\"{0}\" role=\"img\" "
      "aria-label=\"{1}\"></div><figcaption>{2}</figcaption></figure>\n",
      escape(c.id), escape(c.title), c.caption);
  specs_[c.id] = std::move(c.spec);
}

std::string Page::render() const {
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta name=\"generator\" content=\"maxact\">\n<title>{}</title>\n<style>{}</style>\n",
      escape(title_), kStyle);
  for (std::string_view js : vega_scripts()) {
    out += "<script>";
    out += checked_script(js);
    out += "</script>\n";
  }
  out += "</head>\n<body>\n";
  out += body_;
  out += "<script type=\"application/json\" id=\"maxact-charts\">";
  out += json_script(specs_);
  out += "</script>\n<script>";
  out += kBoot;
  out +=
      "</script>\n<footer class=\"note\"><p>Charts drawn with Vega, Vega-Lite and vega-embed "
      "(BSD-3-Clause, University of Washington Interactive Data Lab), which bundle d3 and other "
      "packages; their licences travel with this page (<code>template#third-party-licenses</code>"
      " in its source).</p></footer>\n<template id=\"third-party-licenses\"><pre>";
  out += escape(vega_notice());
  out += "</pre></template>\n</body>\n</html>\n";
  return out;
}

json vl_base(const std::string& description) {
  return {{"$schema", "https://vega.github.io/schema/vega-lite/v6.json"},
          {"description", description},
          {"width", 720},
          {"config", {{"font", "system-ui, sans-serif"}, {"view", {{"stroke", nullptr}}}}}};
}

json tooltip(std::vector<json> fields) {
  fields.push_back({{"field", "source"}, {"title", "JSON"}});
  return fields;
}

}  // namespace maxact::html
