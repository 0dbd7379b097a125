#include "cli_common.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "maxact/error.h"

namespace maxact::cli {

std::string printable(std::string_view text, std::size_t max_line) {
  std::string out;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t nl = std::min(text.find('\n', pos), text.size());
    out += quote_untrusted(text.substr(pos, nl - pos), max_line, false);
    if (nl < text.size()) out += '\n';
    pos = nl + 1;
  }
  return out;
}

void write_stdout(const std::string& text, bool raw) {
  const std::string out = raw ? text : printable(text);
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    throw Error(ErrorCode::kIo, std::string("stdout: write failed: ") + std::strerror(errno));
  }
}

std::function<void(const std::string&)> warn_each(bool quiet) {
  if (quiet) return {};
  return [](const std::string& m) { std::fprintf(stderr, "warning: %s\n", printable(m).c_str()); };
}

}  // namespace maxact::cli
