// `maxact compare --format study`: the study's quant_sanity_summary.json, as summarize() in its
// quant_sanity_check.py (clx1415926/Max_act_llm) computes it, from its per-model
// `<model>_quant_sanity.json` files or from maxact scan reports with a quantization check.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "maxact/error.h"
#include "maxact/int128.h"
#include "maxact/quant_report.h"
#include "maxact/scan_job.h"

namespace maxact {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

// What summarize() reads of one metrics row. A null number is NaN: maxact writes null where a
// value is not finite (the study writes NaN or Infinity, which JSON cannot hold).
struct MetricRow {
  std::string layer, policy;
  uint64_t count = 0;
  double rel_rmse = kNan, rel_mae = kNan, clip_rate = kNan, sqnr_db = kNan;
};

struct ModelRows {
  json model_name, family, role, reference_global_max_abs;
  std::vector<MetricRow> metrics;  // in the file's order
};

// Reads fields of one input file; every message names the file and the field.
class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw Error(ErrorCode::kOption, path_ + ": " + field + ": " + what);
  }
  [[noreturn]] void wrong(const std::string& field, const char* expected, const json& v) const {
    fail(field, fmt::format("expected {}, found {}", expected,
                            quote_untrusted(v.dump(-1, ' ', false, json::error_handler_t::replace),
                                            40, false)));
  }
  const json& at(const json& obj, const std::string& key, const std::string& field) const {
    const auto it = obj.find(key);
    if (it == obj.end()) fail(field, "missing");
    return *it;
  }
  const json& object(const json& obj, const std::string& key, const std::string& field) const {
    const json& v = at(obj, key, field);
    if (!v.is_object()) wrong(field, "an object", v);
    return v;
  }
  const json& array(const json& obj, const std::string& key, const std::string& field) const {
    const json& v = at(obj, key, field);
    if (!v.is_array()) wrong(field, "an array", v);
    return v;
  }
  std::string string(const json& obj, const std::string& key, const std::string& field) const {
    const json& v = at(obj, key, field);
    if (!v.is_string()) wrong(field, "a string", v);
    return v.get<std::string>();
  }
  const json& string_or_null(const json& obj, const std::string& key,
                             const std::string& field) const {
    const json& v = at(obj, key, field);
    if (!v.is_string() && !v.is_null()) wrong(field, "a string or null", v);
    return v;
  }
  double number(const json& obj, const std::string& key, const std::string& field) const {
    const json& v = at(obj, key, field);
    if (!v.is_number()) wrong(field, "a number", v);
    return v.get<double>();
  }
  double number_or_null(const json& obj, const std::string& key, const std::string& field) const {
    const json& v = at(obj, key, field);
    if (v.is_null()) return kNan;
    if (!v.is_number()) wrong(field, "a number or null", v);
    return v.get<double>();
  }
  uint64_t count(const json& obj, const std::string& key, const std::string& field) const {
    const json& v = at(obj, key, field);
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
      wrong(field, "a non-negative integer", v);
    }
    return v.get<uint64_t>();
  }

 private:
  const std::string& path_;
};

// A study `<model>_quant_sanity.json`: the fields summarize() reads, nothing else required.
ModelRows from_study_file(const std::string& path, const json& f) {
  const Reader in(path);
  ModelRows m;
  m.model_name = in.string(f, "model_name", "model_name");
  m.family = in.string_or_null(f, "family", "family");
  m.role = in.string_or_null(f, "role", "role");
  const json& ref = in.at(f, "reference_global_max_abs", "reference_global_max_abs");
  if (!ref.is_number() && !ref.is_null()) {
    in.wrong("reference_global_max_abs", "a number or null", ref);
  }
  m.reference_global_max_abs = ref;
  const json& metrics = in.array(f, "metrics", "metrics");
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    const std::string at = fmt::format("metrics[{}]", i);
    const json& r = metrics[i];
    if (!r.is_object()) in.wrong(at, "an object", r);
    MetricRow row;
    row.policy = in.string(r, "policy", at + ".policy");
    row.count = in.count(r, "count", at + ".count");
    row.rel_rmse = in.number_or_null(r, "rel_rmse", at + ".rel_rmse");
    row.rel_mae = in.number_or_null(r, "rel_mae", at + ".rel_mae");
    row.clip_rate = in.number_or_null(r, "clip_rate", at + ".clip_rate");
    row.sqnr_db = in.number_or_null(r, "sqnr_db", at + ".sqnr_db");
    m.metrics.push_back(std::move(row));
  }
  return m;
}

