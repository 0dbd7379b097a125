#include "export/gguf_writer.h"

#include <cstring>
#include <stdexcept>

#include "export/le_bytes.h"

namespace maxact {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint32_t kVersion = 3;
constexpr uint64_t kAlignment = 32;  // general.alignment's default
constexpr uint32_t kTypeU32 = 4, kTypeString = 8, kTypeArray = 9;
constexpr uint32_t kGgmlF32 = 0;

void put_string(std::string& out, const std::string& s) {
  put_le<uint64_t>(out, s.size());
  out += s;
}

void pad(std::string& out) {
  out.append((kAlignment - out.size() % kAlignment) % kAlignment, '\0');
}

}  // namespace

void GgufWriter::add_u32(const std::string& key, uint32_t v) {
  put_string(kv_, key);
  put_le(kv_, kTypeU32);
  put_le(kv_, v);
  ++kv_count_;
}

void GgufWriter::add_string(const std::string& key, const std::string& v) {
  put_string(kv_, key);
  put_le(kv_, kTypeString);
  put_string(kv_, v);
  ++kv_count_;
}

void GgufWriter::add_string_array(const std::string& key, const std::vector<std::string>& v) {
  put_string(kv_, key);
  put_le(kv_, kTypeArray);
  put_le(kv_, kTypeString);
  put_le<uint64_t>(kv_, v.size());
  for (const std::string& s : v) put_string(kv_, s);
  ++kv_count_;
}

void GgufWriter::add_f32(const std::string& name, std::vector<int64_t> ne,
                         std::vector<float> data) {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  if (n != static_cast<int64_t>(data.size())) {
    throw std::logic_error("GGUF tensor " + name + ": shape and data disagree");
  }
  while (ne.size() > 1 && ne.back() == 1) ne.pop_back();
  tensors_.push_back({name, std::move(ne), std::move(data)});
}

std::string GgufWriter::bytes() const {
  std::string out;
  put_le(out, kMagic);
  put_le(out, kVersion);
  put_le<uint64_t>(out, tensors_.size());
  put_le<uint64_t>(out, kv_count_);
  out += kv_;
  uint64_t offset = 0;  // from the start of the data section
  for (const Tensor& t : tensors_) {
    put_string(out, t.name);
    put_le<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) put_le<uint64_t>(out, static_cast<uint64_t>(d));
    put_le(out, kGgmlF32);
    put_le(out, offset);
    const uint64_t size = t.data.size() * sizeof(float);
    offset += size + (kAlignment - size % kAlignment) % kAlignment;
  }
  pad(out);
  for (const Tensor& t : tensors_) {
    out.append(reinterpret_cast<const char*>(t.data.data()), t.data.size() * sizeof(float));
    pad(out);
  }
  return out;
}

}  // namespace maxact
