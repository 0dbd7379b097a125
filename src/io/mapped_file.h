// Read-only memory mapping of a whole file (POSIX mmap). Zero-length files map to nothing.
#pragma once

#include <cstdint>
#include <string>

namespace maxact {

// Opens `path` read-only if it is a regular file; throws kIo naming the file otherwise. The open
// does not block (O_NONBLOCK), so a FIFO or device under a model's file name is refused instead
// of hanging; `size` receives the file's size.
int open_regular_file(const std::string& path, uint64_t& size);

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  const unsigned char* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace maxact
