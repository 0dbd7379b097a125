// SmoothQuant's act_scales from a scan report: per Linear input, per channel max |x|
// (docs/EXPORTS.md).
#include <fmt/format.h>

#include <set>

#include "export/report_reader.h"
#include "export/torch_writer.h"
#include "maxact/exports.h"
#include "maxact/safetensors.h"

namespace maxact {
using nlohmann::json;

namespace {

std::vector<float> channel_values(const ReportReader& rd, const json& obj, const char* key,
                                  const std::string& where, int64_t channels) {
  const std::string at = where + "." + key;
  const json& a = rd.array(rd.member(obj, key, where), at, channels);
  std::vector<float> out;
  out.reserve(a.size());
  for (std::size_t c = 0; c < a.size(); ++c) {
    if (a[c].is_null()) {
      rd.fail(fmt::format("{}[{}] is null: that channel saw no finite value", at, c));
    }
    out.push_back(static_cast<float>(rd.number(a[c], fmt::format("{}[{}]", at, c))));
  }
  return out;
}

std::string replace_expert(std::string t, std::size_t e) {
  const std::size_t at = t.find("{e}");
  return at == std::string::npos ? t : t.replace(at, 3, std::to_string(e));
}

}  // namespace

ActScales act_scales_from_report(const json& report, const std::string& file,
                                 const ActScalesOptions& options) {
  const ReportReader rd(report, file);
  ActScales out;
  std::set<std::string> seen;
  auto add = [&](std::string name, std::vector<int64_t> shape, std::vector<float> v) {
    if (!seen.insert(name).second) rd.fail("two taps feed Linear " + name);
    out.entries.push_back({std::move(name), std::move(shape), std::move(v)});
  };
  bool experts_left_out = false;
  for (const json& tap : rd.array(rd.member(report, "taps", ""), "taps")) {
    if (!tap.is_object() || !tap.contains("feeds")) continue;
    const std::string where = "tap " + rd.string(rd.member(tap, "hf_name", "taps[]"), "hf_name");
    const int64_t channels = rd.integer(rd.member(tap, "channels", where), where + ".channels");
    const json& stats = rd.member(tap, "stats", where);
    for (const json& feed : rd.array(tap["feeds"], where + ".feeds")) {
      const std::string module = rd.string(rd.member(feed, "module", where), where + ".module");
      const json& experts = rd.member(feed, "experts", where);
      if (experts.is_null()) {
        add(module, {channels}, channel_values(rd, stats, "channel_absmax", where, channels));
        if (options.min_max) {
          add(module + ":max", {channels},
              channel_values(rd, stats, "channel_max", where, channels));
          add(module + ":min", {channels},
              channel_values(rd, stats, "channel_min", where, channels));
        }
        continue;
      }
      // Routed experts: per expert from the layer's expert inputs, when the scan kept them.
      const int64_t layer = rd.integer(rd.member(tap, "layer", where), where + ".layer");
      const json* ex = nullptr;
      for (const json& e : rd.array(rd.member(report, "experts", ""), "experts")) {
        if (e.is_object() && e.contains("layer") && e["layer"] == layer) ex = &e;
      }
      if (ex == nullptr || !ex->contains("inputs")) {
        experts_left_out = true;
        continue;
      }
      const std::string key = rd.string(experts, where + ".experts");
      const std::string ewhere = fmt::format("experts[layer {}].inputs.{}", layer, key);
      const json& per = rd.array(rd.member((*ex)["inputs"], key.c_str(), ewhere), ewhere);
      std::vector<std::vector<float>> rows;
      for (std::size_t e = 0; e < per.size(); ++e) {
        rows.push_back(channel_values(rd, per[e], "channel_absmax",
                                      fmt::format("{}[{}]", ewhere, e), channels));
      }
      for (const json& t : rd.array(rd.member(feed, "expert_modules", where), where)) {
        const std::string tmpl = rd.string(t, where + ".expert_modules[]");
        if (tmpl.find("{e}") != std::string::npos) {
          for (std::size_t e = 0; e < rows.size(); ++e)
            add(replace_expert(tmpl, e), {channels}, rows[e]);
        } else {  // one fused tensor of every expert: one row each
          std::vector<float> all;
          for (const auto& r : rows) all.insert(all.end(), r.begin(), r.end());
          add(tmpl, {static_cast<int64_t>(rows.size()), channels}, std::move(all));
        }
      }
    }
  }
  if (out.entries.empty()) {
    rd.fail(
        "no Linear inputs in this report (a report of an older maxact, or --taps left every "
        "Linear input out)");
  }
  if (experts_left_out) {
    out.warnings.push_back(
        "the report has no per-expert inputs: routed experts' scales left out (scan with "
        "--expert-inputs)");
  }
  return out;
}

std::string act_scales_torch(const ActScales& s) {
  std::vector<TorchTensor> t;
  for (const ActScales::Entry& e : s.entries) t.push_back({e.name, e.shape, e.values});
  return torch_save_dict(t);
}

std::string act_scales_safetensors(const ActScales& s) {
  std::vector<TensorData> t;
  for (const ActScales::Entry& e : s.entries) {
    const auto* b = reinterpret_cast<const unsigned char*>(e.values.data());
    t.push_back({e.name, DType::kF32, e.shape, {b, b + e.values.size() * sizeof(float)}});
  }
  return safetensors_bytes(t, {{"format", "pt"}, {"producer", "maxact act_scales"}});
}

}  // namespace maxact
