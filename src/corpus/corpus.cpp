#include "maxact/corpus.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "corpus/builtin_data.h"
#include "corpus/sha256.h"
#include "io/json_util.h"
#include "maxact/error.h"
#include "maxact/int128.h"
#include "maxact/tokenizer.h"

namespace maxact {
namespace fs = std::filesystem;
using nlohmann::json;

std::string Corpus::content_hash() const {
  Sha256 h;
  for (const Sample& s : samples) {
    // Length-prefixed fields keep the encoding unambiguous.
    const std::string body = s.has_ids ? json(s.ids).dump() : s.text;
    for (const std::string* f : {&s.category, &body}) {
      h.update(std::to_string(f->size()) + ":");
      h.update(*f);
    }
    h.update(s.has_ids ? "I" : "T");
  }
  return h.hex();
}

namespace {

std::string field_string(const json& j, const std::string& key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// One JSONL line -> sample; a malformed line is an Error naming `where` (file:line).
Sample parse_line(const std::string& line, const CorpusReadOptions& o, const std::string& where) {
  const auto bad = [&](const std::string& problem) {
    throw Error(ErrorCode::kCorpus, where + ": " + problem);
  };
  const json j =
      parse_json(line, where, ErrorCode::kCorpus, duplicate_key_error(where, ErrorCode::kCorpus));
  if (!j.is_object()) bad("each line must be a JSON object");
  Sample s;
  auto t = j.find(o.text_field);
  auto ids = j.find(o.ids_field);
  if (t != j.end() && !t->is_null()) {
    if (!t->is_string()) bad("'" + o.text_field + "' must be a string");
    s.text = t->get<std::string>();
  } else if (ids != j.end() && !ids->is_null()) {
    if (!ids->is_array()) bad("'" + o.ids_field + "' must be a list of token ids");
    for (const json& v : *ids) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 0x7FFFFFFF) {
        bad("'" + o.ids_field + "' must hold non-negative integers, found " + json_excerpt(v));
      }
      s.ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
    }
    s.has_ids = true;
  } else {
    bad("no '" + o.text_field + "' or '" + o.ids_field + "' field");
  }
  if (auto c = j.find(o.category_field); c != j.end() && !c->is_null()) {
    if (!c->is_string()) bad("'" + o.category_field + "' must be a string");
    s.category = c->get<std::string>();
  }
  s.lang = field_string(j, "lang");
  s.source = field_string(j, "source");
  s.license = field_string(j, "license");
  return s;
}

void add_sample(Corpus& c, Sample s, CorpusReadReport& r) {
  if (!s.has_ids) r.invalid_utf8_bytes += repair_utf8(s.text);
  if ((s.has_ids && s.ids.empty()) || (!s.has_ids && s.text.empty())) {
    ++r.empty_samples;
    return;
  }
  c.samples.push_back(std::move(s));
}

void read_jsonl(std::istream& in, const std::string& name, const CorpusReadOptions& o, Corpus& c,
                CorpusReadReport& r) {
  std::string line;
  for (uint64_t lineno = 1; std::getline(in, line); ++lineno) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    // Invalid UTF-8 becomes U+FFFD before parsing (JSON parsers reject it), and is counted.
    r.invalid_utf8_bytes += repair_utf8(line);
    const std::string where = name + ":" + std::to_string(lineno);
    try {
      Sample s = parse_line(line, o, where);
      s.location = where;
      add_sample(c, std::move(s), r);
    } catch (const Error& e) {
      if (!o.skip_bad) {
        throw Error(ErrorCode::kCorpus,
                    std::string(e.what()) + " (use --skip-bad to skip such lines)");
      }
      ++r.bad_lines;
    }
  }
}

// The largest corpus input read (a file, or stdin): the whole corpus is held in memory, so an
// endless stream (/dev/zero piped in) must end in a clear error, not in exhausted memory.
constexpr uint64_t kMaxCorpusBytes = uint64_t{8} << 30;

std::string slurp_stdin() {
  std::string all;
  char buf[1 << 16];
  while (std::cin.read(buf, sizeof buf) || std::cin.gcount() > 0) {
    all.append(buf, static_cast<std::size_t>(std::cin.gcount()));
    if (all.size() > kMaxCorpusBytes) {
      throw Error(ErrorCode::kCorpus, "<stdin>: corpus larger than the " +
                                          std::to_string(kMaxCorpusBytes) + "-byte limit");
    }
  }
  return all;
}

void read_file(const fs::path& p, const CorpusReadOptions& o, Corpus& c, CorpusReadReport& r) {
  // Regular files only (a FIFO or /dev/zero is refused before anything is read), size bounded.
  std::istringstream in(read_text_file(p, kMaxCorpusBytes));
  const std::string ext = p.extension().string();
  if (ext == ".jsonl" || ext == ".json") {
    read_jsonl(in, p.string(), o, c, r);
  } else {
    Sample s;
    s.text = std::move(in).str();
    s.source = p.filename().string();
    s.location = p.string();
    add_sample(c, std::move(s), r);
  }
}

// splitmix64: a small, fully specified generator, so selections are the same on every platform
// (std::shuffle and the std distributions are implementation-defined).
struct SplitMix {
  uint64_t x;
  uint64_t next() {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) {  // uniform in [0, n) by multiply-shift
    return static_cast<std::size_t>((static_cast<uint128>(next()) * n) >> 64);
  }
};

void shuffle(std::vector<std::size_t>& v, SplitMix& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

}  // namespace

