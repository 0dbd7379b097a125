// The byte form of a scan state (docs/STATE.md): fixed-width little-endian integers and IEEE
// bit patterns, lengths before sequences. One description per type, `io(ar, value)`, serves both
// directions, so what is written and what is read cannot drift apart. Reading never trusts a
// length: every byte is bounds-checked and sequences grow only as their bytes are read, so a
// truncated or hostile file is an Error naming the file, never a crash or a huge allocation.
#pragma once

#include <fmt/format.h>

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "maxact/error.h"
#include "maxact/int128.h"

namespace maxact::state {

static_assert(std::endian::native == std::endian::little, "the state format is little-endian");

// Written as their bytes. Enumerations are not: io_enum checks their range when read.
template <class T>
concept Raw = std::is_arithmetic_v<T> || std::is_same_v<T, int128> || std::is_same_v<T, uint128>;

class Writer {
 public:
  static constexpr bool kReading = false;
  std::string bytes;

  template <Raw T>
  void operator()(const T& v) {
    if constexpr (std::is_same_v<T, bool>) {
      bytes.push_back(v ? '\1' : '\0');
    } else {
      bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
  }
  void operator()(const std::string& s) {
    (*this)(static_cast<uint64_t>(s.size()));
    bytes += s;
  }
  template <class T>
  void operator()(const std::vector<T>& v) {
    (*this)(static_cast<uint64_t>(v.size()));
    if constexpr (Raw<T> && !std::is_same_v<T, bool>) {
      // An empty vector's data() may be null, which append and memcpy must not see.
      if (!v.empty()) bytes.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
    } else {
      for (const T& e : v) (*this)(e);
    }
  }
  template <class T, std::size_t N>
  void operator()(const std::array<T, N>& a) {
    for (const T& e : a) (*this)(e);
  }
  template <class A, class B>
  void operator()(const std::pair<A, B>& p) {
    (*this)(p.first);
    (*this)(p.second);
  }
  template <class K, class V>
  void operator()(const std::map<K, V>& m) {
    (*this)(static_cast<uint64_t>(m.size()));
    for (const auto& kv : m) (*this)(kv);
  }
  template <class T>
  void operator()(const std::optional<T>& o) {
    (*this)(o.has_value());
    if (o) (*this)(*o);
  }
  // A struct: its io() found by argument-dependent lookup.
  template <class T>
  requires(!Raw<T>) void operator()(const T& v) { io(*this, const_cast<T&>(v)); }
  void check(bool, std::string_view) {}
};

// A value to read into: default-constructed, or for the statistics (which need a channel count)
// constructed empty, the read then giving it its size.
template <class T>
T blank() {
  if constexpr (std::is_default_constructible_v<T>) {
    return T();
  } else {
    return T(0);
  }
}

class Reader {
 public:
  static constexpr bool kReading = true;
  Reader(std::string_view bytes, std::string file) : p_(bytes), file_(std::move(file)) {}

  template <Raw T>
  void operator()(T& v) {
    if constexpr (std::is_same_v<T, bool>) {
      const char c = take(1)[0];
      check(c == 0 || c == 1, "a flag that is neither 0 nor 1");
      v = c == 1;
    } else {
      std::memcpy(&v, take(sizeof v).data(), sizeof v);
    }
  }
  void operator()(std::string& s) { s = std::string(take(length(1))); }
  template <class T>
  void operator()(std::vector<T>& v) {
    v.clear();
    if constexpr (Raw<T> && !std::is_same_v<T, bool>) {
      const std::string_view b = take(length(sizeof(T)) * sizeof(T));
      v.resize(b.size() / sizeof(T));
      if (!b.empty()) std::memcpy(v.data(), b.data(), b.size());
    } else {
      const uint64_t n = length(1);
      for (uint64_t i = 0; i < n; ++i) {
        T e = blank<T>();
        (*this)(e);
        v.push_back(std::move(e));
      }
    }
  }
  template <class T, std::size_t N>
  void operator()(std::array<T, N>& a) {
    for (T& e : a) (*this)(e);
  }
  template <class A, class B>
  void operator()(std::pair<A, B>& p) {
    (*this)(p.first);
    (*this)(p.second);
  }
  template <class K, class V>
  void operator()(std::map<K, V>& m) {
    m.clear();
    const uint64_t n = length(1);
    for (uint64_t i = 0; i < n; ++i) {
      std::pair<K, V> kv;
      (*this)(kv);
      check(m.empty() || m.rbegin()->first < kv.first, "map keys out of order");
      m.emplace_hint(m.end(), std::move(kv));
    }
  }
  template <class T>
  void operator()(std::optional<T>& o) {
    bool has = false;
    (*this)(has);
    o.reset();
    if (has) {
      T v = blank<T>();
      (*this)(v);
      o = std::move(v);
    }
  }
  template <class T>
  requires(!Raw<T>) void operator()(T& v) { io(*this, v); }

  // A broken invariant of the decoded data: the file is not a state maxact wrote.
  void check(bool ok, std::string_view what) const {
    if (!ok) {
      throw Error(ErrorCode::kState,
                  fmt::format("{}: not a valid scan state ({} at byte {})", file_, what, offset()));
    }
  }
  bool done() const { return p_.empty(); }
  std::size_t offset() const { return consumed_; }
  const std::string& file() const { return file_; }

 private:
  std::string_view take(std::size_t n) {
    if (n > p_.size()) {
      throw Error(ErrorCode::kState, fmt::format("{}: scan state truncated ({} bytes missing at "
                                                 "byte {})",
                                                 file_, n - p_.size(), offset()));
    }
    const std::string_view out = p_.substr(0, n);
    p_.remove_prefix(n);
    consumed_ += n;
    return out;
  }
  // A count of elements of at least `min_bytes` each: no more than the bytes left can hold.
  uint64_t length(std::size_t min_bytes) {
    uint64_t n = 0;
    (*this)(n);
    check(n <= p_.size() / min_bytes, "a length past the end of the file");
    return n;
  }
  std::string_view p_;
  std::string file_;
  std::size_t consumed_ = 0;
};

// An enum read from a file: one of its first `count` values.
template <class Ar, class E>
void io_enum(Ar& ar, E& e, int count) {
  auto v = static_cast<int32_t>(e);
  ar(v);
  ar.check(v >= 0 && v < count, "an enumeration value out of range");
  e = static_cast<E>(v);
}

}  // namespace maxact::state
