#include "maxact/safetensors.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <set>
#include <stdexcept>

#include "io/json_util.h"
#include "io/mapped_file.h"
#include "io/safetensors_header.h"
#include "maxact/error.h"

namespace maxact {
namespace fs = std::filesystem;
using nlohmann::json;

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t TensorView::row_elems() const {
  int64_t n = 1;
  for (std::size_t i = 1; i < shape.size(); ++i) n *= shape[i];
  return n;
}

namespace {
using safetensors_detail::fail;
using safetensors_detail::tensor_where;

// The header length from the first 8 bytes, checked to be sane and to fit in the file.
uint64_t header_length(const MappedFile& map, uint64_t file_size, const std::string& path) {
  if (file_size < 8) {
    fail(ErrorCode::kHeaderTooSmall, path,
         "not a safetensors file: " + std::to_string(file_size) +
             " bytes, shorter than the 8-byte header length");
  }
  uint64_t n = 0;
  std::memcpy(&n, map.data(), 8);  // little-endian on every platform maxact targets
  if (n > SafetensorsFile::kMaxHeaderBytes) {
    fail(ErrorCode::kHeaderTooLarge, path,
         "header length " + std::to_string(n) + " bytes is absurdly large (limit " +
             std::to_string(SafetensorsFile::kMaxHeaderBytes) +
             "); not a safetensors file or corrupted");
  }
  if (n > file_size - 8) {
    fail(ErrorCode::kHeaderPastEnd, path,
         "header length " + std::to_string(n) + " runs past the end of the file (" +
             std::to_string(file_size) + " bytes); truncated download?");
  }
  return n;
}

// The header JSON: an object; a tensor listed twice is kDuplicateTensor, not a syntax error.
json parse_header(std::string_view text, const std::string& path) {
  json header = parse_json(text, path, ErrorCode::kHeaderJson, [&](const DuplicateKey& d) {
    if (d.depth == 1) {
      return Error(ErrorCode::kDuplicateTensor,
                   path + ": " + tensor_where(d.key) + " is listed twice in the header");
    }
    return Error(ErrorCode::kHeaderJson, path + ": header: key " + quote_untrusted(d.key) +
                                             " appears twice in " + quote_untrusted(d.parent));
  });
  if (!header.is_object()) {
    fail(ErrorCode::kHeaderJson, path,
         "header must be a JSON object, found " + json_type_name(header));
  }
  return header;
}

}  // namespace

SafetensorsFile::SafetensorsFile(const fs::path& path)
    : owned_path_(std::make_unique<std::string>(path.string())), path_(*owned_path_) {
  map_ = std::make_unique<MappedFile>(path_);
  file_size_ = map_->size();
  const uint64_t n = header_length(*map_, file_size_, path_);
  header_size_ = n;
  const std::string_view text(reinterpret_cast<const char*>(map_->data() + 8), n);
  json header = parse_header(text, path_);

  const uint64_t data_begin = 8 + n;
  const uint64_t data_size = file_size_ - data_begin;
  tensors_.reserve(header.size());
  for (auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      safetensors_detail::read_metadata(entry, path_, metadata_);
      continue;
    }
    TensorView t =
        safetensors_detail::parse_tensor_entry(path_, name, entry, data_begin, data_size);
    t.file = owned_path_.get();
    t.data = map_->data() + t.file_offset;
    tensors_.push_back(std::move(t));
  }
  safetensors_detail::check_coverage(tensors_, data_begin, file_size_, path_);
}

SafetensorsFile::~SafetensorsFile() = default;
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;

namespace {

bool is_plain_file_name(const std::string& s) {
  if (s.empty() || s == "." || s == "..") return false;
  return s.find('/') == std::string::npos && s.find('\\') == std::string::npos &&
         s.find('\0') == std::string::npos;
}

// A folder with neither an index nor model.safetensors: the error lists what is there.
[[noreturn]] void throw_no_checkpoint(const fs::path& dir) {
  std::error_code ec;
  std::string found;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".safetensors") found += " " + e.path().filename().string();
  }
  throw Error(ErrorCode::kNoCheckpoint,
              dir.string() + ": no model.safetensors or model.safetensors.index.json" +
                  (found.empty() ? std::string(" (no .safetensors files at all)")
                                 : "; found only:" + found));
}

