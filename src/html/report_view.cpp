#include "html/report_view.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "html/page.h"

namespace maxact::html {
using nlohmann::json;

const char* const kSeriesResidual = "residual stream (hidden)";
const char* const kSeriesAttention = "attention output";
const char* const kSeriesMlp = "MLP output";
const char* const kSeriesLinearInput = "largest Linear input";
const char* const kSeriesMedian = "residual median |x|";
const char* const kSeriesQ999 = "residual 99.9 % quantile";

std::string TapRef::path() const {
  return fmt::format("taps[{}]", index);
}

namespace {
// Far beyond any model; what keeps arithmetic on them from overflowing.
constexpr int64_t kMaxLayers = 100000;
constexpr int64_t kMaxChannels = int64_t{1} << 32;
}  // namespace

bool study_component(const std::string& c) {
  return c == "embedding" || c == "hidden" || c == "attention" || c == "mlp" || c == "final_norm";
}

ScanView::ScanView(const json& root, const std::string& file) : r_(root, file), file_(file) {
  if (!root.is_object()) r_.fail("not a JSON object (is this a maxact scan report?)");
  const auto schema = root.find("schema");
  if (schema == root.end() || *schema != "maxact.scan") {
    r_.fail("not a maxact scan report (schema maxact.scan)");
  }
  const json& taps = r_.array(r_.member(root, "taps", ""), "taps");
  int max_layer = -1;
  for (std::size_t i = 0; i < taps.size(); ++i) {
    const std::string at = fmt::format("taps[{}]", i);
    const json& t = taps[i];
    TapRef ref;
    ref.index = i;
    ref.name = r_.string(r_.member(t, "name", at), at + ".name");
    ref.component = r_.string(r_.member(t, "component", at), at + ".component");
    const json& layer = r_.member(t, "layer", at);
    if (!layer.is_null()) {
      const int64_t l = r_.integer(layer, at + ".layer");
      if (l < 0 || l > kMaxLayers) r_.fail(fmt::format("{}.layer {} is out of range", at, l));
      ref.layer = static_cast<int>(l);
    }
    ref.channels = r_.integer(r_.member(t, "channels", at), at + ".channels");
    if (ref.channels < 0 || ref.channels > kMaxChannels) {
      r_.fail(fmt::format("{}.channels {} is out of range", at, ref.channels));
    }
    const json& stats = r_.member(t, "stats", at);
    if (!stats.is_object()) r_.fail(at + ".stats must be an object");
    ref.stats = &stats;
    max_layer = std::max(max_layer, ref.layer);
    taps_.push_back(std::move(ref));
  }
  num_layers_ = max_layer + 1;
  const json& model = r_.member(root, "model", "");
  if (const auto n = model.find("num_layers"); n != model.end()) {
    const int64_t layers = r_.integer(*n, "model.num_layers");
    if (layers < 0 || layers > kMaxLayers) {
      r_.fail(fmt::format("model.num_layers {} is out of range", layers));
    }
    num_layers_ = std::max(num_layers_, static_cast<int>(layers));
  }
}

std::string ScanView::model() const {
  return r_.string(r_.member(r_.member(root(), "model", ""), "argument", "model"),
                   "model.argument");
}

std::string ScanView::family() const {
  return r_.string(r_.member(r_.member(root(), "model", ""), "family", "model"), "model.family");
}

std::optional<Loc> ScanView::loc(const json& v, const std::string& where) const {
  if (v.is_null()) return std::nullopt;
  if (!v.is_object()) r_.fail(where + " must be an object or null");
  Loc l;
  l.source = where;
  l.value = r_.number(r_.member(v, "value", where), where + ".value");
  for (auto [key, out] : {std::pair{"sample", &l.sample}, std::pair{"position", &l.position},
                          std::pair{"token", &l.token}, std::pair{"channel", &l.channel}}) {
    *out = r_.integer(r_.member(v, key, where), where + "." + key);
  }
  if (const auto t = v.find("token_text"); t != v.end()) {
    l.token_text = r_.string(*t, where + ".token_text");
  }
  return l;
}

std::optional<Loc> ScanView::global_max(std::string* tap, std::string* component,
                                        int* layer) const {
  return peak(r_.member(root(), "global_max", ""), "global_max", tap, component, layer);
}

std::optional<Loc> ScanView::peak(const json& g, const std::string& where, std::string* tap,
                                  std::string* component, int* layer) const {
  if (g.is_null()) return std::nullopt;
  json located = r_.member(g, "location", where);
  if (!located.is_object()) r_.fail(where + ".location must be an object");
  located["value"] = r_.member(g, "value", where);
  std::optional<Loc> l = loc(located, where);
  if (tap) *tap = r_.string(r_.member(g, "tap", where), where + ".tap");
  if (component) {
    *component = r_.string(r_.member(g, "component", where), where + ".component");
  }
  if (layer) {
    const json& lj = r_.member(g, "layer", where);
    *layer = -1;
    if (!lj.is_null()) {
      const int64_t n = r_.integer(lj, where + ".layer");
      if (n < 0 || n > kMaxLayers) r_.fail(fmt::format("{}.layer {} is out of range", where, n));
      *layer = static_cast<int>(n);
    }
  }
  return l;
}

std::optional<Loc> ScanView::absmax(const TapRef& t) const {
  return loc(r_.member(*t.stats, "absmax", t.path() + ".stats"), t.path() + ".stats.absmax");
}

std::string ScanView::context_html(const Loc& l) const {
  const auto ctx = root().find("token_contexts");
  if (ctx != root().end() && ctx->is_object()) {
    const auto it = ctx->find(fmt::format("{}:{}", l.sample, l.position));
    if (it != ctx->end() && it->is_object()) {
      const std::string where = fmt::format("token_contexts[\"{}:{}\"]", l.sample, l.position);
      const auto part = [&](const char* k) { return r_.string(r_.member(*it, k, where), where); };
      return fmt::format("<span class=\"ctx\">{}<mark>{}</mark>{}</span>", visible(part("before")),
                         visible(part("token")), visible(part("after")));
    }
  }
  return fmt::format("<span class=\"ctx\"><mark>{}</mark></span>", visible(l.token_text));
}

int64_t ScanView::count(const TapRef& t, const char* key) const {
  return r_.integer(r_.member(*t.stats, key, t.path() + ".stats"), t.path() + ".stats." + key);
}

double ScanView::quantile_estimate(const TapRef& t, const char* q) const {
  const std::string at = t.path() + ".stats.abs_quantile_estimates";
  const json& e = r_.member(*t.stats, "abs_quantile_estimates", t.path() + ".stats");
  const json& v = r_.member(e, q, at);
  return v.is_null() ? std::nan("") : r_.number(v, at + "." + q);
}

std::vector<std::pair<std::string, const json*>> ScanView::pooled_policies(
    const json& quant) const {
  const json& pooled = r_.member(quant, "pooled", "quant");
  if (!pooled.is_object()) r_.fail("quant.pooled must be an object");
  std::vector<std::pair<std::string, const json*>> out;
  const auto add = [&](const std::string& p) {
    const auto it = pooled.find(p);
    const bool seen =
        std::any_of(out.begin(), out.end(), [&](const auto& e) { return e.first == p; });
    if (it != pooled.end() && !seen) out.emplace_back(p, &*it);
  };
  if (const auto order = quant.find("policies"); order != quant.end() && order->is_array()) {
    for (const json& p : *order) {
      if (p.is_string()) add(p.get<std::string>());
    }
  }
  for (const auto& [p, unused] : pooled.items()) add(p);
  return out;
}

// "sample 3, position 17, channel 80" with each number traceable.
std::string where_html(const Loc& l, const std::string& base) {
  return fmt::format("sample {}, position {}, channel {}", int_span(l.sample, base + ".sample"),
                     int_span(l.position, base + ".position"),
                     int_span(l.channel, base + ".channel"));
}

std::string where_text(const Loc& l) {
  return fmt::format(
      "sample {}, position {}, token {} {}, channel {}", l.sample, l.position, l.token,
      json(l.token_text).dump(-1, ' ', false, json::error_handler_t::replace), l.channel);
}

std::string string_or(const json& o, const char* key, const char* fallback) {
  const auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
}

std::vector<LayerPoint> layer_points(const ScanView& v) {
  // Per (layer, series): the tap with the largest |x|.
  std::map<std::pair<int, std::string>, LayerPoint> best;
  const auto offer = [&](const TapRef& t, const char* series) {
    const std::optional<Loc> a = v.absmax(t);
    if (!a) return;
    auto [it, fresh] = best.try_emplace({t.layer, series});
    if (fresh || std::fabs(a->value) > std::fabs(it->second.at.value)) {
      it->second = {t.layer, series, t.name, *a};
    }
  };
  std::vector<LayerPoint> out;
  for (const TapRef& t : v.taps()) {
    if (t.layer < 0) continue;
    if (t.component == "hidden") {
      offer(t, kSeriesResidual);
      for (auto [series, q] : {std::pair{kSeriesMedian, "0.5"}, std::pair{kSeriesQ999, "0.999"}}) {
        const double e = v.quantile_estimate(t, q);
        if (!std::isfinite(e)) continue;
        Loc l;
        l.value = e;
        l.source = fmt::format("{}.stats.abs_quantile_estimates[\"{}\"]", t.path(), q);
        out.push_back({t.layer, series, t.name, l});
      }
    } else if (t.component == "attention") {
      offer(t, kSeriesAttention);
    } else if (t.component == "mlp") {
      offer(t, kSeriesMlp);
    } else if (t.component == "linear_input") {
      offer(t, kSeriesLinearInput);
    }
  }
  for (auto& [key, p] : best) out.push_back(std::move(p));
  std::stable_sort(out.begin(), out.end(),
                   [](const LayerPoint& a, const LayerPoint& b) { return a.layer < b.layer; });
  return out;
}

std::vector<Headroom> headroom(const ScanView& v) {
  std::vector<Headroom> out;
  for (const TapRef& t : v.taps()) {
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const Headroom& h) { return h.component == t.component; });
    if (it == out.end()) {
      out.push_back({});
      it = out.end() - 1;
      it->component = t.component;
    }
    ++it->taps;
    it->count += v.count(t, "count");
    it->over_fp16 += v.count(t, "over_fp16");
    const int64_t f8 = v.count(t, "over_fp8_e4m3");
    it->over_fp8 += f8;
    it->taps_over_fp8 += f8 > 0;
    if (const std::optional<Loc> a = v.absmax(t); a && std::fabs(a->value) > it->absmax) {
      it->absmax = std::fabs(a->value);
      it->value = a->value;
      it->absmax_tap = t.name;
      it->absmax_source = a->source;
    }
  }
  return out;
}

}  // namespace maxact::html
