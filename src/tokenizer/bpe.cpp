#include "tokenizer/bpe.h"

#include <algorithm>
#include <queue>

#include "io/json_util.h"
#include "tokenizer/components.h"
#include "tokenizer/utf8.h"

namespace maxact::tok {
using nlohmann::json;

namespace {

std::optional<std::string> opt_string(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) malformed(where, std::string("'") + key + "' must be a string or null");
  return it->get<std::string>();
}

// Fills `out` (token -> id, ids in [0, 2^30]); returns the largest id, -1 when empty.
// `Vocab` is Bpe's private map type, deduced.
template <class Vocab>
int32_t read_vocab(const json& model, const std::string& where, Vocab& out) {
  const json& vocab = field(model, "vocab", where);
  if (!vocab.is_object()) malformed(where, "'vocab' must be an object of token -> id");
  int32_t max_id = -1;
  out.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() > (int64_t{1} << 30)) {
      malformed(where + ".vocab", "id of '" + it.key() + "' must be a non-negative integer");
    }
    const auto id = static_cast<int32_t>(it.value().get<int64_t>());
    out.emplace(it.key(), id);
    max_id = std::max(max_id, id);
  }
  return max_id;
}

// The <0xXX> token of each byte for byte fallback (-1 when absent).
template <class Vocab>
void find_byte_ids(const Vocab& vocab, int32_t (&byte_ids)[256]) {
  for (int b = 0; b < 256; ++b) {
    static const char* hex = "0123456789ABCDEF";
    const std::string name = std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
    auto it = vocab.find(name);
    byte_ids[b] = it == vocab.end() ? -1 : it->second;
  }
}

// One entry of 'merges' as (left, right): "a b" or ["a", "b"]; nullopt for a "#version" line.
std::optional<std::pair<std::string, std::string>> parse_merge(const json& m,
                                                               const std::string& where) {
  std::string a, b;
  if (m.is_string()) {
    const std::string s = m.get<std::string>();
    if (s.starts_with("#version")) return std::nullopt;
    const auto sp = s.find(' ');
    if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
      malformed(where + ".merges",
                "merge " + quote_untrusted(s) + " must be two tokens separated by one space");
    }
    a = s.substr(0, sp);
    b = s.substr(sp + 1);
  } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
    a = m[0].get<std::string>();
    b = m[1].get<std::string>();
  } else {
    malformed(where + ".merges",
              "each merge must be \"a b\" or [\"a\", \"b\"], found " + json_excerpt(m));
  }
  return std::pair{a, b};
}

// A merge's table entry: key (left id << 32 | right id) and the merged token's id. All three
// tokens must be in the vocabulary.
template <class Vocab>
std::pair<uint64_t, int32_t> merge_entry(const Vocab& vocab, const std::string& a,
                                         const std::string& b, const std::string& prefix,
                                         const std::string& where) {
  auto ia = vocab.find(a), ib = vocab.find(b);
  if (ia == vocab.end() || ib == vocab.end()) {
    malformed(where + ".merges",
              "merge " + quote_untrusted(a + " " + b) + " uses a token not in the vocabulary");
  }
  // tokenizers drops len(continuing_subword_prefix) bytes of b, whatever they are.
  if (b.size() < prefix.size()) {
    malformed(where + ".merges", "merge '" + a + " " + b + "' is shorter than the subword prefix");
  }
  const std::string merged = a + b.substr(prefix.size());
  auto im = vocab.find(merged);
  if (im == vocab.end()) {
    malformed(where + ".merges", "merge result '" + merged + "' is not in the vocabulary");
  }
  const uint64_t key =
      (uint64_t{static_cast<uint32_t>(ia->second)} << 32) | static_cast<uint32_t>(ib->second);
  return {key, im->second};
}

}  // namespace

Bpe::Bpe(const json& model, const std::string& where) {
  const int32_t max_id = read_vocab(model, where, vocab_);
  // Ids index a table: refuse files whose ids are far from dense instead of allocating for them.
  if (static_cast<std::size_t>(max_id) > 2 * vocab_.size() + 65536) {
    malformed(where + ".vocab", "ids are not dense (largest " + std::to_string(max_id) + " for " +
                                    std::to_string(vocab_.size()) + " tokens)");
  }
  id_to_token_.resize(static_cast<std::size_t>(max_id + 1));
  for (const auto& [tok, id] : vocab_) id_to_token_[static_cast<std::size_t>(id)] = tok;

  if (auto u = opt_string(model, "unk_token", where)) {
    auto it = vocab_.find(*u);
    if (it == vocab_.end()) malformed(where, "unk_token '" + *u + "' is not in the vocabulary");
    unk_id_ = it->second;
  }
  prefix_ = opt_string(model, "continuing_subword_prefix", where).value_or("");
  suffix_ = opt_string(model, "end_of_word_suffix", where).value_or("");
  fuse_unk_ = bool_field(model, "fuse_unk", false, where);
  byte_fallback_ = bool_field(model, "byte_fallback", false, where);
  ignore_merges_ = bool_field(model, "ignore_merges", false, where);
  find_byte_ids(vocab_, byte_ids_);

  const json& merges = field(model, "merges", where);
  if (!merges.is_array()) malformed(where, "'merges' must be a list");
  merges_.reserve(merges.size());
  int32_t rank = 0;
  for (const json& m : merges) {
    const auto pair = parse_merge(m, where);
    if (!pair) continue;
    const auto [key, merged_id] = merge_entry(vocab_, pair->first, pair->second, prefix_, where);
    merges_[key] = {rank++, merged_id};  // a repeated pair keeps its last rank, as a hash map
  }
}

