// A GGUF file (version 3) in memory: key-value metadata and F32 tensors, as ggml's gguf.cpp
// lays them out. Only what maxact's exports write; docs/EXPORTS.md has the layout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace maxact {

class GgufWriter {
 public:
  void add_u32(const std::string& key, uint32_t v);
  void add_string(const std::string& key, const std::string& v);
  void add_string_array(const std::string& key, const std::vector<std::string>& v);
  // ne: ggml's dimensions, fastest first (trailing 1s are dropped, as ggml_n_dims counts them).
  void add_f32(const std::string& name, std::vector<int64_t> ne, std::vector<float> data);
  std::string bytes() const;

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> ne;
    std::vector<float> data;
  };
  uint64_t kv_count_ = 0;
  std::string kv_;  // encoded key-value pairs
  std::vector<Tensor> tensors_;
};

}  // namespace maxact
