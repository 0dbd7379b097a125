// UTF-8 helpers for the tokenizer: code point iteration, encoding, lossy repair, and the
// character classes Hugging Face tokenizers takes from Rust's char methods.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace maxact::utf8 {

// Length of the (valid) sequence starting with byte b: 1-4.
inline std::size_t seq_len(unsigned char b) {
  return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

// Decodes the code point at s[i] (s must be valid UTF-8) and advances i.
char32_t next(std::string_view s, std::size_t& i);
void append(std::string& out, char32_t cp);

// Replaces each maximal invalid subsequence by U+FFFD, as Rust's String::from_utf8_lossy and
// Python's errors="replace" do. Returns the number of bytes that were replaced (0 = valid).
std::size_t repair(std::string& s);
bool valid(std::string_view s);

// Rust char::is_whitespace (Unicode White_Space).
bool is_whitespace(char32_t c);
// Rust char::is_numeric (general categories Nd, Nl, No).
bool is_numeric(char32_t c);
// Rust regex \w (Unicode): alphabetic, marks, decimal numbers, connector punctuation, joiners.
bool is_word(char32_t c);
// Hugging Face's is_punc: ASCII punctuation or a Unicode P* category.
bool is_punctuation(char32_t c);

}  // namespace maxact::utf8
