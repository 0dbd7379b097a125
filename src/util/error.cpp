#include "maxact/error.h"

#include <cstdio>

namespace maxact {
namespace {

// Length of the valid UTF-8 sequence at s[i] (1-4), or 0 when the bytes there are not one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  std::size_t n = c < 0x80           ? 1
                  : (c >> 5) == 0x6  ? 2
                  : (c >> 4) == 0xE  ? 3
                  : (c >> 3) == 0x1E ? 4
                                     : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
  }
  // Overlong forms, surrogates and code points past U+10FFFF.
  if (n == 2 && c < 0xC2) return 0;
  if (n == 3 && ((c == 0xE0 && b(1) < 0xA0) || (c == 0xED && b(1) >= 0xA0))) return 0;
  if (n == 4 && ((c == 0xF0 && b(1) < 0x90) || c > 0xF4 || (c == 0xF4 && b(1) >= 0x90))) return 0;
  return n;
}

}  // namespace

std::string quote_untrusted(std::string_view text, std::size_t max_bytes, bool quote) {
  std::string out = quote ? "'" : "";
  std::size_t i = 0;
  char esc[8];
  while (i < text.size() && i < max_bytes) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const std::size_t n = utf8_length(text, i);
    // C1 controls (U+0080..U+009F) act as terminal escapes too.
    const bool c1 = n == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0;
    if (n == 0 || c < 0x20 || c == 0x7F || c1 || (quote && c == '\\')) {
      if (c == '\n') {
        out += "\\n";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c == '\\') {
        out += "\\\\";
      } else {
        std::snprintf(esc, sizeof esc, "\\x%02X", c);
        out += esc;
      }
      ++i;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  if (quote) out += "'";
  if (i < text.size()) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kHeaderTooSmall:
      return "header_too_small";
    case ErrorCode::kHeaderTooLarge:
      return "header_too_large";
    case ErrorCode::kHeaderPastEnd:
      return "header_past_end";
    case ErrorCode::kHeaderJson:
      return "header_json";
    case ErrorCode::kUnknownDtype:
      return "unknown_dtype";
    case ErrorCode::kSpanSize:
      return "span_size";
    case ErrorCode::kSpanOutside:
      return "span_outside";
    case ErrorCode::kSpanOverlap:
      return "span_overlap";
    case ErrorCode::kSpanGap:
      return "span_gap";
    case ErrorCode::kDuplicateTensor:
      return "duplicate_tensor";
    case ErrorCode::kIndexJson:
      return "index_json";
    case ErrorCode::kShardMissing:
      return "shard_missing";
    case ErrorCode::kShardName:
      return "shard_name";
    case ErrorCode::kShardContents:
      return "shard_contents";
    case ErrorCode::kNoCheckpoint:
      return "no_checkpoint";
    case ErrorCode::kConfig:
      return "config";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kTensorMismatch:
      return "tensor_mismatch";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kDtype:
      return "dtype";
    case ErrorCode::kRange:
      return "range";
    case ErrorCode::kTokenizer:
      return "tokenizer";
    case ErrorCode::kCorpus:
      return "corpus";
    case ErrorCode::kOption:
      return "option";
    case ErrorCode::kState:
      return "state";
    case ErrorCode::kInterrupted:
      return "interrupted";
  }
  return "?";
}

}  // namespace maxact
