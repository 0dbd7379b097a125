// The built-in corpus (data/corpus/builtin.jsonl) linked into the library as raw bytes.
#include "corpus/builtin_data.h"

#ifndef MAXACT_BUILTIN_CORPUS_PATH
#error "MAXACT_BUILTIN_CORPUS_PATH must name data/corpus/builtin.jsonl"
#endif

__asm__(
    ".section .rodata\n"
    ".balign 16\n"
    ".global maxact_builtin_corpus_begin\n"
    "maxact_builtin_corpus_begin:\n"
    ".incbin \"" MAXACT_BUILTIN_CORPUS_PATH
    "\"\n"
    ".global maxact_builtin_corpus_end\n"
    "maxact_builtin_corpus_end:\n"
    ".byte 0\n"
    ".previous\n");

extern "C" const char maxact_builtin_corpus_begin[];
extern "C" const char maxact_builtin_corpus_end[];

namespace maxact {

std::string_view builtin_corpus_bytes() {
  return {maxact_builtin_corpus_begin,
          static_cast<std::size_t>(maxact_builtin_corpus_end - maxact_builtin_corpus_begin)};
}

}  // namespace maxact
