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

}  // namespace

Bpe::Bpe(const json& model, const std::string& where) {
  const json& vocab = field(model, "vocab", where);
  if (!vocab.is_object()) malformed(where, "'vocab' must be an object of token -> id");
  int32_t max_id = -1;
  vocab_.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() > (int64_t{1} << 30)) {
      malformed(where + ".vocab", "id of '" + it.key() + "' must be a non-negative integer");
    }
    const auto id = static_cast<int32_t>(it.value().get<int64_t>());
    vocab_.emplace(it.key(), id);
    max_id = std::max(max_id, id);
  }
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
  for (int b = 0; b < 256; ++b) {
    static const char* hex = "0123456789ABCDEF";
    const std::string name = std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
    auto it = vocab_.find(name);
    byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
  }

  const json& merges = field(model, "merges", where);
  if (!merges.is_array()) malformed(where, "'merges' must be a list");
  merges_.reserve(merges.size());
  int32_t rank = 0;
  for (const json& m : merges) {
    std::string a, b;
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      if (s.starts_with("#version")) continue;
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
    auto ia = vocab_.find(a), ib = vocab_.find(b);
    if (ia == vocab_.end() || ib == vocab_.end()) {
      malformed(where + ".merges",
                "merge " + quote_untrusted(a + " " + b) + " uses a token not in the vocabulary");
    }
    // tokenizers drops len(continuing_subword_prefix) bytes of b, whatever they are.
    if (b.size() < prefix_.size()) {
      malformed(where + ".merges",
                "merge '" + a + " " + b + "' is shorter than the subword prefix");
    }
    const std::string merged = a + b.substr(prefix_.size());
    auto im = vocab_.find(merged);
    if (im == vocab_.end()) {
      malformed(where + ".merges", "merge result '" + merged + "' is not in the vocabulary");
    }
    const uint64_t key =
        (uint64_t{static_cast<uint32_t>(ia->second)} << 32) | static_cast<uint32_t>(ib->second);
    merges_[key] = {rank++, im->second};  // a repeated pair keeps its last rank, as a hash map
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

void Bpe::merge_word(std::string_view w, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    bool alive;
  };
  std::vector<Symbol> sym;
  sym.reserve(w.size());
  auto add = [&](int32_t id) {
    const auto n = static_cast<int32_t>(sym.size());
    sym.push_back({id, n - 1, -1, true});
    if (n > 0) sym[static_cast<std::size_t>(n - 1)].next = n;
  };
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
        add(pending_unk);
        pending_unk = -1;
      }
      add(it->second);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (unsigned char c : key) all = all && byte_ids_[c] >= 0;
      if (all) {
        // tokenizers does not flush a pending unknown here; neither do we.
        for (unsigned char c : key) add(byte_ids_[c]);
        continue;
      }
    }
    if (unk_id_) {
      if (pending_unk >= 0 && !fuse_unk_) add(pending_unk);
      pending_unk = *unk_id_;
    }
    // Without unk_token the character is dropped, as in tokenizers.
  }
  if (pending_unk >= 0) add(pending_unk);

  struct Merge {
    int32_t rank, pos, new_id;
    bool operator>(const Merge& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Merge, std::vector<Merge>, std::greater<>> queue;
  auto pair_of = [&](int32_t l, int32_t r) -> const std::pair<int32_t, int32_t>* {
    const uint64_t k = (uint64_t{static_cast<uint32_t>(l)} << 32) | static_cast<uint32_t>(r);
    auto it = merges_.find(k);
    return it == merges_.end() ? nullptr : &it->second;
  };
  for (std::size_t k = 0; k + 1 < sym.size(); ++k) {
    if (auto m = pair_of(sym[k].id, sym[k + 1].id)) {
      queue.push({m->first, static_cast<int32_t>(k), m->second});
    }
  }
  while (!queue.empty()) {
    const Merge top = queue.top();
    queue.pop();
    Symbol& cur = sym[static_cast<std::size_t>(top.pos)];
    if (!cur.alive || cur.next < 0) continue;
    Symbol& right = sym[static_cast<std::size_t>(cur.next)];
    const auto m = pair_of(cur.id, right.id);
    if (m == nullptr || m->second != top.new_id) continue;  // stale entry
    cur.id = top.new_id;
    right.alive = false;
    cur.next = right.next;
    if (right.next >= 0) sym[static_cast<std::size_t>(right.next)].prev = top.pos;
    if (cur.prev >= 0) {
      if (auto pm = pair_of(sym[static_cast<std::size_t>(cur.prev)].id, cur.id)) {
        queue.push({pm->first, cur.prev, pm->second});
      }
    }
    if (cur.next >= 0) {
      if (auto nm = pair_of(cur.id, sym[static_cast<std::size_t>(cur.next)].id)) {
        queue.push({nm->first, top.pos, nm->second});
      }
    }
  }
  for (const Symbol& s : sym) {
    if (s.alive) out.push_back(s.id);
  }
}

}  // namespace maxact::tok
