#include "export/torch_writer.h"

#include <zlib.h>

#include <cstring>
#include <stdexcept>
#include <utility>

#include "export/le_bytes.h"

namespace maxact {

namespace {

// ---- pickle (protocol 2; the opcodes of Python's pickletools) --------------------------------

class Pickle {
 public:
  Pickle() { out_ += "\x80\x02"; }  // PROTO 2
  void raw(const char* op) { out_ += op; }
  void str(const std::string& s) {  // BINUNICODE
    out_ += 'X';
    put_le<uint32_t>(out_, static_cast<uint32_t>(s.size()));
    out_ += s;
  }
  void global(const char* module, const char* name) {  // GLOBAL
    out_ += 'c';
    out_ += module;
    out_ += '\n';
    out_ += name;
    out_ += '\n';
  }
  void integer(int64_t v) {
    if (v >= INT32_MIN && v <= INT32_MAX) {  // BININT
      out_ += 'J';
      put_le<int32_t>(out_, static_cast<int32_t>(v));
    } else {  // LONG1: 8 little-endian two's-complement bytes
      out_ += "\x8a\x08";
      put_le<int64_t>(out_, v);
    }
  }
  void int_tuple(const std::vector<int64_t>& v) {
    out_ += '(';  // MARK
    for (int64_t x : v) integer(x);
    out_ += 't';  // TUPLE
  }
  std::string finish() {
    out_ += '.';  // STOP
    return std::move(out_);
  }

 private:
  std::string out_;
};

// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks), the
// storage a persistent id ('storage', torch.FloatStorage, key, 'cpu', numel).
void tensor(Pickle& p, const TorchTensor& t, const std::string& key) {
  std::vector<int64_t> stride(t.shape.size(), 1);
  for (std::size_t i = t.shape.size(); i-- > 1;) stride[i - 1] = stride[i] * t.shape[i];
  p.global("torch._utils", "_rebuild_tensor_v2");
  p.raw("(");
  p.raw("(");
  p.str("storage");
  p.global("torch", "FloatStorage");
  p.str(key);
  p.str("cpu");
  p.integer(static_cast<int64_t>(t.data.size()));
  p.raw("t");
  p.raw("Q");  // BINPERSID
  p.integer(0);
  p.int_tuple(t.shape);
  p.int_tuple(stride);
  p.raw("\x89");  // NEWFALSE: requires_grad
  p.global("collections", "OrderedDict");
  p.raw(")R");  // OrderedDict(): no backward hooks
  p.raw("t");
  p.raw("R");  // REDUCE
}

// ---- zip (stored records, no compression; PKWARE APPNOTE 4.3) --------------------------------

class Zip {
 public:
  void add(const std::string& name, const std::string& data) {
    const uint32_t crc = static_cast<uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
    if (data.size() > UINT32_MAX || out_.size() > UINT32_MAX) {
      throw std::length_error("torch archive over 4 GiB");
    }
    // Pad through an extra field so the data starts 64-byte aligned, as torch.save does.
    const std::size_t header = 30 + name.size() + 4;
    const std::size_t pad = (64 - (out_.size() + header) % 64) % 64;
    const auto offset = static_cast<uint32_t>(out_.size());
    put_le<uint32_t>(out_, 0x04034b50);
    entry_fields(out_, crc, data.size(), name.size());
    put_le<uint16_t>(out_, static_cast<uint16_t>(4 + pad));  // extra field length
    out_ += name;
    put_le<uint16_t>(out_, 0x4246);  // "FB": the padding field torch uses
    put_le<uint16_t>(out_, static_cast<uint16_t>(pad));
    out_.append(pad, 'Z');
    out_ += data;
    put_le<uint32_t>(cd_, 0x02014b50);
    put_le<uint16_t>(cd_, 20);  // version made by
    entry_fields(cd_, crc, data.size(), name.size());
    put_le<uint16_t>(cd_, 0);  // extra field length
    put_le<uint16_t>(cd_, 0);  // comment length
    put_le<uint16_t>(cd_, 0);  // disk
    put_le<uint16_t>(cd_, 0);  // internal attributes
    put_le<uint32_t>(cd_, 0);  // external attributes
    put_le<uint32_t>(cd_, offset);
    cd_ += name;
    ++entries_;
  }
  std::string finish() {
    const auto cd_offset = static_cast<uint32_t>(out_.size());
    out_ += cd_;
    put_le<uint32_t>(out_, 0x06054b50);
    put_le<uint16_t>(out_, 0);
    put_le<uint16_t>(out_, 0);
    put_le<uint16_t>(out_, entries_);
    put_le<uint16_t>(out_, entries_);
    put_le<uint32_t>(out_, static_cast<uint32_t>(cd_.size()));
    put_le<uint32_t>(out_, cd_offset);
    put_le<uint16_t>(out_, 0);  // comment length
    return std::move(out_);
  }

 private:
  // From "version needed" to the name length: shared by local and central headers.
  static void entry_fields(std::string& s, uint32_t crc, std::size_t size, std::size_t name) {
    put_le<uint16_t>(s, 20);      // version needed
    put_le<uint16_t>(s, 0);       // flags
    put_le<uint16_t>(s, 0);       // stored
    put_le<uint16_t>(s, 0);       // time
    put_le<uint16_t>(s, 0x0021);  // date: 1980-01-01, a fixed stamp keeps the file reproducible
    put_le<uint32_t>(s, crc);
    put_le<uint32_t>(s, static_cast<uint32_t>(size));
    put_le<uint32_t>(s, static_cast<uint32_t>(size));
    put_le<uint16_t>(s, static_cast<uint16_t>(name));
  }
  std::string out_, cd_;
  uint16_t entries_ = 0;
};

}  // namespace

std::string torch_save_dict(const std::vector<TorchTensor>& tensors) {
  if (tensors.size() > 60000) throw std::length_error("torch archive: too many tensors");
  Pickle p;
  p.raw("}");  // EMPTY_DICT
  p.raw("(");
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    p.str(tensors[i].name);
    tensor(p, tensors[i], std::to_string(i));
  }
  p.raw("u");  // SETITEMS
  Zip z;
  z.add("archive/data.pkl", p.finish());
  z.add("archive/byteorder", "little");
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::vector<float>& d = tensors[i].data;
    std::string bytes(d.size() * sizeof(float), '\0');
    if (!d.empty()) std::memcpy(bytes.data(), d.data(), bytes.size());
    z.add("archive/data/" + std::to_string(i), bytes);
  }
  z.add("archive/version", "3\n");
  return z.finish();
}

}  // namespace maxact
