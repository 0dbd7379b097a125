#include "maxact/model.h"

#include <algorithm>
#include <array>
#include <set>

#include "maxact/error.h"
#include "maxact/hub.h"
#include "maxact/quant_layouts.h"

namespace maxact {
namespace fs = std::filesystem;

std::string canonical_tensor_name(const std::string& n) {
  // Other towers and multi-token-prediction heads: not part of the text forward pass.
  static constexpr std::array<std::string_view, 9> kIgnored{"visual.",
                                                            "model.visual.",
                                                            "vision_tower.",
                                                            "model.vision_tower.",
                                                            "multi_modal_projector.",
                                                            "model.multi_modal_projector.",
                                                            "mtp.",
                                                            "model.mtp.",
                                                            "vision_model."};
  for (auto p : kIgnored) {
    if (n.starts_with(p)) return {};
  }
  static constexpr std::string_view kNew = "model.language_model.";
  static constexpr std::string_view kOld = "language_model.model.";
  static constexpr std::string_view kOldHead = "language_model.lm_head.";
  if (n.starts_with(kNew)) return "model." + n.substr(kNew.size());
  if (n.starts_with(kOld)) return "model." + n.substr(kOld.size());
  if (n.starts_with(kOldHead)) return "lm_head." + n.substr(kOldHead.size());
  return n;
}

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// The layer index of "model.layers.N....", or -1.
int64_t layer_index(const std::string& canonical) {
  static constexpr std::string_view kLayers = "model.layers.";
  if (!canonical.starts_with(kLayers)) return -1;
  std::size_t i = kLayers.size();
  int64_t n = 0;
  bool digits = false;
  while (i < canonical.size() && canonical[i] >= '0' && canonical[i] <= '9' && n < (1 << 30)) {
    n = n * 10 + (canonical[i++] - '0');
    digits = true;
  }
  return digits && i < canonical.size() && canonical[i] == '.' ? n : -1;
}

// The FP8 companion of "x.weight": "x.weight_scale_inv" (block scales) or "x.weight_scale" (one
// per tensor).
std::string scale_name(const std::string& weight, Quantization q) {
  return weight + (q == Quantization::kFp8Tensor ? "_scale" : "_scale_inv");
}

}  // namespace

const BoundTensor* Model::find(const std::string& canonical_name) const {
  auto it = bound_.find(canonical_name);
  return it == bound_.end() ? nullptr : &it->second;
}

Model Model::open(const std::string& model_arg) {
  ResolvedModel r = resolve_model(model_arg);
  Model m = open_dir(r.dir);
  m.origin_ = r.origin;
  return m;
}

