#include "maxact/hub.h"

#include <cstdlib>
#include <regex>

#include "io/json_util.h"
#include "maxact/error.h"

namespace maxact {
namespace fs = std::filesystem;

std::vector<fs::path> hub_cache_dirs() {
  // huggingface_hub precedence: HF_HUB_CACHE, then HF_HOME/hub, then ~/.cache/huggingface/hub
  // (XDG_CACHE_HOME replaces ~/.cache when set).
  std::vector<fs::path> dirs;
  if (const char* v = std::getenv("HF_HUB_CACHE"); v != nullptr && *v != '\0') {
    dirs.emplace_back(v);
    return dirs;
  }
  if (const char* v = std::getenv("HF_HOME"); v != nullptr && *v != '\0') {
    dirs.push_back(fs::path(v) / "hub");
    return dirs;
  }
  if (const char* v = std::getenv("XDG_CACHE_HOME"); v != nullptr && *v != '\0') {
    dirs.push_back(fs::path(v) / "huggingface" / "hub");
    return dirs;
  }
  if (const char* v = std::getenv("HOME"); v != nullptr && *v != '\0') {
    dirs.push_back(fs::path(v) / ".cache" / "huggingface" / "hub");
  }
  return dirs;
}

namespace {

bool is_hex_hash(const std::string& s) {
  static const std::regex re("^[0-9a-f]{40}$");
  return std::regex_match(s, re);
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
  // Hub id: org/name[@revision]; names use letters, digits, '-', '_', '.'.
  static const std::regex id_re(
      R"(^([A-Za-z0-9][A-Za-z0-9._-]*)/([A-Za-z0-9][A-Za-z0-9._-]*)(@([A-Za-z0-9._/-]+))?$)");
  std::smatch m;
  if (!std::regex_match(arg, m, id_re)) {
    throw Error(ErrorCode::kNotFound,
                arg + ": no such folder, and not a hub id of the form org/name[@revision]");
  }
  const std::string org = m[1], name = m[2];
  const std::string revision = m[4].matched ? std::string(m[4]) : "main";
  if (revision.find("..") != std::string::npos) {
    throw Error(ErrorCode::kNotFound, arg + ": invalid revision '" + revision + "'");
  }
  const std::string repo_dir = "models--" + org + "--" + name;
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
      hash = trim(read_text_file(ref));
      looked += " (refs/" + revision + " -> " + hash + ")";
    } else if (is_hex_hash(revision)) {
      hash = revision;
    } else {
      looked += " (no refs/" + revision + ")";
      continue;
    }
    if (!is_hex_hash(hash)) {
      throw Error(ErrorCode::kNotFound,
                  ref.string() + ": does not hold a commit hash (found '" + hash + "')");
    }
    const fs::path snap = repo / "snapshots" / hash;
    if (fs::is_directory(snap, ec)) {
      return {snap, "hub id " + org + "/" + name + "@" + revision + " -> snapshot " + hash +
                        " in " + cache.string()};
    }
    looked += " (no snapshots/" + hash + ")";
  }
  if (looked.empty()) looked = "\n  (no cache folder: HF_HUB_CACHE, HF_HOME and HOME are unset)";
  throw Error(ErrorCode::kNotFound,
              arg + ": not a folder, and revision '" + revision +
                  "' not found in the local Hugging Face cache; looked in:" + looked);
}

}  // namespace maxact
