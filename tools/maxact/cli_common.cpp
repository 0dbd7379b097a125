#include "cli_common.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "maxact/error.h"
#include "maxact/hub.h"

namespace maxact::cli {

Tokenizer open_tokenizer(const std::string& source, bool use_tokenizer_config) {
  std::error_code ec;
  std::filesystem::path p = source;
  if (!std::filesystem::exists(p, ec)) p = resolve_model(source).dir;
  Tokenizer::Options o;
  o.use_tokenizer_config = use_tokenizer_config;
  return Tokenizer::load(p, o);
}

SequenceOptions sequence_options(const std::string& protocol, const std::string& bos,
                                 const std::string& buckets, int64_t max_seq_len, uint64_t seed) {
  SequenceOptions so;
  if (protocol == "study") {
    so = study_protocol_options();
  } else if (!protocol.empty()) {
    throw Error(ErrorCode::kCorpus, "--protocol: unknown protocol '" + protocol + "' (study)");
  } else {
    so.max_seq_len = max_seq_len;
    so.bos = bos == "always"  ? BosPolicy::kAlways
             : bos == "never" ? BosPolicy::kNever
                              : BosPolicy::kAuto;
    if (buckets == "study") {
      const auto st = study_protocol_options();
      so.buckets = st.buckets;
      so.bucket_weights = st.bucket_weights;
    } else if (!buckets.empty()) {
      throw Error(ErrorCode::kCorpus, "--buckets: unknown bucket set '" + buckets + "' (study)");
    }
  }
  so.seed = seed;
  return so;
}

void check_output_paths(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  for (const auto& p : paths) {
    if (p.empty()) continue;
    std::error_code ec;
    if (fs::is_directory(p, ec)) throw Error(ErrorCode::kIo, p + ": is a folder, not a file");
    fs::path dir = fs::path(p).parent_path();
    if (dir.empty()) dir = ".";
    if (!fs::is_directory(dir, ec)) {
      throw Error(ErrorCode::kIo, p + ": folder " + dir.string() + " does not exist");
    }
    if (access(dir.c_str(), W_OK) != 0) {
      throw Error(ErrorCode::kIo, p + ": folder " + dir.string() + " is not writable");
    }
  }
}

// Writes every file under a temporary name first and renames them only when all are written, so
// a failure leaves none of them (and no temporaries) behind.
void write_files(const std::vector<std::pair<std::string, std::string>>& files) {
  // Two outputs on one path would share a temporary and leave one of them half-renamed.
  for (std::size_t i = 0; i < files.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      std::error_code ec;
      if (files[i].first == files[j].first ||
          std::filesystem::equivalent(files[i].first, files[j].first, ec)) {
        throw Error(ErrorCode::kIo, files[i].first + ": given for two outputs");
      }
    }
  }
  std::vector<std::string> written;
  auto cleanup = [&] {
    std::error_code ec;
    for (const auto& t : written) std::filesystem::remove(t, ec);
  };
  for (const auto& [path, data] : files) {
    const std::string tmp = path + ".tmp";
    std::ofstream out(tmp, std::ios::binary);
    if (out) written.push_back(tmp);
    if (out) out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (out) out.close();  // a full disk may only show when the buffer is flushed
    if (!out) {
      cleanup();
      throw Error(ErrorCode::kIo, path + ": cannot write");
    }
  }
  for (const auto& [path, data] : files) {
    std::error_code ec;
    std::filesystem::rename(path + ".tmp", path, ec);
    if (ec) {
      cleanup();
      throw Error(ErrorCode::kIo, path + ": " + ec.message());
    }
  }
}

}  // namespace maxact::cli
