// A scan report's JSON (docs/SCAN_JSON.md) read for the pages and the model card: the values they
// show, each with the JSON path it came from. Reads are checked (ReportReader): a missing key or a
// wrong type is an error naming the file and the place.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "export/report_reader.h"

namespace maxact::html {

struct Loc {
  double value = 0;  // signed
  int64_t sample = -1, position = -1, token = -1, channel = -1;
  std::string token_text;
  std::string source;  // JSON path of the value
};

struct TapRef {
  std::size_t index = 0;  // into "taps"
  std::string name, component;
  int layer = -1;  // -1 outside the stack
  int64_t channels = 0;
  const nlohmann::json* stats = nullptr;
  std::string path() const;  // "taps[i]"
};

// The study's components: what its M is taken over.
bool study_component(const std::string& component);

class ScanView {
 public:
  ScanView(const nlohmann::json& root, const std::string& file);

  const ReportReader& reader() const { return r_; }
  const nlohmann::json& root() const { return r_.root(); }
  const std::string& file() const { return file_; }
  const std::vector<TapRef>& taps() const { return taps_; }
  int num_layers() const { return num_layers_; }
  std::string model() const;
  std::string family() const;
  // The report's "global_max" (null when nothing was recorded), with its tap.
  std::optional<Loc> global_max(std::string* tap = nullptr, std::string* component = nullptr,
                                int* layer = nullptr) const;
  // An object shaped like "global_max" (value, tap, component, layer, location) at `where`.
  std::optional<Loc> peak(const nlohmann::json& g, const std::string& where, std::string* tap,
                          std::string* component, int* layer) const;
  // A location object (stats.absmax, a top entry...); nullopt when null.
  std::optional<Loc> loc(const nlohmann::json& v, const std::string& where) const;
  // The tap's absmax, located.
  std::optional<Loc> absmax(const TapRef& t) const;
  // The token and its neighbours as HTML (token_contexts), or the token text alone.
  std::string context_html(const Loc& l) const;
  // The numbers of a stats member (count, over_fp16...).
  int64_t count(const TapRef& t, const char* key) const;
  double quantile_estimate(const TapRef& t, const char* q) const;
  // The quantization check's pooled metrics per policy, in the order the check ran them
  // (quant.policies), then any others.
  std::vector<std::pair<std::string, const nlohmann::json*>> pooled_policies(
      const nlohmann::json& quant) const;

 private:
  ReportReader r_;
  std::string file_;
  std::vector<TapRef> taps_;
  int num_layers_ = 0;
};

// "sample 3, position 17, channel 80", each number with its JSON path under `base`.
std::string where_html(const Loc& l, const std::string& base);
// The same in plain text with the token, for tooltips.
std::string where_text(const Loc& l);
// A string member, or `fallback` when absent or not a string (fields older reports lack).
std::string string_or(const nlohmann::json& o, const char* key,
                      const char* fallback = "not recorded");

// Per layer: the peaks a layer-wise plot draws (Sun et al.'s layer plot): residual stream,
// attention output, MLP output, the largest Linear input, and the residual stream's median and
// 99.9 % quantile (the study's interpolated estimates).
struct LayerPoint {
  int layer = 0;
  std::string series, tap;
  Loc at;  // value: signed for maxima, the estimate for quantiles
};
std::vector<LayerPoint> layer_points(const ScanView& v);
// The series names, in legend order.
extern const char* const kSeriesResidual;
extern const char* const kSeriesAttention;
extern const char* const kSeriesMlp;
extern const char* const kSeriesLinearInput;
extern const char* const kSeriesMedian;
extern const char* const kSeriesQ999;

// Per component (tap class): how far its values reach beyond the FP16 and FP8-E4M3 limits.
struct Headroom {
  std::string component;
  int64_t taps = 0, count = 0, over_fp16 = 0, over_fp8 = 0;
  int64_t taps_over_fp8 = 0;
  double absmax = 0;  // largest |x| of the class
  double value = 0;   // that value, signed
  std::string absmax_tap, absmax_source;
};
std::vector<Headroom> headroom(const ScanView& v);

inline constexpr double kFp16Max = 65504.0;
inline constexpr double kFp8E4m3Max = 448.0;

}  // namespace maxact::html
