// Fuzz target: a safetensors file (header + data), and — when the input starts with '{' — a
// model.safetensors.index.json over two fixed valid shards.
#include "fuzz_input.h"
#include "maxact/safetensors.h"

namespace {

// A valid one-tensor shard: F32 [2] named `name`.
std::string shard(const std::string& name) {
  const std::string header =
      "{\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>(n >> (8 * i));
  return out + header + std::string(8, '\0');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace maxact;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (!in.empty() && in[0] == '{') {
    const auto dir = fuzz::scratch() / "sharded";
    std::filesystem::create_directories(dir);
    fuzz::write("sharded/a.safetensors", shard("a"));
    fuzz::write("sharded/b.safetensors", shard("b"));
    fuzz::write("sharded/model.safetensors.index.json", in);
    fuzz::expect_clean([&] {
      const Checkpoint c = Checkpoint::open(dir);
      for (const auto& [name, t] : c.tensors()) (void)t->numel();
    });
    return 0;
  }
  const auto path = fuzz::write("model.safetensors", in);
  fuzz::expect_clean([&] {
    const SafetensorsFile f(path);
    for (const TensorView& t : f.tensors()) (void)t.row_elems();
  });
  return 0;
}