// The index file, with a non-empty 'weight_map' object.
json read_index(const fs::path& index_path, const std::string& ipath) {
  const json index = parse_json(
      read_text_file(index_path), ipath, ErrorCode::kIndexJson, [&](const DuplicateKey& d) {
        if (d.parent == "weight_map") {
          return Error(ErrorCode::kDuplicateTensor,
                       ipath + ": " + tensor_where(d.key) + " is listed twice in weight_map");
        }
        return Error(ErrorCode::kIndexJson,
                     ipath + ": key " + quote_untrusted(d.key) + " appears twice");
      });
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    throw Error(ErrorCode::kIndexJson, ipath + ": missing 'weight_map' object");
  }
  if (index["weight_map"].empty()) {
    throw Error(ErrorCode::kIndexJson, ipath + ": 'weight_map' is empty");
  }
  return index;
}

// Shard name -> tensors the index places there, in first-seen order of shards.
struct ShardPlan {
  std::vector<std::string> order;
  std::map<std::string, std::vector<std::string>> expected;
};

ShardPlan plan_shards(const json& weight_map, const std::string& ipath) {
  ShardPlan plan;
  for (auto& [tensor, shard] : weight_map.items()) {
    if (!shard.is_string()) {
      throw Error(ErrorCode::kIndexJson,
                  ipath + ": weight_map entry for " + tensor_where(tensor) + " must be a string");
    }
    const std::string name = shard.get<std::string>();
    if (!is_plain_file_name(name)) {
      throw Error(ErrorCode::kShardName, ipath + ": shard name '" + name + "' (for " +
                                             tensor_where(tensor) +
                                             ") is not a plain file name inside the model folder");
    }
    auto [it, inserted] = plan.expected.try_emplace(name);
    if (inserted) plan.order.push_back(name);
    it->second.push_back(tensor);
  }
  return plan;
}

// Every shard exists before any is opened, so a missing one is reported as such.
void check_shards_exist(const ShardPlan& plan, const fs::path& dir, const std::string& ipath) {
  std::error_code ec;
  for (const auto& name : plan.order) {
    if (!fs::exists(dir / name, ec)) {
      const std::vector<std::string>& listed = plan.expected.at(name);
      throw Error(ErrorCode::kShardMissing, ipath + ": shard '" + name + "' (holding " +
                                                tensor_where(listed[0]) + " and " +
                                                std::to_string(listed.size() - 1) +
                                                " more) does not exist in " + dir.string());
    }
  }
}

// Loaders find tensors through weight_map only, so both directions must agree.
void check_shard_contents(const SafetensorsFile& s, const std::vector<std::string>& listed,
                          const std::string& name, const std::string& ipath) {
  const std::set<std::string> want(listed.begin(), listed.end());
  std::set<std::string> present;
  for (const auto& t : s.tensors()) {
    present.insert(t.name);
    if (!want.count(t.name)) {
      throw Error(ErrorCode::kShardContents, s.path() + ": holds " + tensor_where(t.name) +
                                                 ", which " + ipath +
                                                 " does not list for this shard");
    }
  }
  for (const auto& t : listed) {
    if (!present.count(t)) {
      throw Error(ErrorCode::kShardContents, ipath + ": index places " + tensor_where(t) + " in '" +
                                                 name + "' but that shard does not contain it");
    }
  }
}

}  // namespace

void Checkpoint::add_shard(SafetensorsFile shard) {
  shards_.push_back(std::move(shard));
  const SafetensorsFile& s = shards_.back();
  for (const auto& t : s.tensors()) {
    auto [it, inserted] = by_name_.emplace(t.name, &t);
    if (!inserted) {
      throw Error(ErrorCode::kDuplicateTensor, s.path() + ": " + tensor_where(t.name) +
                                                   " is also in " + *it->second->file +
                                                   "; a tensor may be stored once only");
    }
  }
  for (const auto& [k, v] : s.metadata()) metadata_.emplace(k, v);
}