// A maxact scan report: the rows study_quant_sanity would write for the same run. Every number
// there is the report's own (JSON doubles round-trip exactly), so both paths give the same bits.
ModelRows from_scan_report(const std::string& path, const json& r) {
  const Reader in(path);
  if (!r.contains("quant")) {
    in.fail("quant", "missing: the report has no quantization check (maxact scan --quant)");
  }
  const json& model = in.object(r, "model", "model");
  const json& options = in.object(r, "options", "options");
  const json& quant = in.object(r, "quant", "quant");
  ModelRows m;
  m.model_name = study_model_name(in.string(model, "argument", "model.argument"));
  m.family = in.string(model, "model_type", "model.model_type");
  // Reports written before --role have no role.
  m.role = options.contains("role") ? in.string_or_null(options, "role", "options.role") : json();
  const json& g = in.at(r, "global_max", "global_max");
  if (g.is_object()) {
    m.reference_global_max_abs = in.number_or_null(g, "abs", "global_max.abs");
  } else if (!g.is_null()) {
    in.wrong("global_max", "an object or null", g);
  }
  // The study's layer names: study names where the tap has one (the report's tap list maps
  // Hugging Face names to them), else the Hugging Face name.
  std::map<std::string, std::string> study_names;
  const json& taps = in.array(r, "taps", "taps");
  for (std::size_t i = 0; i < taps.size(); ++i) {
    const std::string at = fmt::format("taps[{}]", i);
    if (!taps[i].is_object()) in.wrong(at, "an object", taps[i]);
    const json& s = in.string_or_null(taps[i], "study_name", at + ".study_name");
    if (s.is_string()) {
      study_names[in.string(taps[i], "hf_name", at + ".hf_name")] = s.get<std::string>();
    }
  }
  const double q = in.number(quant, "clip_quantile", "quant.clip_quantile");
  const json& qtaps = in.array(quant, "taps", "quant.taps");
  for (std::size_t i = 0; i < qtaps.size(); ++i) {
    const std::string at = fmt::format("quant.taps[{}]", i);
    if (!qtaps[i].is_object()) in.wrong(at, "an object", qtaps[i]);
    const std::string hf = in.string(qtaps[i], "hf_name", at + ".hf_name");
    const auto sn = study_names.find(hf);
    const json& policies = in.object(qtaps[i], "policies", at + ".policies");
    for (QuantPolicy p : {QuantPolicy::kInt8MaxAbs, QuantPolicy::kInt8ClipQuantile}) {
      const std::string name(policy_name(p));
      if (!policies.contains(name)) continue;
      const std::string f = at + ".policies." + name + ".all";
      const json& all = in.object(in.object(policies, name, at + ".policies." + name), "all", f);
      MetricRow row;
      row.layer = sn == study_names.end() ? hf : sn->second;
      row.policy = study_policy_name(p, q);
      row.count = in.count(all, "count", f + ".count");
      row.rel_rmse = in.number_or_null(all, "rel_rmse", f + ".rel_rmse");
      row.rel_mae = in.number_or_null(all, "rel_mae", f + ".rel_mae");
      // The study's clip_rate counts values above the threshold: maxact's exceedance rate.
      row.clip_rate = in.number_or_null(all, "exceedance_rate", f + ".exceedance_rate");
      row.sqnr_db = in.number_or_null(all, "sqnr_db", f + ".sqnr_db");
      m.metrics.push_back(std::move(row));
    }
  }
  // study_quant_sanity's row order, which decides the policies' order and the sums' order.
  std::stable_sort(m.metrics.begin(), m.metrics.end(), [](const MetricRow& a, const MetricRow& b) {
    return a.layer != b.layer ? a.layer < b.layer : a.policy < b.policy;
  });
  return m;
}

ModelRows model_rows(const std::string& path, const json& j) {
  if (!j.is_object()) {
    throw Error(ErrorCode::kOption, path +
                                        ": not a study quant_sanity.json or maxact scan report "
                                        "(a JSON object)");
  }
  const auto schema = j.find("schema");
  if (schema == j.end()) return from_study_file(path, j);
  if (*schema == "maxact.scan") return from_scan_report(path, j);
  throw Error(
      ErrorCode::kOption,
      path + ": schema " +
          quote_untrusted(schema->dump(-1, ' ', false, json::error_handler_t::replace), 40, false) +
          ": not a study quant_sanity.json or maxact scan report (maxact.scan)");
}

// One model's rows of the summary, as summarize() forms them.
void summarize(const ModelRows& m, ojson& out) {
  std::vector<std::string> policies;  // in order of first appearance
  for (const MetricRow& r : m.metrics) {
    if (std::find(policies.begin(), policies.end(), r.policy) == policies.end()) {
      policies.push_back(r.policy);
    }
  }
  for (const std::string& p : policies) {
    uint128 weighted = 0;  // Python's integers do not overflow
    double rel_rmse = 0, rel_mae = 0, clip_rate = 0, sqnr_db = 0;
    std::size_t layers = 0;
    // Left to right, as Python's sum() before 3.12 (3.12 compensates: last bits may differ).
    for (const MetricRow& r : m.metrics) {
      if (r.policy != p) continue;
      const auto c = static_cast<double>(r.count);
      weighted += r.count;
      rel_rmse += r.rel_rmse * c;
      rel_mae += r.rel_mae * c;
      clip_rate += r.clip_rate * c;
      // The study's quirk, kept: only finite SQNRs are summed, but the division below is by
      // every row's count, so a lossless layer pulls the mean towards 0 dB.
      if (std::isfinite(r.sqnr_db)) sqnr_db += r.sqnr_db * c;
      ++layers;
    }
    if (weighted == 0) continue;
    const auto w = static_cast<double>(weighted);
    ojson row;
    row["model_name"] = ojson(m.model_name);
    row["family"] = ojson(m.family);
    row["role"] = ojson(m.role);
    row["policy"] = p;
    row["reference_global_max_abs"] = ojson(m.reference_global_max_abs);
    // A NaN (from a null input) is written as null.
    row["mean_rel_rmse"] = rel_rmse / w;
    row["mean_rel_mae"] = rel_mae / w;
    row["mean_clip_rate"] = clip_rate / w;
    row["mean_sqnr_db"] = sqnr_db / w;
    row["layers"] = layers;
    out.push_back(std::move(row));
  }
}

}  // namespace

ojson study_quant_summary(const std::vector<std::pair<std::string, json>>& inputs) {
  // Every input is read before anything is summed: a bad one fails the whole run.
  std::vector<ModelRows> models;
  for (const auto& [path, j] : inputs) models.push_back(model_rows(path, j));
  ojson out = ojson::array();
  for (const ModelRows& m : models) summarize(m, out);
  return out;
}

}  // namespace maxact
