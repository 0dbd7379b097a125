#include "maxact/hub.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "io/json_util.h"
#include "maxact/error.h"

namespace maxact {
namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string home_dir() {
  std::string h = env("HOME");
  if (h.empty()) {
    if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_dir != nullptr) {
      h = pw->pw_dir;
    }
  }
  return h;
}

// Python's os.path.expandvars(os.path.expanduser(p)), as huggingface_hub applies to its paths:
// a leading ~ is the home folder; $NAME and ${NAME} expand when set and stay as written when not.
std::string expand_path(const std::string& p) {
  std::string s = p;
  if (s == "~" || s.starts_with("~/")) s = home_dir() + s.substr(1);
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] != '$') {
      out += s[i++];
      continue;
    }
    const bool braced = i + 1 < s.size() && s[i + 1] == '{';
    std::size_t j = i + (braced ? 2 : 1);
    std::size_t k = j;
    while (k < s.size() && (std::isalnum(static_cast<unsigned char>(s[k])) || s[k] == '_')) ++k;
    const bool closed = !braced || (k < s.size() && s[k] == '}');
    const char* v = k > j && closed ? std::getenv(s.substr(j, k - j).c_str()) : nullptr;
    const std::size_t end = braced && closed ? k + 1 : k;
    if (v != nullptr) {
      out += v;
    } else {
      out += s.substr(i, end > i ? end - i : 1);
    }
    i = end > i ? end : i + 1;
  }
  return out;
}

}  // namespace

std::vector<fs::path> hub_cache_dirs() {
  // huggingface_hub (constants.py): HF_HUB_CACHE, else the legacy HUGGINGFACE_HUB_CACHE, else
  // HF_HOME/hub, where HF_HOME defaults to $XDG_CACHE_HOME/huggingface or ~/.cache/huggingface.
  for (const char* var : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"}) {
    if (const std::string v = env(var); !v.empty()) return {fs::path(expand_path(v))};
  }
  if (const std::string v = env("HF_HOME"); !v.empty()) return {fs::path(expand_path(v)) / "hub"};
  if (const std::string v = env("XDG_CACHE_HOME"); !v.empty()) {
    return {fs::path(expand_path(v)) / "huggingface" / "hub"};
  }
  if (const std::string h = home_dir(); !h.empty()) {
    return {fs::path(h) / ".cache" / "huggingface" / "hub"};
  }
  return {};
}

namespace {

bool is_hex_hash(const std::string& s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Letters, digits, '.', '_', '-' (hub names and revision segments).
bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

// A hub name segment: name chars, starting with a letter or digit.
bool is_name(const std::string& s) {
  return !s.empty() && std::isalnum(static_cast<unsigned char>(s[0])) &&
         std::all_of(s.begin(), s.end(), is_name_char);
}

// Branch, tag, "refs/pr/N"-style or commit names: plain segments, never "." or "..", never
// absolute, so refs/<revision> stays inside the cache.
bool is_safe_revision(const std::string& r) {
  std::size_t start = 0;
  while (start <= r.size()) {
    const std::size_t end = std::min(r.find('/', start), r.size());
    const std::string seg = r.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == ".." ||
        !std::all_of(seg.begin(), seg.end(), is_name_char)) {
      return false;
    }
    start = end + 1;
  }
  return true;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

ResolvedModel resolve_model(const std::string& arg) {
  std::error_code ec;
  if (fs::is_directory(arg, ec)) return {fs::path(arg), "folder " + arg};
  if (fs::exists(arg, ec)) {
    throw Error(ErrorCode::kNotFound,
                arg + ": not a folder (give the model folder holding config.json)");
  }
  // Hub id: [org/]name[@revision]; names use letters, digits, '-', '_', '.'.
  const std::size_t at = arg.find('@');
  const std::string id = arg.substr(0, at);
  const std::size_t slash = id.find('/');
  const bool id_ok = slash == std::string::npos
                         ? is_name(id)
                         : is_name(id.substr(0, slash)) && is_name(id.substr(slash + 1));
  if (!id_ok) {
    throw Error(ErrorCode::kNotFound,
                arg + ": no such folder, and not a hub id of the form org/name[@revision]");
  }
  const std::string revision = at == std::string::npos ? "main" : arg.substr(at + 1);
  if (!is_safe_revision(revision)) {
    throw Error(ErrorCode::kNotFound, arg + ": invalid revision '" + revision + "'");
  }
  std::string repo_dir = "models--" + id;
  if (const auto sep = repo_dir.find('/'); sep != std::string::npos) {
    repo_dir.replace(sep, 1, "--");
  }
  std::string looked;
  for (const fs::path& cache : hub_cache_dirs()) {
    const fs::path repo = cache / repo_dir;
    looked += "\n  " + repo.string();
    if (!fs::is_directory(repo, ec)) {
      looked += " (absent)";
      continue;
    }
    std::string hash;
    const fs::path ref = repo / "refs" / revision;
    if (fs::is_regular_file(ref, ec)) {
      // A ref holds one 40-hex hash and a newline; anything far longer is not a ref.
      hash = trim(read_text_file(ref, 4096));
      looked += " (refs/" + revision + " -> " + quote_untrusted(hash, 64, false) + ")";
    } else if (is_hex_hash(revision)) {
      hash = revision;
    } else {
      looked += " (no refs/" + revision + ")";
      continue;
    }
    if (!is_hex_hash(hash)) {
      throw Error(ErrorCode::kNotFound, ref.string() + ": does not hold a commit hash (found " +
                                            quote_untrusted(hash, 64) + ")");
    }
    const fs::path snap = repo / "snapshots" / hash;
    if (fs::is_directory(snap, ec)) {
      return {snap,
              "hub id " + id + "@" + revision + " -> snapshot " + hash + " in " + cache.string()};
    }
    looked += " (no snapshots/" + hash + ")";
  }
  if (looked.empty()) looked = "\n  (no cache folder: HF_HUB_CACHE, HF_HOME and HOME are unset)";
  throw Error(ErrorCode::kNotFound,
              arg + ": not a folder, and revision '" + revision +
                  "' not found in the local Hugging Face cache; looked in:" + looked);
}

}  // namespace maxact
