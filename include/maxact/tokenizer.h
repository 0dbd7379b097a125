// A Hugging Face tokenizer.json (+ tokenizer_config.json) reproduced exactly: the same ids as
// the `tokenizers` library for the BPE tokenizers of the families maxact supports. Nothing from
// the files is executed; unsupported components are errors naming the component.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace maxact {

class Tokenizer {
 public:
  struct Options {
    // Apply tokenizer_config.json the way transformers' tokenizer classes do (Llama/Gemma
    // classes rebuild the BOS/EOS template from add_bos_token / add_eos_token). Off: exactly the
    // `tokenizers` library on tokenizer.json alone.
    bool use_tokenizer_config = true;
  };

  // `path` is a tokenizer.json file or a folder holding one (tokenizer_config.json beside it is
  // read when present).
  static Tokenizer load(const std::filesystem::path& path, const Options& options);
  static Tokenizer load(const std::filesystem::path& path) { return load(path, Options{}); }
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // `text` must be valid UTF-8 (see repair_utf8). `add_special_tokens` applies the
  // post-processor template (BOS etc.); `special_as_text` matches no special added token, so
  // "<|im_start|>" in the text is tokenized as plain characters.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = false,
                              bool special_as_text = false) const;
  // Documents encoded on `threads` threads (0 = all cores); results in input order.
  std::vector<std::vector<int32_t>> encode_batch(const std::vector<std::string>& texts,
                                                 bool add_special_tokens = false,
                                                 int threads = 0) const;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(int32_t id) const;
  bool is_special(int32_t id) const;
  // Largest id + 1 over the model vocabulary and the added tokens.
  int64_t vocab_size() const;
  std::optional<int32_t> bos_id() const;
  const std::string& source() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A tokenizer.json file, a folder holding one, or a hub id (resolved as a model argument).
Tokenizer open_tokenizer(const std::string& source, bool use_tokenizer_config = true);

// Replaces invalid UTF-8 by U+FFFD, one per maximal invalid subsequence (as Rust's
// from_utf8_lossy and Python's errors="replace"). Returns how many bytes were replaced.
std::size_t repair_utf8(std::string& text);

}  // namespace maxact
