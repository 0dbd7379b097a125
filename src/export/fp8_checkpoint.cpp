// The FP8 checkpoint: shards written tensor by tensor into a temporary folder beside the target
// (one layer's weight in memory at a time, so a model larger than memory exports too), the
// configuration and every other file of the model folder, then one rename.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>

#include "export/fp8_plan.h"
#include "export/report_reader.h"
#include "io/json_util.h"
#include "maxact/error.h"
#include "maxact/exports.h"
#include "maxact/model.h"

namespace maxact {
using nlohmann::json;
using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

// A file written with every error checked and synced before it counts as written.
class OutFile {
 public:
  explicit OutFile(const fs::path& p) : path_(p), f_(std::fopen(p.c_str(), "wbx")) {
    if (f_ == nullptr) fail("cannot create");
  }
  ~OutFile() {
    if (f_ != nullptr) std::fclose(f_);
  }
  OutFile(const OutFile&) = delete;
  OutFile& operator=(const OutFile&) = delete;
  void write(const void* data, std::size_t n) {
    if (n != 0 && std::fwrite(data, 1, n, f_) != n) fail("write failed");
  }
  void write(const std::string& s) { write(s.data(), s.size()); }
  void close() {
    if (std::fflush(f_) != 0 || fsync(fileno(f_)) != 0) fail("write failed");
    FILE* f = f_;
    f_ = nullptr;
    if (std::fclose(f) != 0) fail("write failed");
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw Error(ErrorCode::kIo,
                fmt::format("{}: {}: {}", path_.string(), what, std::strerror(errno)));
  }
  fs::path path_;
  FILE* f_;
};

// The per-tensor FP8 cast: scale = max|W| / 448 (1 for an all-zero weight), codes e4m3(W / scale).
struct Cast {
  std::vector<unsigned char> codes;
  float scale = 1, absmax = 0;
};
Cast cast_weight(const TensorView& t) {
  const std::vector<float> w = read_f32(t);
  release_pages(t);
  Cast c;
  for (float v : w) {
    if (!std::isfinite(v)) {
      throw Error(ErrorCode::kTensorMismatch,
                  fmt::format("{}: {} holds a non-finite value; it cannot be cast to FP8", *t.file,
                              t.name));
    }
    c.absmax = std::max(c.absmax, std::fabs(v));
  }
  if (c.absmax > 0) c.scale = c.absmax / kE4m3Max;
  c.codes.resize(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) c.codes[i] = f32_to_e4m3(w[i] / c.scale);
  return c;
}

std::string f32_bytes(float v) {
  std::string b(4, '\0');
  std::memcpy(b.data(), &v, 4);
  return b;
}

// Scales as each format stores them: compressed-tensors [1], ModelOpt 0-dim; float32 both.
std::vector<int64_t> scale_shape(const Fp8Options& o) {
  return o.format == Fp8Format::kCompressedTensors ? std::vector<int64_t>{1}
                                                   : std::vector<int64_t>{};
}

// An activation scale: |x| / 448, but never 0 (a tap that saw only zeros, a zero quantile): vLLM
// divides by it. compressed-tensors replaces zero scales with float32's epsilon the same way.
float activation_scale(float absmax, int& zero) {
  if (absmax > 0) return absmax / kE4m3Max;
  ++zero;
  return std::numeric_limits<float>::epsilon();
}

// ModelOpt clamps FP8 KV scales to at least 1 when it exports (postprocess_state_dict).
float kv_scale(float absmax, const Fp8Options& o, int& clamped, int& zero) {
  const float s = activation_scale(absmax, zero);
  if (o.format == Fp8Format::kModelOpt && s < 1.0f) {
    ++clamped;
    return 1.0f;
  }
  return s;
}

// One output shard: its tensors in the input shard's order, each cast weight followed by its
// scales, the KV scales after the weight they sit beside.
struct ShardWriter {
  const fp8::Plan& plan;
  const Fp8Options& o;
  json& linears;
  json& kv;
  int& clamped;
  int& zero;
  std::map<std::string, std::string>& weight_map;

