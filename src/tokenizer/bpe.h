// The BPE model of tokenizer.json (byte-level and SentencePiece-style), reproducing
// tokenizers/src/models/bpe: per-character initial symbols with byte fallback and fused unknowns,
// then merges applied lowest rank first (leftmost on ties).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace maxact::tok {

class Bpe {
 public:
  // Word -> ids memo; one per thread (results do not depend on it).
  using Cache = std::unordered_map<std::string, std::vector<int32_t>>;

  Bpe(const nlohmann::json& model, const std::string& where);

  void tokenize(std::string_view word, std::vector<int32_t>& out, Cache* cache) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  const std::string* id_to_token(int32_t id) const;
  std::size_t vocab_size() const { return vocab_.size(); }
  int32_t max_id() const { return static_cast<int32_t>(id_to_token_.size()) - 1; }

 private:
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;

  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> vocab_;
  std::vector<std::string> id_to_token_;
  // (left id << 32 | right id) -> (rank, merged id)
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;
  std::optional<int32_t> unk_id_;
  std::string prefix_, suffix_;  // continuing_subword_prefix / end_of_word_suffix
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  int32_t byte_ids_[256];  // <0xXX> tokens for byte fallback (-1 when absent)
};

}  // namespace maxact::tok
