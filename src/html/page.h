// An HTML page with Vega-Lite charts, self-contained: styles, plotting code and every chart's
// data inline, nothing fetched when it opens. The scan report, the comparison page and their
// tests share this skeleton: every chart is a <figure> with a text caption, rendered as SVG by
// vega-embed; when all have rendered the page sets data-charts-rendered on <html>.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace maxact::html {

// Text and attribute values.
std::string escape(std::string_view s);
// A number as the terminal summary prints it (6 significant digits).
std::string num(double v);
// A number a reader can check against the JSON: the shown text plus the exact value in
// data-value (shortest round-trip form) and, when given, the JSON path it came from.
std::string value_span(double v, const std::string& source = "");
std::string int_span(int64_t v, const std::string& source);
// A located token: its text with visible whitespace and its context from the report's
// token_contexts ("" when the report has none).
std::string visible(std::string_view text);

struct Chart {
  std::string id;       // element id, unique in the page
  std::string title;    // the figure's heading
  std::string caption;  // HTML: what it shows, the key numbers in words, where they come from
  nlohmann::json spec;  // Vega-Lite, data inline
};

class Page {
 public:
  explicit Page(std::string title) : title_(std::move(title)) {}
  // Raw HTML, already escaped.
  void add(std::string html) { body_ += std::move(html); }
  void chart(Chart c);
  // The complete document.
  std::string render() const;

 private:
  std::string title_, body_;
  nlohmann::json specs_ = nlohmann::json::object();
};

// The chart kinds the pages draw, sized and labelled alike. Every datum's "source" field names
// the JSON it came from; tooltips show it.
nlohmann::json vl_base(const std::string& description);
// A tooltip of these fields followed by the datum's JSON path.
nlohmann::json tooltip(std::vector<nlohmann::json> fields);

}  // namespace maxact::html