const Corpus& builtin_corpus() {
  static const Corpus c = [] {
    Corpus out;
    out.origin = "builtin";
    std::istringstream in{std::string(builtin_corpus_bytes())};
    CorpusReadReport r;
    read_jsonl(in, "builtin corpus", CorpusReadOptions{}, out, r);
    return out;
  }();
  return c;
}

static Corpus read_corpus_unguarded(const std::string& path, const CorpusReadOptions& o,
                                    CorpusReadReport* report) {
  CorpusReadReport local;
  CorpusReadReport& r = report ? *report : local;
  Corpus c;
  c.origin = path;
  if (path == "-") {
    const std::string all = slurp_stdin();
    // JSONL when the first non-blank line is a JSON object, else one plain-text sample.
    const auto first = all.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && all[first] == '{') {
      std::istringstream in(all);
      read_jsonl(in, "<stdin>", o, c, r);
    } else {
      Sample s;
      s.text = all;
      s.source = "<stdin>";
      add_sample(c, std::move(s), r);
    }
    return c;
  }
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(path, ec)) {
      if (std::error_code ec2; e.is_regular_file(ec2)) files.push_back(e.path());  // loops: skipped
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) throw Error(ErrorCode::kCorpus, path + ": folder holds no files");
    for (const auto& f : files) read_file(f, o, c, r);
  } else if (fs::exists(path, ec)) {
    read_file(path, o, c, r);
  } else {
    throw Error(ErrorCode::kNotFound, path + ": no such corpus file or folder");
  }
  if (c.samples.empty()) throw Error(ErrorCode::kCorpus, path + ": no usable samples");
  return c;
}

Corpus read_corpus(const std::string& path, const CorpusReadOptions& o, CorpusReadReport* report) {
  try {
    return read_corpus_unguarded(path, o, report);
  } catch (const std::bad_alloc&) {
    std::error_code ec;
    const auto size = fs::is_regular_file(path, ec) ? fs::file_size(path, ec) : 0;
    throw Error(ErrorCode::kCorpus,
                path + ": out of memory while reading the corpus" +
                    (size ? " (" + std::to_string(size) + " bytes)" : std::string()));
  }
}

std::vector<std::size_t> select_samples(const Corpus& corpus, std::size_t n, uint64_t seed,
                                        bool proportional) {
  const std::size_t total = corpus.samples.size();
  std::vector<std::size_t> out;
  if (n == 0 || n >= total) {
    out.resize(total);
    for (std::size_t i = 0; i < total; ++i) out[i] = i;
    return out;
  }
  SplitMix rng{seed};
  if (!proportional) {
    std::vector<std::size_t> all(total);
    for (std::size_t i = 0; i < total; ++i) all[i] = i;
    shuffle(all, rng);
    out.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
  } else {
    std::map<std::string, std::vector<std::size_t>> by_cat;  // ordered: deterministic
    for (std::size_t i = 0; i < total; ++i) by_cat[corpus.samples[i].category].push_back(i);
    // Largest remainders (Hamilton): floor of each exact share, then one more to the categories
    // with the largest fractional parts (ties: category name order).
    struct Share {
      const std::string* cat;
      std::size_t quota;
      uint64_t remainder;  // (n * size) mod total, the fractional part scaled by total
    };
    std::vector<Share> shares;
    std::size_t given = 0;
    for (const auto& [cat, idx] : by_cat) {
      const uint128 prod = static_cast<uint128>(n) * idx.size();
      shares.push_back(
          {&cat, static_cast<std::size_t>(prod / total), static_cast<uint64_t>(prod % total)});
      given += shares.back().quota;
    }
    std::vector<std::size_t> order(shares.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return shares[a].remainder > shares[b].remainder;
    });
    for (std::size_t k = 0; given < n; ++k, ++given) ++shares[order[k]].quota;
    for (const Share& s : shares) {
      std::vector<std::size_t> idx = by_cat[*s.cat];
      shuffle(idx, rng);
      out.insert(out.end(), idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(s.quota));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

SampleSplit split_samples(const Corpus& corpus, std::size_t n_calib, std::size_t n_eval,
                          uint64_t seed, bool proportional) {
  const std::size_t total = corpus.samples.size();
  if (n_calib == 0 || n_eval == 0 || n_calib > total || n_eval > total - n_calib) {
    throw Error(ErrorCode::kCorpus,
                corpus.origin + ": " + std::to_string(n_calib) + " calibration + " +
                    std::to_string(n_eval) + " evaluation samples (both at least 1) need " +
                    std::to_string(n_calib + n_eval) + " disjoint samples; the corpus has " +
                    std::to_string(total));
  }
  const std::vector<std::size_t> picked =
      select_samples(corpus, n_calib + n_eval, seed, proportional);
  Corpus sub;  // categories only: all select_samples looks at
  for (std::size_t i : picked) {
    Sample s;
    s.category = corpus.samples[i].category;
    sub.samples.push_back(std::move(s));
  }
  const std::vector<std::size_t> cal = select_samples(sub, n_calib, seed + 1, proportional);
  SampleSplit out;
  std::vector<bool> is_cal(picked.size(), false);
  for (std::size_t k : cal) is_cal[k] = true;
  for (std::size_t k = 0; k < picked.size(); ++k) {
    (is_cal[k] ? out.calibration : out.evaluation).push_back(picked[k]);
  }
  return out;
}

}  // namespace maxact
