#include "maxact/safetensors.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>

#include "io/json_util.h"
#include "io/mapped_file.h"
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

[[noreturn]] void fail(ErrorCode code, const std::string& file, const std::string& msg) {
  throw Error(code, file + ": " + msg);
}

std::string tensor_where(const std::string& name) {
  return "tensor " + quote_untrusted(name);
}

// Reads a non-negative integer that fits in int64 / uint64 from a JSON value.
bool as_u64(const json& v, uint64_t& out) {
  if (v.is_number_unsigned()) {
    out = v.get<uint64_t>();
    return true;
  }
  if (v.is_number_integer()) {
    const int64_t s = v.get<int64_t>();
    if (s < 0) return false;
    out = static_cast<uint64_t>(s);
    return true;
  }
  return false;
}

}  // namespace

SafetensorsFile::SafetensorsFile(const fs::path& path)
    : owned_path_(std::make_unique<std::string>(path.string())), path_(*owned_path_) {
  map_ = std::make_unique<MappedFile>(path_);
  file_size_ = map_->size();
  if (file_size_ < 8) {
    fail(ErrorCode::kHeaderTooSmall, path_,
         "not a safetensors file: " + std::to_string(file_size_) +
             " bytes, shorter than the 8-byte header length");
  }
  uint64_t n = 0;
  std::memcpy(&n, map_->data(), 8);  // little-endian on every platform maxact targets
  if (n > kMaxHeaderBytes) {
    fail(ErrorCode::kHeaderTooLarge, path_,
         "header length " + std::to_string(n) + " bytes is absurdly large (limit " +
             std::to_string(kMaxHeaderBytes) + "); not a safetensors file or corrupted");
  }
  if (n > file_size_ - 8) {
    fail(ErrorCode::kHeaderPastEnd, path_,
         "header length " + std::to_string(n) + " runs past the end of the file (" +
             std::to_string(file_size_) + " bytes); truncated download?");
  }
  header_size_ = n;
  const std::string_view text(reinterpret_cast<const char*>(map_->data() + 8), n);
  json header = parse_json(text, path_, ErrorCode::kHeaderJson, [&](const DuplicateKey& d) {
    if (d.depth == 1) {
      return Error(ErrorCode::kDuplicateTensor,
                   path_ + ": " + tensor_where(d.key) + " is listed twice in the header");
    }
    return Error(ErrorCode::kHeaderJson, path_ + ": header: key " + quote_untrusted(d.key) +
                                             " appears twice in " + quote_untrusted(d.parent));
  });
  if (!header.is_object()) {
    fail(ErrorCode::kHeaderJson, path_,
         "header must be a JSON object, found " + json_type_name(header));
  }

  const uint64_t data_begin = 8 + n;
  const uint64_t data_size = file_size_ - data_begin;
  tensors_.reserve(header.size());
  for (auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) {
        fail(ErrorCode::kHeaderJson, path_,
             "__metadata__ must be an object of strings, found " + json_type_name(entry));
      }
      for (auto& [k, v] : entry.items()) {
        if (!v.is_string()) {
          fail(ErrorCode::kHeaderJson, path_,
               "__metadata__ value '" + k + "' must be a string, found " + json_type_name(v));
        }
        metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string where = tensor_where(name);
    if (!entry.is_object()) {
      fail(ErrorCode::kHeaderJson, path_,
           where + ": entry must be an object, found " + json_type_name(entry));
    }
    for (auto& [k, v] : entry.items()) {
      if (k != "dtype" && k != "shape" && k != "data_offsets") {
        fail(ErrorCode::kHeaderJson, path_, where + ": unexpected field '" + k + "'");
      }
      (void)v;
    }
    TensorView t;
    t.name = name;
    t.file = owned_path_.get();
    const auto dt = entry.find("dtype");
    if (dt == entry.end() || !dt->is_string()) {
      fail(ErrorCode::kHeaderJson, path_, where + ": missing or non-string 'dtype'");
    }
    const auto parsed = dtype_from_name(dt->get<std::string>());
    if (!parsed) {
      fail(ErrorCode::kUnknownDtype, path_,
           where + ": unknown dtype '" + dt->get<std::string>() +
               "' (known: F64 F32 F16 BF16 F8_E4M3 F8_E5M2 I64 I32 I16 I8 U8 BOOL)");
    }
    t.dtype = *parsed;
    const auto sh = entry.find("shape");
    if (sh == entry.end() || !sh->is_array()) {
      fail(ErrorCode::kHeaderJson, path_, where + ": missing or non-array 'shape'");
    }
    // Element count with overflow detection: a forged shape must not wrap around to match a span.
    // `count` is the element count; `nonzero` the product of the non-zero dims, which must fit
    // too (a [0, 2^32, 2^32] shape is empty but its rows would overflow int64).
    uint64_t count = 1, nonzero = 1;
    bool overflow = false;
    for (const auto& d : *sh) {
      uint64_t v = 0;
      if (!as_u64(d, v) || v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        fail(ErrorCode::kHeaderJson, path_,
             where + ": shape entries must be non-negative integers, found " + json_excerpt(d));
      }
      t.shape.push_back(static_cast<int64_t>(v));
      if (v != 0 && count > std::numeric_limits<uint64_t>::max() / v) overflow = true;
      count *= v;
      if (v != 0) {
        if (nonzero > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / v)
          overflow = true;
        nonzero *= v;
      }
    }
    const auto off = entry.find("data_offsets");
    uint64_t begin = 0, end = 0;
    if (off == entry.end() || !off->is_array() || off->size() != 2 || !as_u64((*off)[0], begin) ||
        !as_u64((*off)[1], end)) {
      fail(ErrorCode::kHeaderJson, path_,
           where + ": 'data_offsets' must be [begin, end] with non-negative integers");
    }
    if (end < begin) {
      fail(ErrorCode::kSpanSize, path_,
           where + ": data_offsets end " + std::to_string(end) + " is before begin " +
               std::to_string(begin));
    }
    const uint64_t elem = dtype_size(t.dtype);
    if (overflow || count > std::numeric_limits<uint64_t>::max() / elem ||
        count * elem != end - begin) {
      std::string shape_s;
      for (auto d : t.shape) shape_s += (shape_s.empty() ? "" : ", ") + std::to_string(d);
      fail(ErrorCode::kSpanSize, path_,
           where + ": byte span " + std::to_string(end - begin) + " does not match dtype " +
               std::string(dtype_name(t.dtype)) + " x shape [" + shape_s + "]" +
               (overflow ? " (element count overflows)"
                         : " = " + std::to_string(count * elem) + " bytes"));
    }
    if (end > data_size) {
      fail(ErrorCode::kSpanOutside, path_,
           where + ": byte span [" + std::to_string(begin) + ", " + std::to_string(end) +
               ") lies outside the data section (" + std::to_string(data_size) + " bytes)");
    }
    t.nbytes = end - begin;
    t.file_offset = data_begin + begin;
    t.data = map_->data() + data_begin + begin;
    tensors_.push_back(std::move(t));
  }

  // The data section must be covered exactly: sorted spans neither overlap nor leave gaps, and
  // the last one ends at the end of the file, as the reference implementation requires.
  std::vector<const TensorView*> order;
  for (const auto& t : tensors_) {
    if (t.nbytes > 0) order.push_back(&t);
  }
  std::sort(order.begin(), order.end(), [](const TensorView* a, const TensorView* b) {
    return a->file_offset < b->file_offset;
  });
  uint64_t covered = data_begin;
  const TensorView* prev = nullptr;
  for (const TensorView* cur : order) {
    if (cur->file_offset < covered) {
      fail(ErrorCode::kSpanOverlap, path_,
           tensor_where(cur->name) + " overlaps " + tensor_where(prev->name) +
               " in the data section");
    }
    if (cur->file_offset > covered) {
      fail(ErrorCode::kSpanGap, path_,
           std::to_string(cur->file_offset - covered) + " bytes before " + tensor_where(cur->name) +
               " belong to no tensor (data offset " + std::to_string(covered - data_begin) + ")");
    }
    covered = cur->file_offset + cur->nbytes;
    prev = cur;
  }
  if (covered != file_size_) {
    fail(ErrorCode::kSpanGap, path_,
         std::to_string(file_size_ - covered) +
             " bytes after the last tensor belong to no tensor (truncated header or extra data)");
  }
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
    std::string found;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.path().extension() == ".safetensors") found += " " + e.path().filename().string();
    }
    throw Error(ErrorCode::kNoCheckpoint,
                dir.string() + ": no model.safetensors or model.safetensors.index.json" +
                    (found.empty() ? std::string(" (no .safetensors files at all)")
                                   : "; found only:" + found));
  }

  Checkpoint c;
  c.source_ = index_path.string();
  const std::string& ipath = c.source_;
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
  // Shard name -> tensors the index places there, in first-seen order of shards.
  std::vector<std::string> shard_order;
  std::map<std::string, std::vector<std::string>> expected;
  for (auto& [tensor, shard] : index["weight_map"].items()) {
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
    auto [it, inserted] = expected.try_emplace(name);
    if (inserted) shard_order.push_back(name);
    it->second.push_back(tensor);
  }
  for (const auto& name : shard_order) {
    if (!fs::exists(dir / name, ec)) {
      throw Error(ErrorCode::kShardMissing, ipath + ": shard '" + name + "' (holding " +
                                                tensor_where(expected[name][0]) + " and " +
                                                std::to_string(expected[name].size() - 1) +
                                                " more) does not exist in " + dir.string());
    }
  }
  c.shards_.reserve(shard_order.size());
  for (const auto& name : shard_order) {
    c.add_shard(SafetensorsFile(dir / name));
    const SafetensorsFile& s = c.shards_.back();
    // Loaders find tensors through weight_map only, so both directions must agree.
    const std::vector<std::string>& listed = expected[name];
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
        throw Error(ErrorCode::kShardContents, ipath + ": index places " + tensor_where(t) +
                                                   " in '" + name +
                                                   "' but that shard does not contain it");
      }
    }
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

void write_safetensors(const fs::path& path, const std::vector<TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data section 8-byte aligned, as HF writes it
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(ErrorCode::kIo, path.string() + ": cannot open for writing");
  const uint64_t n = text.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto& t : tensors) {
    out.write(reinterpret_cast<const char*>(t.bytes.data()),
              static_cast<std::streamsize>(t.bytes.size()));
  }
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
