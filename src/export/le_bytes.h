// Little-endian fields appended to a byte string: the binary exports' one writer of scalars.
// GGUF, zip and the legacy imatrix are little-endian; so is every machine maxact builds for.
#pragma once

#include <cstring>
#include <string>

namespace maxact {

template <class T>
void put_le(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

}  // namespace maxact
