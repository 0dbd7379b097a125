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

std::function<void(const std::string&)> note_each(bool quiet) {
  if (quiet) return {};
  return [](const std::string& m) { std::fprintf(stderr, "maxact: %s\n", printable(m).c_str()); };
}

std::string shell_command(int argc, char** argv) {
  // The program by its name, not the path it was started from.
  std::string out = "maxact";
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const bool plain = !a.empty() && a.find_first_not_of(
                                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789@%+=:,./_-") == std::string_view::npos;
    out += ' ';
    if (plain) {
      out += a;
      continue;
    }
    out += '\'';
    for (char c : a) {
      if (c == '\'') {
        out += "'\\''";
      } else {
        out += c;
      }
    }
    out += '\'';
  }
  return out;
}

}  // namespace maxact::cli