Checkpoint Checkpoint::open_file(const fs::path& file) {
  Checkpoint c;
  c.source_ = file.string();
  c.add_shard(SafetensorsFile(file));
  return c;
}

Checkpoint Checkpoint::open(const fs::path& dir) {
  const fs::path index_path = dir / "model.safetensors.index.json";
  std::error_code ec;
  if (!fs::exists(index_path, ec)) {
    const fs::path single = dir / "model.safetensors";
    if (fs::exists(single, ec)) return open_file(single);
    throw_no_checkpoint(dir);
  }

  Checkpoint c;
  c.source_ = index_path.string();
  const std::string& ipath = c.source_;
  const json index = read_index(index_path, ipath);
  const ShardPlan plan = plan_shards(index["weight_map"], ipath);
  check_shards_exist(plan, dir, ipath);
  c.shards_.reserve(plan.order.size());
  for (const auto& name : plan.order) {
    c.add_shard(SafetensorsFile(dir / name));
    check_shard_contents(c.shards_.back(), plan.expected.at(name), name, ipath);
  }
  return c;
}

const TensorView* Checkpoint::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

uint64_t Checkpoint::tensor_bytes() const {
  uint64_t total = 0;
  for (const auto& [name, t] : by_name_) total += t->nbytes;
  return total;
}

void read_rows_f32(const TensorView& t, int64_t row_begin, int64_t row_end, float* out) {
  if (row_begin < 0 || row_end < row_begin || row_end > t.rows()) {
    throw Error(ErrorCode::kRange, *t.file + ": " + tensor_where(t.name) + ": rows [" +
                                       std::to_string(row_begin) + ", " + std::to_string(row_end) +
                                       ") outside [0, " + std::to_string(t.rows()) + ")");
  }
  const int64_t per_row = t.row_elems();
  const std::size_t esize = dtype_size(t.dtype);
  convert_to_f32(t.dtype, t.data + static_cast<std::size_t>(row_begin * per_row) * esize,
                 static_cast<std::size_t>((row_end - row_begin) * per_row), out);
}

std::vector<float> read_f32(const TensorView& t) {
  std::vector<float> out(static_cast<std::size_t>(t.numel()));
  read_rows_f32(t, 0, t.rows(), out.data());
  return out;
}

std::string safetensors_header(const std::vector<TensorLayout>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (header.contains(t.name)) {
      throw std::logic_error("safetensors: tensor " + t.name + " written twice");
    }
    header[t.name] = {{"dtype", dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data section 8-byte aligned, as HF writes it
  std::string out(8, '\0');
  const uint64_t n = text.size();
  std::memcpy(out.data(), &n, 8);
  return out + text;
}

std::string safetensors_bytes(const std::vector<TensorData>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  std::vector<TensorLayout> layout;
  for (const auto& t : tensors) layout.push_back({t.name, t.dtype, t.shape, t.bytes.size()});
  std::string out = safetensors_header(layout, metadata);
  for (const auto& t : tensors) out.append(t.bytes.begin(), t.bytes.end());
  return out;
}

void write_safetensors(const fs::path& path, const std::vector<TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string bytes = safetensors_bytes(tensors, metadata);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(ErrorCode::kIo, path.string() + ": cannot open for writing");
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw Error(ErrorCode::kIo, path.string() + ": write failed");
}

void release_pages(const TensorView& t) {
  if (t.data == nullptr || t.nbytes == 0) return;
  static const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(t.data);
  const uintptr_t lo = (begin + page - 1) / page * page, hi = (begin + t.nbytes) / page * page;
  // Only whole pages inside the tensor: neighbours sharing a page keep theirs. Advice only: a
  // failure changes nothing but memory use.
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

}  // namespace maxact
