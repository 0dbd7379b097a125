// Shared by the fuzz targets: the input as a file under a per-process scratch folder (the
// library reads paths, as users give them), and the one rule every target checks: hostile input
// ends in maxact::Error, never in a crash, a hang or any other exception.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "maxact/error.h"

namespace maxact::fuzz {

// Removed at exit (a crashing run leaves it behind for inspection).
struct Scratch {
  std::filesystem::path dir;
  Scratch()
      : dir(std::filesystem::temp_directory_path() /
            ("maxact-fuzz-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(dir);
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

inline const std::filesystem::path& scratch() {
  static const Scratch s;
  return s.dir;
}

inline std::filesystem::path write(const std::string& name, std::string_view bytes) {
  const auto p = scratch() / name;
  std::ofstream(p, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return p;
}

// Runs `f`; maxact::Error is the expected outcome of bad input, anything else propagates (and
// the fuzzer reports it).
template <class F>
void expect_clean(F&& f) {
  try {
    f();
  } catch (const Error&) {
  }
}

}  // namespace maxact::fuzz
