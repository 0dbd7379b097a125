#include "export/fp8_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "export/report_reader.h"
#include "io/json_util.h"
#include "maxact/error.h"

namespace maxact::fp8 {
using nlohmann::json;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The calibrated |x| of a tap under the rule: the scan's max |x|, or the quantization check's
// clip quantile / INT8 MSE threshold of that tap.
class Calibrated {
 public:
  Calibrated(const ReportReader& rd, ScaleRule rule) : rd_(rd), rule_(rule) {
    if (rule == ScaleRule::kMax) return;
    const json& root = rd.root();
    if (!root.contains("quant") || root["quant"].is_null()) {
      rd.fail("--scale quantile / mse need a report of a scan with --quant");
    }
    for (const json& t : rd.array(rd.member(root["quant"], "taps", "quant"), "quant.taps")) {
      by_tap_[rd.string(rd.member(t, "hf_name", "quant.taps[]"), "quant.taps[].hf_name")] = &t;
    }
  }

  float absmax(const json& tap, const std::string& where) const {
    const std::string name = rd_.string(rd_.member(tap, "hf_name", where), where + ".hf_name");
    if (rule_ == ScaleRule::kMax) {
      const json& a = rd_.member(rd_.member(tap, "stats", where), "absmax", where + ".stats");
      if (a.is_null()) rd_.fail(where + " saw no finite value: no scale can come from it");
      return std::fabs(static_cast<float>(rd_.number(rd_.member(a, "value", where), where)));
    }
    const auto it = by_tap_.find(name);
    if (it == by_tap_.end()) {
      rd_.fail(
          fmt::format("{} has no calibration in the quant section: scan with --quant and "
                      "--quant-taps including it",
                      where));
    }
    const char* key = rule_ == ScaleRule::kQuantile ? "quantile" : "mse_threshold";
    const std::string at = fmt::format("quant tap {}.calibration", name);
    const json& v = rd_.member(rd_.member(*it->second, "calibration", at), key, at);
    if (v.is_null()) rd_.fail(fmt::format("{}.{} is null", at, key));
    return static_cast<float>(rd_.number(v, at + "." + key));
  }

 private:
  const ReportReader& rd_;
  ScaleRule rule_;
  std::map<std::string, const json*> by_tap_;
};

// A Linear weight the report names, as the checkpoint stores it.
const TensorView& linear_weight(const ReportReader& rd, const Model& m, const std::string& module) {
  const std::string canon = canonical_tensor_name(module + ".weight");
  const BoundTensor* b = canon.empty() ? nullptr : m.find(canon);
  if (b == nullptr || b->tensor == nullptr) {
    rd.fail(fmt::format("names Linear {}, which {} does not have: a report of another model?",
                        module, m.dir().string()));
  }
  const TensorView& t = *b->tensor;
  if (t.shape.size() != 2 ||
      !(t.dtype == DType::kBF16 || t.dtype == DType::kF16 || t.dtype == DType::kF32)) {
    throw Error(ErrorCode::kUnsupported,
                fmt::format("{}: {} is {} of {} dimensions: only bf16 / fp16 / fp32 Linear "
                            "weights can be cast to FP8",
                            m.dir().string(), t.name, dtype_name(t.dtype), t.shape.size()));
  }
  return t;
}

}  // namespace