  uint64_t write(const SafetensorsFile& shard, const fs::path& out_path) {
    struct Item {
      const TensorView* src;  // copied or cast
      std::string name;
      DType dtype;
      std::vector<int64_t> shape;
      uint64_t nbytes;
      float value;  // a scale
    };
    std::vector<Item> items;
    const std::string file = out_path.filename().string();
    for (const TensorView& t : shard.tensors()) {
      const auto w = plan.weights.find(t.name);
      if (w == plan.weights.end()) {
        items.push_back({&t, t.name, t.dtype, t.shape, t.nbytes, 0});
      } else {
        const std::string module = t.name.substr(0, t.name.size() - 7);  // minus ".weight"
        items.push_back({&t, t.name, DType::kF8E4M3, t.shape, static_cast<uint64_t>(t.numel()), 0});
        items.push_back({nullptr, module + ".weight_scale", DType::kF32, scale_shape(o), 4, 0});
        items.push_back({nullptr, module + ".input_scale", DType::kF32, scale_shape(o), 4,
                         activation_scale(w->second, zero)});
      }
      for (const fp8::KvScales& k : plan.kv) {
        if (k.anchor_disk != t.name) continue;
        const bool mo = o.format == Fp8Format::kModelOpt;
        const float ks = kv_scale(k.k_absmax, o, clamped, zero);
        const float vs = kv_scale(k.v_absmax, o, clamped, zero);
        const std::string kn = k.attn_disk + (mo ? ".k_proj.k_scale" : ".k_scale");
        const std::string vn = k.attn_disk + (mo ? ".v_proj.v_scale" : ".v_scale");
        items.push_back({nullptr, kn, DType::kF32, scale_shape(o), 4, ks});
        items.push_back({nullptr, vn, DType::kF32, scale_shape(o), 4, vs});
        kv.push_back({{"module", k.attn_disk},
                      {"k_absmax", k.k_absmax},
                      {"v_absmax", k.v_absmax},
                      {"k_scale", ks},
                      {"v_scale", vs}});
      }
    }
    std::vector<TensorLayout> layout;
    uint64_t total = 0;
    for (const Item& i : items) {
      layout.push_back({i.name, i.dtype, i.shape, i.nbytes});
      weight_map[i.name] = file;
      total += i.nbytes;
    }
    OutFile f(out_path);
    f.write(safetensors_header(layout, {{"format", "pt"}}));
    for (std::size_t i = 0; i < items.size(); ++i) {
      const Item& it = items[i];
      if (it.src == nullptr) {
        f.write(f32_bytes(it.value));
      } else if (it.dtype != DType::kF8E4M3) {
        f.write(it.src->data, it.src->nbytes);
        release_pages(*it.src);
      } else {
        const Cast c = cast_weight(*it.src);
        f.write(c.codes.data(), c.codes.size());
        f.write(f32_bytes(c.scale));  // the weight_scale item that follows
        ++i;
        const std::string module = it.name.substr(0, it.name.size() - 7);
        linears.push_back({{"module", module},
                           {"input_absmax", plan.weights.at(it.name)},
                           {"input_scale", items[i + 1].value},
                           {"weight_absmax", c.absmax},
                           {"weight_scale", c.scale}});
      }
    }
    f.close();
    return total;
  }
};

ojson group_args() {
  return {{"num_bits", 8},
          {"type", "float"},
          {"symmetric", true},
          {"strategy", "tensor"},
          {"dynamic", false}};
}

// config.json's quantization_config (and ModelOpt's hf_quant_config.json): docs/EXPORTS.md.
ojson quantization_config(const Fp8Options& o, const std::vector<std::string>& ignore) {
  if (o.format == Fp8Format::kModelOpt) {
    return {{"quant_method", "modelopt"},
            {"quant_algo", "FP8"},
            {"kv_cache_quant_algo", "FP8"},
            {"config_groups",
             {{"group_0",
               {{"input_activations", {{"dynamic", false}, {"num_bits", 8}, {"type", "float"}}},
                {"weights", {{"dynamic", false}, {"num_bits", 8}, {"type", "float"}}},
                {"targets", {"Linear"}}}}}},
            {"ignore", ignore},
            {"kv_cache_scheme", {{"dynamic", false}, {"num_bits", 8}, {"type", "float"}}}};
  }
  ojson groups = ojson::object();
  if (!o.kv_only) {
    groups["group_0"] = {
        {"targets", {"Linear"}}, {"weights", group_args()}, {"input_activations", group_args()}};
  }
  return {{"quant_method", "compressed-tensors"},
          // A KV-only recipe leaves every Linear dense: llm-compressor writes "dense" then.
          {"format", o.kv_only ? "dense" : "float-quantized"},
          {"quantization_status", "compressed"},
          {"config_groups", groups},
          {"ignore", o.kv_only ? std::vector<std::string>{} : ignore},
          {"kv_cache_scheme", group_args()}};
}

const char* rule_name(ScaleRule r) {
  return r == ScaleRule::kMax ? "max" : (r == ScaleRule::kQuantile ? "quantile" : "mse");
}

// Writes everything into `tmp`; returns the summary.
json write_folder(const json& report, const std::string& report_file, const Model& m,
                  const fs::path& tmp, const Fp8Options& o, const fp8::Plan& plan) {
  json linears = json::array(), kv = json::array();
  int clamped = 0, zero = 0;
  std::map<std::string, std::string> weight_map;
  ShardWriter w{plan, o, linears, kv, clamped, zero, weight_map};
  uint64_t total = 0;
  for (const SafetensorsFile& shard : m.checkpoint().shards()) {
    total += w.write(shard, tmp / fs::path(shard.path()).filename());
  }
  const fs::path index = m.dir() / "model.safetensors.index.json";
  if (fs::exists(index)) {
    OutFile f(tmp / index.filename());
    f.write(json{{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}}.dump(2) + "\n");
    f.close();
  }
  ojson config = ojson::parse(read_text_file(m.dir() / "config.json"));
  config["quantization_config"] = quantization_config(o, plan.ignored_modules);
  {
    OutFile f(tmp / "config.json");
    f.write(config.dump(2) + "\n");
    f.close();
  }
  if (o.format == Fp8Format::kModelOpt) {
    const ojson hq = {{"producer", {{"name", "maxact"}, {"version", maxact_version()}}},
                      {"quantization",
                       {{"quant_algo", "FP8"},
                        {"kv_cache_quant_algo", "FP8"},
                        {"exclude_modules", plan.ignored_modules}}}};
    OutFile f(tmp / "hf_quant_config.json");
    f.write(hq.dump(2) + "\n");
    f.close();
  }
  // Everything else of the model folder (tokenizer, generation config, chat template...), but not
  // other copies of the weights (pytorch_model.bin, consolidated.safetensors, GGUF files): they
  // would hold the unquantized model beside the FP8 one. Subfolders are not copied either.
  static const std::set<std::string> kWeightFiles{
      ".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".h5", ".msgpack", ".onnx"};
  std::vector<std::string> copied, left_out;
  for (const auto& e : fs::directory_iterator(m.dir())) {
    const std::string name = e.path().filename().string();
    if (name == "config.json" || name == "model.safetensors.index.json" || fs::exists(tmp / name)) {
      continue;
    }
    if (!e.is_regular_file() || kWeightFiles.count(e.path().extension().string()) != 0) {
      left_out.push_back(name);
      continue;
    }
    fs::copy_file(e.path(), tmp / name);  // follows symlinks (Hugging Face cache snapshots)
    copied.push_back(name);
  }
  std::sort(copied.begin(), copied.end());
  std::sort(left_out.begin(), left_out.end());
  std::vector<std::string> warnings = plan.warnings;
  if (zero > 0) {
    warnings.push_back(fmt::format(
        "{} activation scales would be 0 (their calibrated |x| is 0) and are float32's epsilon "
        "instead: vLLM divides by them",
        zero));
  }
  if (clamped > 0) {
    warnings.push_back(fmt::format(
        "{} KV scales below 1 raised to 1, as ModelOpt exports them (its clamp): those caches are "
        "stored with a coarser scale than their range needs",
        clamped));
  }
  json s = export_summary_head("fp8",
                               o.format == Fp8Format::kModelOpt ? "modelopt" : "compressed-tensors",
                               report, report_file);
  s["source_model"] = m.dir().string();
  s["kv_only"] = o.kv_only;
  s["scale_rule"] = rule_name(o.scale);
  s["kv_scale_rule"] = rule_name(o.kv_scale);
  s["linears"] = linears;
  s["kv"] = kv;
  s["ignored"] = plan.ignored_modules;
  s["copied"] = copied;
  s["not_copied"] = left_out;
  s["warnings"] = warnings;
  return s;
}

}  // namespace

Fp8Export export_fp8(const json& report, const std::string& report_file, const fs::path& model_dir,
                     const fs::path& out, const Fp8Options& o) {
  if (o.kv_only && o.format == Fp8Format::kModelOpt) {
    throw Error(
        ErrorCode::kOption,
        "--kv-only writes compressed-tensors' kv_cache_scheme (ModelOpt has no KV-only form)");
  }
  std::error_code ec;
  if (fs::exists(fs::symlink_status(out, ec))) {
    throw Error(ErrorCode::kIo, out.string() + ": exists; an export writes a new folder");
  }
  const Model m = Model::open_dir(model_dir);
  const fp8::Plan plan = fp8::make_plan(report, report_file, m, o);
  const fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  std::string tmpl = (parent / fmt::format(".{}.tmp-XXXXXX", out.filename().string())).string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    throw Error(ErrorCode::kIo, fmt::format("{}: cannot create a folder there: {}", parent.string(),
                                            std::strerror(errno)));
  }
  const fs::path tmp = tmpl;
  try {
    Fp8Export r;
    r.summary = write_folder(report, report_file, m, tmp, o, plan);
    r.warnings = r.summary["warnings"].get<std::vector<std::string>>();
    {
      OutFile f(tmp / "maxact_export.json");
      f.write(r.summary.dump(1) + "\n");
      f.close();
    }
    // rename(2) replaces at most an empty folder made at `out` meanwhile; a non-empty one (or a
    // file) makes it fail rather than be overwritten.
    if (::rename(tmp.c_str(), out.c_str()) != 0) {
      throw Error(ErrorCode::kIo, fmt::format("{}: {}", out.string(), std::strerror(errno)));
    }
    return r;
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace maxact
