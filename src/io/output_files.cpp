#include "maxact/output_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "maxact/error.h"

namespace maxact {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw Error(ErrorCode::kIo, path + ": " + problem);
}

// The same file spelled differently ("./x" and "x", a symlinked folder) compares equal; an
// existing file is also compared by identity (hard links).
bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec1, ec2, ec3;
  const fs::path ca = fs::weakly_canonical(fs::absolute(a), ec1);
  const fs::path cb = fs::weakly_canonical(fs::absolute(b), ec2);
  if (!ec1 && !ec2 && ca == cb) return true;
  return fs::equivalent(a, b, ec3) && !ec3;
}

fs::path folder_of(const fs::path& p) {
  const fs::path dir = p.parent_path();
  return dir.empty() ? fs::path(".") : dir;
}

// A temporary beside `target`, created exclusively (never an existing file or symlink).
std::string make_temp(const fs::path& target, int& fd) {
  // Appended piecewise: GCC 12 at -O3 warns (-Wrestrict, a false positive) on "." + string.
  std::string name = ".";
  name += target.filename().string();
  name += ".maxact-XXXXXX";
  std::string tmpl = (folder_of(target) / name).string();
  fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0)
    fail(target.string(),
         std::string("cannot create a temporary file beside it: ") + std::strerror(errno));
  // mkostemp makes 0600; the output gets the permissions a plain create would give it.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  return tmpl;
}

void write_all(int fd, const std::string& data, const std::string& target) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(target, std::string("write failed: ") + std::strerror(n < 0 ? errno : EIO));
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail(target, std::string("write failed: ") + std::strerror(errno));
}

}  // namespace

std::vector<fs::path> input_files(const fs::path& path) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    for (const auto& e : fs::directory_iterator(path, ec)) {
      std::error_code ec2;
      if (e.is_regular_file(ec2)) out.push_back(e.path());
    }
  } else if (fs::exists(path, ec)) {
    out.push_back(path);
  }
  return out;
}

void check_outputs(const std::vector<std::string>& outputs, const std::vector<fs::path>& inputs) {
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const std::string& p = outputs[i];
    if (p.empty()) continue;
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) fail(p, "is a folder, not a file");
      if (!S_ISREG(st.st_mode)) fail(p, "exists and is not a regular file; refusing to replace it");
    }
    const fs::path dir = folder_of(p);
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) fail(p, "folder " + dir.string() + " does not exist");
    if (::access(dir.c_str(), W_OK) != 0) fail(p, "folder " + dir.string() + " is not writable");
    for (std::size_t j = 0; j < i; ++j) {
      if (!outputs[j].empty() && same_file(p, outputs[j])) {
        fail(p, "given for two outputs (also as " + outputs[j] + ")");
      }
    }
    for (const fs::path& in : inputs) {
      if (same_file(p, in))
        fail(p, "is an input of this run (" + in.string() + "); refusing to overwrite it");
    }
  }
}

void commit_outputs(const std::vector<std::pair<std::string, std::string>>& files,
                    const std::vector<fs::path>& inputs) {
  std::vector<std::string> paths;
  for (const auto& f : files) paths.push_back(f.first);
  check_outputs(paths, inputs);
  std::vector<std::string> temps;    // written contents, one per file
  std::vector<std::string> backups;  // hard links to the previous contents ("" = none)
  auto remove_all = [](const std::vector<std::string>& v) {
    for (const auto& t : v) {
      if (!t.empty()) ::unlink(t.c_str());
    }
  };
  try {
    for (const auto& [path, data] : files) {
      int fd = -1;
      temps.push_back(make_temp(path, fd));
      try {
        write_all(fd, data, path);
      } catch (...) {
        ::close(fd);
        throw;
      }
      if (::close(fd) != 0) fail(path, std::string("write failed: ") + std::strerror(errno));
    }
    // Previous contents stay reachable (a hard link) until every rename succeeded; the targets
    // themselves are only ever replaced atomically.
    for (const auto& [path, data] : files) {
      std::string backup;
      struct stat st {};
      if (::lstat(path.c_str(), &st) == 0) {
        int fd = -1;
        backup = make_temp(path, fd);
        ::close(fd);
        ::unlink(backup.c_str());
        if (::link(path.c_str(), backup.c_str()) != 0) {
          fail(path, std::string("cannot keep its previous contents while replacing it: ") +
                         std::strerror(errno));
        }
      }
      backups.push_back(backup);
    }
  } catch (...) {
    remove_all(backups);
    remove_all(temps);
    throw;
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (::rename(temps[i].c_str(), files[i].first.c_str()) != 0) {
      const int err = errno;
      for (std::size_t k = 0; k < i; ++k) {
        if (backups[k].empty()) {
          ::unlink(files[k].first.c_str());
        } else {
          ::rename(backups[k].c_str(), files[k].first.c_str());
        }
      }
      remove_all(backups);
      remove_all(temps);
      fail(files[i].first, std::string("cannot rename into place: ") + std::strerror(err));
    }
  }
  remove_all(backups);
}

}  // namespace maxact
