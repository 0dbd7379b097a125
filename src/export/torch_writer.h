// A file torch.load(path, weights_only=True) reads as a dict of float32 CPU tensors: PyTorch's
// zip serialization (torch.save since 1.6) written directly, no Python involved. The archive
// holds data.pkl (a protocol-2 pickle that rebuilds each tensor from a storage record with
// torch._utils._rebuild_tensor_v2, the calls weights_only allows), one data/<k> record of raw
// little-endian floats per tensor, byteorder and version. Records are stored uncompressed,
// their data 64-byte aligned, as torch writes them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace maxact {

struct TorchTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};

// The dict {name: tensor} in the given order.
std::string torch_save_dict(const std::vector<TorchTensor>& tensors);

}  // namespace maxact