std::optional<int32_t> Bpe::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* Bpe::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= id_to_token_.size()) return nullptr;
  const std::string& s = id_to_token_[static_cast<std::size_t>(id)];
  return s.empty() ? nullptr : &s;
}

void Bpe::tokenize(std::string_view word, std::vector<int32_t>& out, Cache* cache) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (auto it = vocab_.find(word); it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  if (cache != nullptr) {
    if (auto it = cache->find(std::string(word)); it != cache->end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const std::size_t before = out.size();
  merge_word(word, out);
  // Long words (SentencePiece-style models see whole documents) are not worth keeping.
  if (cache != nullptr && word.size() < 256 && cache->size() < 100000) {
    cache->emplace(
        std::string(word),
        std::vector<int32_t>(out.begin() + static_cast<std::ptrdiff_t>(before), out.end()));
  }
}

namespace {

// The word's symbols as a doubly linked list over a vector (merging unlinks the right one).
struct Symbol {
  int32_t id;
  int32_t prev, next;
  bool alive;
};

void add_symbol(std::vector<Symbol>& sym, int32_t id) {
  const auto n = static_cast<int32_t>(sym.size());
  sym.push_back({id, n - 1, -1, true});
  if (n > 0) sym[static_cast<std::size_t>(n - 1)].next = n;
}

using MergeTable = std::unordered_map<uint64_t, std::pair<int32_t, int32_t>>;

// (rank, merged id) of the pair (l, r), or nullptr when it does not merge.
const std::pair<int32_t, int32_t>* find_merge(const MergeTable& merges, int32_t l, int32_t r) {
  const uint64_t k = (uint64_t{static_cast<uint32_t>(l)} << 32) | static_cast<uint32_t>(r);
  auto it = merges.find(k);
  return it == merges.end() ? nullptr : &it->second;
}

// Applies merges lowest rank first (leftmost on ties) until none applies; queue entries made
// stale by an earlier merge are skipped.
void apply_merges(std::vector<Symbol>& sym, const MergeTable& merges) {
  struct Merge {
    int32_t rank, pos, new_id;
    bool operator>(const Merge& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Merge, std::vector<Merge>, std::greater<>> queue;
  for (std::size_t k = 0; k + 1 < sym.size(); ++k) {
    if (auto m = find_merge(merges, sym[k].id, sym[k + 1].id)) {
      queue.push({m->first, static_cast<int32_t>(k), m->second});
    }
  }
  while (!queue.empty()) {
    const Merge top = queue.top();
    queue.pop();
    Symbol& cur = sym[static_cast<std::size_t>(top.pos)];
    if (!cur.alive || cur.next < 0) continue;
    Symbol& right = sym[static_cast<std::size_t>(cur.next)];
    const auto m = find_merge(merges, cur.id, right.id);
    if (m == nullptr || m->second != top.new_id) continue;  // stale entry
    cur.id = top.new_id;
    right.alive = false;
    cur.next = right.next;
    if (right.next >= 0) sym[static_cast<std::size_t>(right.next)].prev = top.pos;
    if (cur.prev >= 0) {
      if (auto pm = find_merge(merges, sym[static_cast<std::size_t>(cur.prev)].id, cur.id)) {
        queue.push({pm->first, cur.prev, pm->second});
      }
    }
    if (cur.next >= 0) {
      if (auto nm = find_merge(merges, cur.id, sym[static_cast<std::size_t>(cur.next)].id)) {
        queue.push({nm->first, top.pos, nm->second});
      }
    }
  }
}

}  // namespace

void Bpe::merge_word(std::string_view w, std::vector<int32_t>& out) const {
  std::vector<Symbol> sym;
  sym.reserve(w.size());
  int32_t pending_unk = -1;  // an unknown waiting to be fused with the next one
  std::string key;
  for (std::size_t i = 0; i < w.size();) {
    const std::size_t b = i;
    utf8::next(w, i);
    key.clear();
    if (b > 0) key += prefix_;
    key.append(w.substr(b, i - b));
    if (i == w.size()) key += suffix_;
    if (auto it = vocab_.find(key); it != vocab_.end()) {
      if (pending_unk >= 0) {
        add_symbol(sym, pending_unk);
        pending_unk = -1;
      }
      add_symbol(sym, it->second);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (unsigned char c : key) all = all && byte_ids_[c] >= 0;
      if (all) {
        // tokenizers does not flush a pending unknown here; neither do we.
        for (unsigned char c : key) add_symbol(sym, byte_ids_[c]);
        continue;
      }
    }
    if (unk_id_) {
      if (pending_unk >= 0 && !fuse_unk_) add_symbol(sym, pending_unk);
      pending_unk = *unk_id_;
    }
    // Without unk_token the character is dropped, as in tokenizers.
  }
  if (pending_unk >= 0) add_symbol(sym, pending_unk);
  apply_merges(sym, merges_);
  for (const Symbol& s : sym) {
    if (s.alive) out.push_back(s.id);
  }
}

}  // namespace maxact::tok
