// Text to scan: the built-in multi-domain corpus compiled into maxact, or files given by the
// user (JSONL with a text field or token ids, plain text, a folder, standard input), and the
// deterministic selection of samples from them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace maxact {

struct Sample {
  std::string text;
  std::vector<int32_t> ids;  // set instead of text when the input holds token ids
  bool has_ids = false;
  std::string category;               // "" when the input names none
  std::string lang, source, license;  // provenance (built-in corpus)
  std::string location;               // "file:line" (JSONL) or the file it was read from
};

struct Corpus {
  std::string origin;  // "builtin" or the path read
  std::vector<Sample> samples;
  // SHA-256 over every sample's category, text or ids, in order: the corpus identity recorded
  // in reports.
  std::string content_hash() const;
};

// ≥ 1500 samples, ≥ 1.5 M characters in nine categories (scripts/build_corpus.py).
const Corpus& builtin_corpus();

struct CorpusReadOptions {
  std::string text_field = "text";
  std::string ids_field = "input_ids";
  std::string category_field = "category";
  bool skip_bad = false;  // count malformed JSONL lines instead of failing on the first
};

struct CorpusReadReport {
  uint64_t bad_lines = 0;           // skipped malformed lines (with skip_bad)
  uint64_t empty_samples = 0;       // skipped: no text and no ids
  uint64_t invalid_utf8_bytes = 0;  // replaced by U+FFFD
};

// `path`: "-" (standard input, JSONL if every line parses as an object, else one text), a folder
// (every regular file, sorted by name, each read as below), *.jsonl / *.json (one JSON object per
// line) or any other file (one plain-text sample). Errors name the file and line.
Corpus read_corpus(const std::string& path, const CorpusReadOptions& options,
                   CorpusReadReport* report);

// Indices of `n` samples chosen deterministically from `seed` (all of them, in order, when n is 0
// or at least the corpus size). `proportional`: each category gets its share of n by largest
// remainders, so every category present keeps its weight; within a category the choice is a
// seeded shuffle. The result is sorted.
std::vector<std::size_t> select_samples(const Corpus& corpus, std::size_t n, uint64_t seed,
                                        bool proportional);

// Disjoint calibration and evaluation samples for the quantization check: n_calib + n_eval
// samples chosen as select_samples chooses them, then n_calib of those for calibration (chosen
// the same way among them, seed + 1) and the rest for evaluation. Both sorted.
struct SampleSplit {
  std::vector<std::size_t> calibration, evaluation;
};
SampleSplit split_samples(const Corpus& corpus, std::size_t n_calib, std::size_t n_eval,
                          uint64_t seed, bool proportional);

}  // namespace maxact
