// An opened model: resolved folder, typed spec from config.json, and the checkpoint's tensors bound
// to the names the spec asks for (wrapper prefixes removed, quantized companions attached).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "maxact/model_spec.h"
#include "maxact/safetensors.h"

namespace maxact {

// config.json -> ModelSpec (tensor table included). Throws kConfig / kUnsupported naming the file.
ModelSpec parse_model_config(const std::filesystem::path& config_json);

// Maps a tensor name on disk to its canonical name ("model.layers.0...", "lm_head.weight"), or
// returns "" for tensors of other towers that a text scan ignores (vision, projector, MTP).
std::string canonical_tensor_name(const std::string& disk_name);

// A required tensor as found in the checkpoint.
struct BoundTensor {
  const TensorReq* req = nullptr;
  const TensorView* tensor = nullptr;
  // An FP8 Linear weight's scales (block-wise weight_scale_inv, or its per-tensor weight_scale:
  // ModelSpec::quantization says which), else nullptr.
  const TensorView* scale_inv = nullptr;
};

class Model {
 public:
  // BoundTensor points into spec_.tensors and the checkpoint's views: move-only.
  Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  Model(Model&&) noexcept = default;
  Model& operator=(Model&&) noexcept = default;

  // A folder path, or a hub id org/name[@revision] found in the local Hugging Face cache.
  static Model open(const std::string& model_arg);
  static Model open_dir(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  const std::string& origin() const { return origin_; }  // how the argument was resolved
  const ModelSpec& spec() const { return spec_; }
  const Checkpoint& checkpoint() const { return ckpt_; }
  const std::map<std::string, BoundTensor>& bound() const { return bound_; }
  const BoundTensor* find(const std::string& canonical_name) const;
  // Tensors of other towers (vision, MTP) and tensors no family rule asks for.
  const std::vector<std::string>& ignored_tensors() const { return ignored_; }
  const std::vector<std::string>& unused_tensors() const { return unused_; }
  bool has_tokenizer() const { return has_tokenizer_; }

 private:
  std::filesystem::path dir_;
  std::string origin_;
  ModelSpec spec_;
  Checkpoint ckpt_;
  std::map<std::string, BoundTensor> bound_;
  std::vector<std::string> ignored_;
  std::vector<std::string> unused_;
  bool has_tokenizer_ = false;
};

}  // namespace maxact