Plan make_plan(const json& report, const std::string& report_file, const Model& m,
               const Fp8Options& o) {
  const ReportReader rd(report, report_file);
  const ModelSpec& s = m.spec();
  const ModuleNames& n = s.names;
  const std::string family =
      rd.string(rd.member(rd.member(report, "model", ""), "family", "model"), "model.family");
  if (family != s.family) {
    rd.fail(fmt::format("is a report of a {} model, {} holds a {} model", family, m.dir().string(),
                        s.family));
  }
  if (s.quantization != Quantization::kNone) {
    throw Error(ErrorCode::kUnsupported,
                m.dir().string() +
                    ": the checkpoint is quantized already (FP8 block or MXFP4); "
                    "an FP8 export starts from bf16 / fp16 / fp32 weights");
  }
  const Calibrated calibrated(rd, o.scale), kv_calibrated(rd, o.kv_scale);
  Plan p;
  for (const json& tap : rd.array(rd.member(report, "taps", ""), "taps")) {
    if (!tap.is_object()) continue;
    const std::string name = rd.string(rd.member(tap, "hf_name", "taps[]"), "taps[].hf_name");
    const std::string where = "tap " + name;
    if (ends_with(name, ":k_cache") || ends_with(name, ":v_cache")) {
      const std::string attn = name.substr(0, name.rfind(':'));
      auto it = std::find_if(p.kv.begin(), p.kv.end(),
                             [&](const KvScales& k) { return k.attn_disk == attn; });
      if (it == p.kv.end()) it = p.kv.insert(p.kv.end(), KvScales{attn, "", 0, 0});
      (ends_with(name, ":k_cache") ? it->k_absmax : it->v_absmax) =
          kv_calibrated.absmax(tap, where);
      continue;
    }
    if (o.kv_only || !tap.contains("feeds")) continue;
    // Only for the Linears cast: a tap feeding kept ones (the final norm) needs no calibration.
    std::optional<float> calibrated_amax;
    const auto amax = [&] {
      if (!calibrated_amax) calibrated_amax = calibrated.absmax(tap, where);
      return *calibrated_amax;
    };
    for (const json& feed : rd.array(tap["feeds"], where + ".feeds")) {
      const std::string module = rd.string(rd.member(feed, "module", where), where + ".module");
      // Routers, the shared expert's gate and lm_head stay in their dtype, as FP8 recipes leave
      // them (llm-compressor's ignore lists, ModelOpt's exclude_modules).
      if (module == "lm_head" || ends_with(module, "." + n.moe_part(n.router)) ||
          ends_with(module, "." + n.moe_part(n.shared_expert_gate))) {
        const BoundTensor* b = m.find(canonical_tensor_name(module + ".weight"));
        if (b != nullptr && b->tensor != nullptr) {
          const std::string& disk = b->tensor->name;
          p.ignored_modules.push_back(disk.substr(0, disk.size() - 7));  // minus ".weight"
        } else if (module == "lm_head") {
          p.ignored_modules.push_back("lm_head");  // tied: HF still has the module
        }
        continue;
      }
      if (rd.member(feed, "experts", where).is_null()) {
        p.weights[linear_weight(rd, m, module).name] = amax();
        continue;
      }
      for (const json& t : rd.array(rd.member(feed, "expert_modules", where), where)) {
        const std::string tmpl = rd.string(t, where + ".expert_modules[]");
        const std::size_t at = tmpl.find("{e}");
        if (at == std::string::npos) {
          throw Error(ErrorCode::kUnsupported,
                      fmt::format("{}: the experts are stored fused ({}): an FP8 export writes "
                                  "per-expert Linears only; --kv-only writes the KV-cache scales",
                                  m.dir().string(), tmpl));
        }
        // One activation scale for every expert of the layer: vLLM's per-tensor MoE kernels
        // take the largest anyway ("Use the max").
        for (int e = 0; e < s.moe.num_experts; ++e) {
          std::string expert = tmpl;
          expert.replace(at, 3, std::to_string(e));
          p.weights[linear_weight(rd, m, expert).name] = amax();
        }
      }
    }
  }
  // KV scales sit on the attention module; its checkpoint name follows its k (or qkv) weight's.
  for (KvScales& k : p.kv) {
    const std::string part = s.attention.fused_qkv ? n.qkv : n.k;
    if (o.format == Fp8Format::kModelOpt && s.attention.fused_qkv) {
      throw Error(ErrorCode::kUnsupported,
                  "ModelOpt names KV scales after k_proj / v_proj, which this model's fused " +
                      part + " does not have: use --format compressed-tensors");
    }
    const std::string& disk = linear_weight(rd, m, k.attn_disk + "." + part).name;
    k.anchor_disk = disk;
    k.attn_disk = disk.substr(0, disk.size() - part.size() - 8);  // minus ".<part>.weight"
  }
  if (o.kv_only && p.kv.empty()) {
    rd.fail("has no KV-cache taps (:k_cache / :v_cache): nothing to export with --kv-only");
  }
  if (!o.kv_only && p.weights.empty()) {
    rd.fail("has no Linear inputs (--taps left them out, or a report of an older maxact)");
  }
  // Every Linear of the text model must be cast or kept: vLLM applies the scheme to each Linear
  // not ignored, and refuses a fused group (q/k/v, gate/up, a layer's experts) cast in part.
  if (!o.kv_only) {
    std::vector<std::string> uncovered;
    for (const auto& [name, b] : m.bound()) {
      if (b.req == nullptr || !b.req->linear || b.tensor == nullptr) continue;
      const std::string& disk = b.tensor->name;
      const std::string module = disk.substr(0, disk.size() - 7);  // minus ".weight"
      if (p.weights.count(disk) == 0 &&
          std::find(p.ignored_modules.begin(), p.ignored_modules.end(), module) ==
              p.ignored_modules.end()) {
        uncovered.push_back(module);
      }
    }
    if (!uncovered.empty()) {
      rd.fail(
          fmt::format("has no input statistics for {} Linear(s) of the model ({}{}): scan "
                      "without --taps, or with every Linear input selected",
                      uncovered.size(), uncovered.front(), uncovered.size() > 1 ? ", ..." : ""));
    }
  }
  // Linears of other towers (vision, MTP) stay too; vLLM must be told, or it expects FP8 there.
  for (const std::string& t : m.ignored_tensors()) {
    const TensorView* v = m.checkpoint().find(t);
    if (v != nullptr && v->shape.size() == 2 && ends_with(t, ".weight")) {
      p.ignored_modules.push_back(t.substr(0, t.size() - 7));
    }
  }
  if (report.contains("experts") && report["experts"].is_array() && !o.kv_only) {
    for (const json& e : report["experts"]) {
      if (!e.is_object() || !e.contains("tokens_per_expert")) continue;
      const json& load = e["tokens_per_expert"];
      for (std::size_t x = 0; load.is_array() && x < load.size(); ++x) {
        if (load[x] == 0) {
          p.warnings.push_back(fmt::format(
              "layer {} expert {} received no token: its input scale is the layer's, its "
              "activations were never seen",
              e.contains("layer") ? json_excerpt(e["layer"]) : "?", x));
        }
      }
    }
  }
  return p;
}

}  // namespace maxact::fp8
