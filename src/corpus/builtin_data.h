#pragma once

#include <string_view>

namespace maxact {
// The JSONL text of data/corpus/builtin.jsonl, embedded at build time.
std::string_view builtin_corpus_bytes();
}  // namespace maxact
