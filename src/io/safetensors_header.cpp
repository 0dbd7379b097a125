#include "io/safetensors_header.h"

#include <algorithm>
#include <limits>

#include "io/json_util.h"

namespace maxact::safetensors_detail {
using nlohmann::json;

void fail(ErrorCode code, const std::string& file, const std::string& msg) {
  throw Error(code, file + ": " + msg);
}

std::string tensor_where(const std::string& name) {
  return "tensor " + quote_untrusted(name);
}

namespace {

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

// An entry is an object with no fields but dtype, shape and data_offsets.
void check_entry_fields(const json& entry, const std::string& file, const std::string& where) {
  if (!entry.is_object()) {
    fail(ErrorCode::kHeaderJson, file,
         where + ": entry must be an object, found " + json_type_name(entry));
  }
  for (auto& [k, v] : entry.items()) {
    if (k != "dtype" && k != "shape" && k != "data_offsets") {
      fail(ErrorCode::kHeaderJson, file, where + ": unexpected field '" + k + "'");
    }
    (void)v;
  }
}

DType parse_dtype(const json& entry, const std::string& file, const std::string& where) {
  const auto dt = entry.find("dtype");
  if (dt == entry.end() || !dt->is_string()) {
    fail(ErrorCode::kHeaderJson, file, where + ": missing or non-string 'dtype'");
  }
  const auto parsed = dtype_from_name(dt->get<std::string>());
  if (!parsed) {
    fail(ErrorCode::kUnknownDtype, file,
         where + ": unknown dtype '" + dt->get<std::string>() +
             "' (known: F64 F32 F16 BF16 F8_E4M3 F8_E5M2 I64 I32 I16 I8 U8 BOOL)");
  }
  return *parsed;
}

struct ElementCount {
  uint64_t count = 1;
  bool overflow = false;
};

// Fills `shape`; returns the element count with overflow detection: a forged shape must not wrap
// around to match a span. `count` is the element count; `nonzero` the product of the non-zero
// dims, which must fit too (a [0, 2^32, 2^32] shape is empty but its rows would overflow int64).
ElementCount parse_shape(const json& entry, const std::string& file, const std::string& where,
                         std::vector<int64_t>& shape) {
  const auto sh = entry.find("shape");
  if (sh == entry.end() || !sh->is_array()) {
    fail(ErrorCode::kHeaderJson, file, where + ": missing or non-array 'shape'");
  }
  uint64_t count = 1, nonzero = 1;
  bool overflow = false;
  for (const auto& d : *sh) {
    uint64_t v = 0;
    if (!as_u64(d, v) || v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      fail(ErrorCode::kHeaderJson, file,
           where + ": shape entries must be non-negative integers, found " + json_excerpt(d));
    }
    shape.push_back(static_cast<int64_t>(v));
    if (v != 0 && count > std::numeric_limits<uint64_t>::max() / v) overflow = true;
    count *= v;
    if (v != 0) {
      if (nonzero > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / v) overflow = true;
      nonzero *= v;
    }
  }
  return {count, overflow};
}

// Byte offsets relative to the start of the data section, begin <= end.
struct Span {
  uint64_t begin = 0, end = 0;
};

Span parse_span(const json& entry, const std::string& file, const std::string& where) {
  const auto off = entry.find("data_offsets");
  uint64_t begin = 0, end = 0;
  if (off == entry.end() || !off->is_array() || off->size() != 2 || !as_u64((*off)[0], begin) ||
      !as_u64((*off)[1], end)) {
    fail(ErrorCode::kHeaderJson, file,
         where + ": 'data_offsets' must be [begin, end] with non-negative integers");
  }
  if (end < begin) {
    fail(ErrorCode::kSpanSize, file,
         where + ": data_offsets end " + std::to_string(end) + " is before begin " +
             std::to_string(begin));
  }
  return {begin, end};
}

// The span holds exactly dtype size x element count bytes.
void check_span_size(const TensorView& t, ElementCount n, Span s, const std::string& file,
                     const std::string& where) {
  const uint64_t begin = s.begin, end = s.end, count = n.count;
  const bool overflow = n.overflow;
  const uint64_t elem = dtype_size(t.dtype);
  if (overflow || count > std::numeric_limits<uint64_t>::max() / elem ||
      count * elem != end - begin) {
    std::string shape_s;
    for (auto d : t.shape) shape_s += (shape_s.empty() ? "" : ", ") + std::to_string(d);
    fail(ErrorCode::kSpanSize, file,
         where + ": byte span " + std::to_string(end - begin) + " does not match dtype " +
             std::string(dtype_name(t.dtype)) + " x shape [" + shape_s + "]" +
             (overflow ? " (element count overflows)"
                       : " = " + std::to_string(count * elem) + " bytes"));
  }
}

}  // namespace

void read_metadata(const json& entry, const std::string& file,
                   std::map<std::string, std::string>& metadata) {
  if (!entry.is_object()) {
    fail(ErrorCode::kHeaderJson, file,
         "__metadata__ must be an object of strings, found " + json_type_name(entry));
  }
  for (auto& [k, v] : entry.items()) {
    if (!v.is_string()) {
      fail(ErrorCode::kHeaderJson, file,
           "__metadata__ value '" + k + "' must be a string, found " + json_type_name(v));
    }
    metadata[k] = v.get<std::string>();
  }
}

TensorView parse_tensor_entry(const std::string& file, const std::string& name, const json& entry,
                              uint64_t data_begin, uint64_t data_size) {
  const std::string where = tensor_where(name);
  check_entry_fields(entry, file, where);
  TensorView t;
  t.name = name;
  t.dtype = parse_dtype(entry, file, where);
  const ElementCount n = parse_shape(entry, file, where, t.shape);
  const Span s = parse_span(entry, file, where);
  check_span_size(t, n, s, file, where);
  if (s.end > data_size) {
    fail(ErrorCode::kSpanOutside, file,
         where + ": byte span [" + std::to_string(s.begin) + ", " + std::to_string(s.end) +
             ") lies outside the data section (" + std::to_string(data_size) + " bytes)");
  }
  t.nbytes = s.end - s.begin;
  t.file_offset = data_begin + s.begin;
  return t;
}

void check_coverage(const std::vector<TensorView>& tensors, uint64_t data_begin, uint64_t file_size,
                    const std::string& file) {
  std::vector<const TensorView*> order;
  for (const auto& t : tensors) {
    if (t.nbytes > 0) order.push_back(&t);
  }
  std::sort(order.begin(), order.end(), [](const TensorView* a, const TensorView* b) {
    return a->file_offset < b->file_offset;
  });
  uint64_t covered = data_begin;
  const TensorView* prev = nullptr;
  for (const TensorView* cur : order) {
    if (cur->file_offset < covered) {
      fail(ErrorCode::kSpanOverlap, file,
           tensor_where(cur->name) + " overlaps " + tensor_where(prev->name) +
               " in the data section");
    }
    if (cur->file_offset > covered) {
      fail(ErrorCode::kSpanGap, file,
           std::to_string(cur->file_offset - covered) + " bytes before " + tensor_where(cur->name) +
               " belong to no tensor (data offset " + std::to_string(covered - data_begin) + ")");
    }
    covered = cur->file_offset + cur->nbytes;
    prev = cur;
  }
  if (covered != file_size) {
    fail(ErrorCode::kSpanGap, file,
         std::to_string(file_size - covered) +
             " bytes after the last tensor belong to no tensor (truncated header or extra data)");
  }
}

}  // namespace maxact::safetensors_detail