namespace {

using CanonicalMap = std::map<std::string, const TensorView*>;

struct CanonicalTensors {
  CanonicalMap canon;
  std::set<int64_t> extra_layers;  // layers past num_hidden_layers that are not MTP heads
};

// Canonical name -> tensor on disk; two disk names for one canonical name is a duplicate.
// Layers past num_hidden_layers are MTP heads when the family stores them there (Ling 2.0),
// otherwise a sign that config.json and the checkpoint disagree.
CanonicalTensors canonical_tensors(const Checkpoint& ckpt, const ModelSpec& spec,
                                   std::vector<std::string>& ignored) {
  CanonicalTensors out;
  const int num_layers = spec.num_layers;
  for (const auto& [name, t] : ckpt.tensors()) {
    std::string c = canonical_tensor_name(name);
    const int64_t layer = c.empty() ? -1 : layer_index(c);
    if (c.empty() || (layer >= num_layers && layer < num_layers + spec.mtp_layers)) {
      ignored.push_back(name);
      continue;
    }
    if (layer >= num_layers) {
      out.extra_layers.insert(layer);
      continue;
    }
    auto [it, inserted] = out.canon.emplace(c, t);
    if (!inserted) {
      throw Error(ErrorCode::kDuplicateTensor, ckpt.source() + ": tensors '" + it->second->name +
                                                   "' and '" + name + "' are the same tensor '" +
                                                   c + "' under two prefixes");
    }
  }
  return out;
}

// docs/NUMERICS.md §10: the head is tied exactly when the checkpoint has no lm_head.weight
// (configs disagree between levels, and a tied save drops the head).
void apply_tied_head(ModelSpec& spec, bool tied) {
  if (tied == spec.tie_word_embeddings) return;
  auto& reqs = spec.tensors;
  if (tied) {
    std::erase_if(reqs, [](const TensorReq& r) { return r.name == "lm_head.weight"; });
  } else {
    TensorReq head;
    head.name = "lm_head.weight";
    head.shape = {spec.vocab_size, spec.hidden_size};
    head.role = TensorReq::Role::kLmHead;
    head.linear = true;
    reqs.push_back(head);
  }
  spec.tie_word_embeddings = tied;
}

// What binding found: every problem is collected so one error lists them all.
struct Binding {
  std::vector<std::string> problems;
  std::map<std::string, bool> used;  // canonical names a requirement consumed
  bool fp8_without_config = false;   // reported once: the block size is unknown
};

// An FP8 weight: only a Linear weight with its scales (block-wise weight_scale_inv, or one
// weight_scale per tensor) qualifies.
void bind_fp8_scales(const TensorReq& req, const TensorView& t, const std::string& where,
                     const CanonicalMap& canon, const ModelSpec& s, BoundTensor& b, Binding& out) {
  const bool per_tensor = s.quantization == Quantization::kFp8Tensor;
  auto sc = canon.find(scale_name(req.name, s.quantization));
  if (!req.linear || sc == canon.end()) {
    out.problems.push_back("dtype of " + where + " is " + std::string(dtype_name(t.dtype)) +
                           (!req.linear  ? " but only Linear weights may be FP8"
                            : per_tensor ? " without its weight_scale"
                                         : " without its weight_scale_inv block scales"));
    return;
  }
  out.used[sc->first] = true;
  if (s.quantization != Quantization::kFp8Block && !per_tensor) {
    out.fp8_without_config = true;
    return;
  }
  try {
    if (per_tensor) {
      check_fp8_tensor_pair(t, *sc->second);
    } else {
      check_fp8_block_pair(t, *sc->second, s.fp8_block_out, s.fp8_block_in);
    }
    b.scale_inv = sc->second;
  } catch (const Error& e) {
    out.problems.push_back(e.what());
  }
}

// One required tensor: present, of the required shape and of a usable dtype. It is bound unless
// it is missing or misshapen (dtype problems are reported, the binding kept).
void bind_tensor(const TensorReq& req, const CanonicalMap& canon, const ModelSpec& s,
                 std::map<std::string, BoundTensor>& bound, Binding& out) {
  auto it = canon.find(req.name);
  if (it == canon.end()) {
    out.problems.push_back("missing " + req.name + " " + shape_str(req.shape));
    return;
  }
  const TensorView* t = it->second;
  out.used[req.name] = true;
  BoundTensor b{&req, t, nullptr};
  const std::string where = req.name + " (" + *t->file + ")";
  if (t->shape != req.shape) {
    out.problems.push_back("shape of " + where + " is " + shape_str(t->shape) + ", expected " +
                           shape_str(req.shape));
    return;
  }
  if (req.packed_u8) {
    if (t->dtype != DType::kU8) {
      out.problems.push_back("dtype of " + where + " is " + std::string(dtype_name(t->dtype)) +
                             ", expected U8 (MXFP4)");
    }
  } else if (t->dtype == DType::kF8E4M3 || t->dtype == DType::kF8E5M2) {
    bind_fp8_scales(req, *t, where, canon, s, b, out);
  } else if (!dtype_is_float(t->dtype)) {
    out.problems.push_back("dtype of " + where + " is " + std::string(dtype_name(t->dtype)) +
                           ", expected a floating-point type");
  }
  bound.emplace(req.name, b);
}

// gpt-oss MXFP4 experts: blocks and scales must pair up (checked only while nothing else failed).
void check_mxfp4_experts(const ModelSpec& s, const CanonicalMap& canon,
                         std::vector<std::string>& problems) {
  for (int i = 0; i < s.num_layers && problems.empty(); ++i) {
    if (s.layers[static_cast<std::size_t>(i)].mlp != MlpKind::kMoe) continue;
    const ModuleNames& n = s.names;
    const std::string p = layer_tensor_prefix(i) + n.moe_part(n.experts) + ".";
    for (const std::string* w : {&n.expert_gate_up, &n.expert_down}) {
      try {
        check_mxfp4_pair(*canon.at(p + *w + "_blocks"), *canon.at(p + *w + "_scales"));
      } catch (const Error& e) {
        problems.push_back(e.what());
      }
    }
  }
}

[[noreturn]] void throw_mismatch(const fs::path& dir, const ModelSpec& s,
                                 const std::vector<std::string>& problems) {
  std::string msg = dir.string() + ": checkpoint does not match config.json (" + s.model_type +
                    "), " + std::to_string(problems.size()) + " problem(s):";
  constexpr std::size_t kShown = 50;
  for (std::size_t i = 0; i < problems.size() && i < kShown; ++i) msg += "\n  " + problems[i];
  if (problems.size() > kShown) {
    msg += "\n  ... and " + std::to_string(problems.size() - kShown) + " more";
  }
  throw Error(ErrorCode::kTensorMismatch, msg);
}

}  // namespace

Model Model::open_dir(const fs::path& dir) {
  Model m;
  m.dir_ = dir;
  m.origin_ = "folder " + dir.string();
  m.spec_ = parse_model_config(dir / "config.json");
  m.ckpt_ = Checkpoint::open(dir);
  std::error_code ec;
  m.has_tokenizer_ = fs::is_regular_file(dir / "tokenizer.json", ec);

  const CanonicalTensors found = canonical_tensors(m.ckpt_, m.spec_, m.ignored_);
  const CanonicalMap& canon = found.canon;
  apply_tied_head(m.spec_, !canon.count("lm_head.weight"));

  const ModelSpec& s = m.spec_;
  Binding b;
  for (int64_t layer : found.extra_layers) {
    b.problems.push_back(
        "tensors of layer " + std::to_string(layer) +
        " present, but config.json has num_hidden_layers = " + std::to_string(s.num_layers));
  }
  for (const TensorReq& req : s.tensors) bind_tensor(req, canon, s, m.bound_, b);
  if (s.moe.storage == ExpertStorage::kGptOssMxfp4) {
    check_mxfp4_experts(s, canon, b.problems);
  }
  if (b.fp8_without_config) {
    b.problems.push_back(
        "FP8 weights with weight_scale_inv found, but config.json has no quantization_config "
        "with quant_method 'fp8'");
  }
  if (!b.problems.empty()) throw_mismatch(dir, s, b.problems);
  for (const auto& [name, t] : canon) {
    if (!b.used.count(name)) m.unused_.push_back(t->name);
  }
  return m;
}

}  // namespace maxact
