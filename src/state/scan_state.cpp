#include "maxact/scan_state.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>

#include <zlib.h>

#include "compute/gemm.h"
#include "compute/linear.h"
#include "corpus/sha256.h"
#include "job/job_common.h"
#include "maxact/error.h"
#include "maxact/output_files.h"
#include "maxact/scan_report.h"
#include "state/job_identity.h"
#include "state/state_codec.h"

namespace maxact {
namespace state {

template <class Ar>
void io(Ar& ar, TokenContext& c) {
  ar(c.before);
  ar(c.token);
  ar(c.after);
}

constexpr int kMaxShards = 100000;  // as --shard accepts

template <class Ar>
void io(Ar& ar, ScanState& s) {
  ar(s.identity);
  ar(s.shard.index);
  ar(s.shard.count);
  ar(s.full_windows);
  ar(s.complete);
  ar(s.sequences_done);
  ar(s.result.scan);
  ar(s.result.meta);
  ar(s.result.quant);
  ar(s.has_tokenizer);
  ar(s.token_texts);
  ar(s.token_contexts);
  ar.check(s.shard.count >= 1 && s.shard.count <= kMaxShards && s.shard.index >= 0 &&
               s.shard.index < s.shard.count,
           "a shard index outside its count");
}

}  // namespace state

namespace {

// The file: magic, format version, flags, payload length, the payload's CRC-32, the CRC-32 of
// the header before it, the payload. (CRC-32, not a cryptographic hash: it guards against damage,
// at gigabytes a second, where SHA-256 cost a checkpoint more than its write.)
constexpr std::string_view kMagic{"maxact-state\r\n\x1a\n", 16};
constexpr std::size_t kHeader = kMagic.size() + 4 + 4 + 8 + 4 + 4;

uint32_t crc32_of(std::string_view bytes) {
  uLong c = crc32(0L, Z_NULL, 0);
  // zlib takes at most uInt bytes a call.
  for (std::size_t off = 0; off < bytes.size(); off += std::size_t{1} << 30) {
    const std::size_t n = std::min(bytes.size() - off, std::size_t{1} << 30);
    c = crc32(c, reinterpret_cast<const Bytef*>(bytes.data() + off), static_cast<uInt>(n));
  }
  return static_cast<uint32_t>(c);
}

std::string sha256_hex(std::string_view bytes) {
  Sha256 h;
  h.update(bytes);
  return h.hex();
}

// A model file as far as identity goes: its size and the hash of its first MiB (a safetensors
// header and the start of its data; the whole file of a config or tokenizer).
std::string file_identity(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::string head(std::size_t{1} << 20, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  std::error_code ec;
  const auto size = std::filesystem::file_size(p, ec);
  return fmt::format("{} bytes, first MiB sha256 {}", ec ? 0 : size, sha256_hex(head));
}

}  // namespace

std::map<std::string, std::string> job_identity(const ScanJob& job) {
  const ScanMeta meta = job::scan_meta(job, {job.picked, job.sequences, job.options.seed});
  std::map<std::string, std::string> id;
  id["maxact version"] = MAXACT_VERSION;
  id["model"] = meta.model_arg;
  for (const auto& p : input_files(job.model.dir())) {
    id["model file " + p.filename().string()] = file_identity(p);
  }
  const CorpusIdentity& c = meta.corpus;
  id["corpus"] = fmt::format("{} ({} samples, {} sequences, {} tokens, content sha256 {})",
                             c.origin, c.samples, c.sequences, c.tokens, c.content_hash);
  const nlohmann::json options = recorded_options_json(meta.options);
  for (const auto& [k, v] : options.items()) id["option " + k] = v.dump();
  id["tap names"] = meta.names == TapNames::kStudy ? "study" : "hf";
  // Kernels sum in their own orders: results agree bitwise only between equal kernels.
  id["linear kernel"] = linear_kernel_name(job.options.precision == Precision::kBf16);
  id["blas core"] = blas_core_name();
  if (job.options.quant) {
    id["calibration samples"] = job::selection_hash(job.corpus(), job.split.calibration);
  }
  return id;
}

namespace {

template <class F>
void for_each_location(const ScanResult& r, F&& f) {
  for (const TapStats& s : r.stats) {
    for (const Located* v : {&s.max(), &s.min()}) f(v->loc);
    for (const Located& v : s.top()) f(v.loc);
    for (const Located& v : s.massive_largest()) f(v.loc);
    f(s.peak_token().loc);
    f(s.max_ratio_token().loc);
  }
  for (const auto& tap : r.by_category) {
    for (const CategoryStats& c : tap) {
      f(c.max.loc);
      f(c.min.loc);
    }
  }
  for (const auto& layer : r.expert_down_in_max) {
    for (const Located& v : layer) f(v.loc);
  }
}

void require(bool ok, const std::string& message) {
  if (!ok) throw Error(ErrorCode::kState, message);
}

}  // namespace

ScanState scan_state(const ScanJob& job, const ScanJobResult& result) {
  ScanJobResult copy = result;
  return state_of(job, job_identity(job), std::move(copy));
}

ScanState state_of(const ScanJob& job, std::map<std::string, std::string> identity,
                   ScanJobResult&& result) {
  ScanState s;
  s.identity = std::move(identity);
  s.shard = job.options.shard;
  s.full_windows = count_windows(job.sequences, job.options.window_tokens);
  s.sequences_done = result.scan.sequences;
  const ScanMeta& m = result.meta;
  s.has_tokenizer = static_cast<bool>(m.token_text);
  if (s.has_tokenizer) {
    for_each_location(result.scan, [&](const Location& l) {
      if (!l.valid()) return;
      if (l.token >= 0 && !s.token_texts.count(l.token))
        s.token_texts[l.token] = m.token_text(l.token);
      const std::pair<int64_t, int32_t> key{l.sample, l.position};
      if (m.token_context && !s.token_contexts.count(key)) {
        if (auto c = m.token_context(l.sample, l.position, kContextRadius)) {
          s.token_contexts[key] = std::move(*c);
        }
      }
    });
  }
  // Moved last: when anything above throws, `result` is whole.
  s.result = std::move(result);
  s.result.meta.token_text = nullptr;
  s.result.meta.token_context = nullptr;
  return s;
}

std::string encode_state(const ScanState& s) {
  state::Writer w;
  w(s);
  state::Writer head;
  head.bytes = kMagic;
  head(ScanState::kFormatVersion);
  head(uint32_t{0});
  head(static_cast<uint64_t>(w.bytes.size()));
  head(crc32_of(w.bytes));
  head(crc32_of(head.bytes));
  return head.bytes + w.bytes;
}

ScanState decode_state(std::string_view bytes, const std::string& file) {
  require(bytes.size() >= kMagic.size() && bytes.substr(0, kMagic.size()) == kMagic,
          file + ": not a maxact scan state (no state header)");
  require(bytes.size() >= kHeader, file + ": scan state truncated (header incomplete)");
  state::Reader head(bytes.substr(kMagic.size(), kHeader - kMagic.size()), file);
  uint32_t version = 0, flags = 0, payload_crc = 0, header_crc = 0;
  uint64_t length = 0;
  // The version first: it sits where every version keeps it, the rest may change with it.
  head(version);
  require(version == ScanState::kFormatVersion,
          fmt::format("{}: scan state format version {}; this maxact reads version {}", file,
                      version, ScanState::kFormatVersion));
  head(flags);
  head(length);
  head(payload_crc);
  head(header_crc);
  require(crc32_of(bytes.substr(0, kHeader - 4)) == header_crc,
          file + ": scan state corrupted (header checksum mismatch)");
  require(flags == 0,
          fmt::format("{}: scan state flags {:#x} unknown to this maxact", file, flags));
  const std::string_view payload = bytes.substr(kHeader);
  require(payload.size() >= length,
          fmt::format("{}: scan state truncated ({} of {} bytes)", file, payload.size(), length));
  require(payload.size() == length,
          fmt::format("{}: {} bytes after the scan state", file, payload.size() - length));
  require(crc32_of(payload) == payload_crc, file + ": scan state corrupted (checksum mismatch)");
  ScanState s;
  state::Reader r(payload, file);
  r(s);
  r.check(r.done(), "bytes left after the state");
  return s;
}

ScanState read_state(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, path + ": cannot read the scan state");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(ErrorCode::kIo, path + ": read error");
  return decode_state(bytes, path);
}

std::string identity_difference(const std::map<std::string, std::string>& a,
                                const std::map<std::string, std::string>& b,
                                const std::string& in_a, const std::string& in_b) {
  std::set<std::string> keys;
  for (const auto& kv : a) keys.insert(kv.first);
  for (const auto& kv : b) keys.insert(kv.first);
  for (const std::string& k : keys) {
    const auto x = a.find(k), y = b.find(k);
    const std::string u = x == a.end() ? "(absent)" : x->second;
    const std::string v = y == b.end() ? "(absent)" : y->second;
    if (u != v) {
      return fmt::format("{}: {} in {}, {} in {}", k, quote_untrusted(u, 200), in_a,
                         quote_untrusted(v, 200), in_b);
    }
  }
  return "";
}

ScanJobResult merge_states(std::vector<ScanState> states, const std::vector<std::string>& files) {
  require(!states.empty() && states.size() == files.size(), "merge: no scan states given");
  std::vector<std::size_t> order(states.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    const ScanState& s = states[i];
    require(s.complete || s.sequences_done > 0 || !s.result.quant,
            files[i] +
                ": a calibration (scan --calibrate-only), not a finished shard: shards "
                "read it with --calibration");
    require(s.complete, fmt::format("{}: a checkpoint of a scan still running ({} sequences "
                                    "done), not a finished shard: resume it first",
                                    files[i], s.sequences_done));
    require(s.result.quant.has_value() == states[0].result.quant.has_value(),
            fmt::format("{} and {}: one ran the quantization check, the other not", files[0],
                        files[i]));
    if (s.result.quant) {
      for (const TapQuant& t : s.result.quant->result.taps) {
        require(!t.policies.empty(), files[i] + ": a finished state without quantization errors");
      }
    }
    if (const std::string d =
            identity_difference(states[0].identity, s.identity, files[0], files[i]);
        !d.empty()) {
      throw Error(ErrorCode::kState,
                  fmt::format("{} and {} are not parts of one scan ({})", files[0], files[i], d));
    }
    const auto total = static_cast<int64_t>(s.result.meta.corpus.sequences);
    const int64_t expected =
        total > s.shard.index ? (total - s.shard.index + s.shard.count - 1) / s.shard.count : 0;
    require(s.result.scan.sequences == expected,
            fmt::format("{}: shard {}/{} holds {} sequences; of {} it should hold {}", files[i],
                        s.shard.index, s.shard.count, s.result.scan.sequences, total, expected));
    require(s.shard.count == states[0].shard.count,
            fmt::format("{} is shard {}/{}, {} is shard {}/{}", files[0], states[0].shard.index,
                        states[0].shard.count, files[i], s.shard.index, s.shard.count));
    order[i] = i;
  }
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return states[a].shard.index < states[b].shard.index;
  });
  const int count = states[0].shard.count;
  std::string missing;
  for (int k = 0, j = 0; k < count; ++k) {
    if (j < static_cast<int>(order.size()) && states[order[j]].shard.index == k) {
      if (j + 1 < static_cast<int>(order.size()) && states[order[j + 1]].shard.index == k) {
        throw Error(ErrorCode::kState, fmt::format("shard {}/{} given twice: {} and {}", k, count,
                                                   files[order[j]], files[order[j + 1]]));
      }
      ++j;
    } else if (missing.size() < 120) {
      missing += fmt::format("{}{}", missing.empty() ? "" : ", ", k);
    } else if (!missing.ends_with("...")) {
      missing += ", ...";
    }
  }
  require(missing.empty(), fmt::format("merge: shard(s) {} of {} missing", missing, count));

  ScanState& first = states[order[0]];
  ScanJobResult out = std::move(first.result);
  auto texts = std::make_shared<std::map<int32_t, std::string>>(std::move(first.token_texts));
  auto contexts = std::make_shared<std::map<std::pair<int64_t, int32_t>, TokenContext>>(
      std::move(first.token_contexts));
  for (std::size_t j = 1; j < order.size(); ++j) {
    ScanState& s = states[order[j]];
    try {
      merge_scan_results(out.scan, s.result.scan);
      if (out.quant && s.result.quant) {
        merge_quant_results(out.quant->result, s.result.quant->result);
      }
    } catch (const Error& e) {
      throw Error(e.code(),
                  fmt::format("{} and {}: {}", files[order[0]], files[order[j]], e.what()));
    }
    out.meta.finished_at = std::max(out.meta.finished_at, s.result.meta.finished_at);
    texts->merge(s.token_texts);
    contexts->merge(s.token_contexts);
  }
  require(out.scan.tokens == out.meta.corpus.tokens,
          fmt::format("merge: {} hold {} tokens of the {} selected", fmt::join(files, ", "),
                      out.scan.tokens, out.meta.corpus.tokens));
  out.scan.windows = first.full_windows;
  if (first.has_tokenizer) {
    out.meta.token_text = [texts](int32_t id) {
      const auto it = texts->find(id);
      return it == texts->end() ? std::string() : it->second;
    };
    out.meta.token_context = [contexts](int64_t sample, int32_t position,
                                        int) -> std::optional<TokenContext> {
      const auto it = contexts->find({sample, position});
      if (it == contexts->end()) return std::nullopt;
      return it->second;
    };
  }
  return out;
}

}  // namespace maxact
