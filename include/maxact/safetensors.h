// Memory-mapped safetensors checkpoints: one file or a sharded set behind
// model.safetensors.index.json. Opening reads and validates headers only; tensor bytes stay in the
// page cache until a conversion touches them, so opening costs the same for 1 MB and 1 TB.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "maxact/dtype.h"

namespace maxact {

class MappedFile;

struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const unsigned char* data = nullptr;  // inside the mapping; not aligned in general
  std::size_t nbytes = 0;
  uint64_t file_offset = 0;           // absolute offset of the first byte in the file
  const std::string* file = nullptr;  // path of the file holding it (owned by the checkpoint)

  int64_t numel() const;
  // Rows are slices along dim 0; a scalar has one row of one element.
  int64_t rows() const { return shape.empty() ? 1 : shape[0]; }
  int64_t row_elems() const;
};

// One safetensors file, validated strictly on open.
class SafetensorsFile {
 public:
  static constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's limit

  explicit SafetensorsFile(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;

  const std::string& path() const { return path_; }
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  uint64_t file_size() const { return file_size_; }
  uint64_t header_size() const { return header_size_; }

 private:
  std::unique_ptr<std::string> owned_path_;  // stable address for TensorView::file
  std::string path_;
  std::unique_ptr<MappedFile> map_;
  std::vector<TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
  uint64_t file_size_ = 0;
  uint64_t header_size_ = 0;
};

// All tensors of a checkpoint folder, keyed by their name on disk.
class Checkpoint {
 public:
  Checkpoint() = default;
  // Views point into the shards' mappings: move-only.
  Checkpoint(const Checkpoint&) = delete;
  Checkpoint& operator=(const Checkpoint&) = delete;
  Checkpoint(Checkpoint&&) noexcept = default;
  Checkpoint& operator=(Checkpoint&&) noexcept = default;

  // `dir` holds model.safetensors.index.json (sharded) or model.safetensors (single file).
  static Checkpoint open(const std::filesystem::path& dir);
  // A single file anywhere.
  static Checkpoint open_file(const std::filesystem::path& file);

  const TensorView* find(const std::string& name) const;
  const std::map<std::string, const TensorView*>& tensors() const { return by_name_; }
  const std::vector<SafetensorsFile>& shards() const { return shards_; }
  // __metadata__ of every shard merged (first shard wins on conflicting keys).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  uint64_t tensor_bytes() const;
  // The file the tensor list came from (index file or the single safetensors file).
  const std::string& source() const { return source_; }

 private:
  void add_shard(SafetensorsFile shard);

  std::string source_;
  std::vector<SafetensorsFile> shards_;
  std::map<std::string, const TensorView*> by_name_;
  std::map<std::string, std::string> metadata_;
};

// Converts rows [row_begin, row_end) of a tensor to fp32 (any dtype; see convert_to_f32).
// `out` receives (row_end - row_begin) * t.row_elems() floats.
void read_rows_f32(const TensorView& t, int64_t row_begin, int64_t row_end, float* out);
std::vector<float> read_f32(const TensorView& t);

// Drops the tensor's pages from this process's resident set once converted (they stay in the page
// cache): a scan then holds one layer's weights, not every layer it has read.
void release_pages(const TensorView& t);

// Writing safetensors files: tensors back to back in the given order, the data section 8-byte
// aligned after the header (padded with spaces, as Hugging Face writes it).
struct TensorLayout {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t nbytes = 0;
};
// The 8-byte header length and the header: what precedes the data of `tensors`, so a large file
// can be streamed tensor by tensor after it.
std::string safetensors_header(const std::vector<TensorLayout>& tensors,
                               const std::map<std::string, std::string>& metadata = {});
struct TensorData {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<unsigned char> bytes;
};
// A whole file in memory.
std::string safetensors_bytes(const std::vector<TensorData>& tensors,
                              const std::map<std::string, std::string>& metadata = {});
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace maxact
