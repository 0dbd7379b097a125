// SHA-256 (FIPS 180-4), for content identities recorded in reports.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace maxact {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  std::string hex();  // finishes the hash

 private:
  void block(const unsigned char* p);
  uint32_t h_[8];
  unsigned char buf_[64];
  std::size_t used_ = 0;
  uint64_t bits_ = 0;
};

}  // namespace maxact
