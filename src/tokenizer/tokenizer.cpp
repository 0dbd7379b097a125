// Loading tokenizer.json and running the pipeline:
// added tokens (raw) -> normalizer -> added tokens (normalized) -> pre-tokenizer -> BPE ->
// template.
// Over 400 lines: loading and the pipeline both work on Tokenizer::Impl, which is defined (and
// kept private) here.
#include "maxact/tokenizer.h"

#include <atomic>
#include <exception>
#include <thread>

#include "io/json_util.h"
#include "maxact/error.h"
#include "tokenizer/added_vocabulary.h"
#include "tokenizer/bpe.h"
#include "tokenizer/components.h"
#include "tokenizer/utf8.h"

namespace maxact {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace tok;

namespace {

// Ids the post-processor puts around a single sequence.
struct Wrap {
  std::vector<int32_t> prefix, suffix;
};

Wrap parse_post_processor(const json& j, const std::string& where) {
  Wrap w;
  if (j.is_null()) return w;
  const std::string type = string_field(j, "type", where);
  if (type == "ByteLevel") return w;  // offsets only
  if (type == "Sequence") {
    const json& list = field(j, "processors", where);
    if (!list.is_array()) malformed(where, "'processors' must be a list");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const Wrap inner =
          parse_post_processor(list[i], where + ".processors[" + std::to_string(i) + "]");
      w.prefix.insert(w.prefix.begin(), inner.prefix.begin(), inner.prefix.end());
      w.suffix.insert(w.suffix.end(), inner.suffix.begin(), inner.suffix.end());
    }
    return w;
  }
  if (type == "TemplateProcessing") {
    const json& single = field(j, "single", where);
    const json& specials = field(j, "special_tokens", where);
    if (!single.is_array()) malformed(where, "'single' must be a list");
    bool seen_a = false;
    for (const json& item : single) {
      if (item.contains("Sequence")) {
        if (seen_a) unsupported(where, "a single-sequence template with two sequences");
        seen_a = true;
        continue;
      }
      if (!item.contains("SpecialToken")) malformed(where, "template item " + json_excerpt(item));
      const std::string name = string_field(item["SpecialToken"], "id", where);
      auto it = specials.find(name);
      if (it == specials.end())
        malformed(where, "special token " + quote_untrusted(name) + " not in special_tokens");
      const json& ids = field(*it, "ids", where);
      if (!ids.is_array()) malformed(where, "ids of " + quote_untrusted(name) + " must be a list");
      for (const json& id : ids) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > 0x7FFFFFFF) {
          malformed(where,
                    "ids of " + quote_untrusted(name) + " must be non-negative 32-bit integers");
        }
        (seen_a ? w.suffix : w.prefix).push_back(id.get<int32_t>());
      }
    }
    if (!seen_a) malformed(where, "template without the sequence $A");
    return w;
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    for (const char* key : {"cls", "sep"}) {
      const json& v = field(j, key, where);
      if (!v.is_array() || v.size() != 2 || !v[1].is_number_integer()) {
        malformed(where, std::string("'") + key + "' must be [token, id]");
      }
      (std::string(key) == "cls" ? w.prefix : w.suffix).push_back(v[1].get<int32_t>());
    }
    return w;
  }
  unsupported(where, "post-processor type '" + type +
                         "' is not supported (TemplateProcessing, ByteLevel, Sequence, "
                         "RobertaProcessing, BertProcessing)");
}

// bos_token / eos_token in tokenizer_config.json: a string or an AddedToken object.
std::optional<std::string> config_token(const json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    return (*it)["content"].get<std::string>();
  }
  return std::nullopt;
}

// One added_tokens entry's content and flags (its id is assigned by the caller).
AddedToken parse_added_token(const json& a, const std::string& where) {
  AddedToken t;
  t.content = string_field(a, "content", where);
  t.special = bool_field(a, "special", false, where);
  t.normalized = bool_field(a, "normalized", !t.special, where);
  t.lstrip = bool_field(a, "lstrip", false, where);
  t.rstrip = bool_field(a, "rstrip", false, where);
  t.single_word = bool_field(a, "single_word", false, where);
  return t;
}

}  // namespace

struct Tokenizer::Impl {
  std::string source;
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<Decoder> decoder;
  std::unique_ptr<Bpe> model;
  std::vector<AddedToken> added;
  TokenTrie raw_trie, normalized_trie;
  std::unordered_map<int32_t, std::size_t> added_by_id;
  // The post-processor for one sequence reduces to ids around it.
  std::vector<int32_t> prefix, suffix;
  std::optional<int32_t> bos;

  void encode_into(std::string_view text, bool add_special, bool special_as_text,
                   std::vector<int32_t>& out, Bpe::Cache* cache) const;

  // Loading steps, in the order Tokenizer::load runs them.
  void read_components(const json& j, const std::string& f);
  void read_added_tokens(const json& j, const std::string& f);
  static std::optional<std::string> apply_config(std::unique_ptr<Impl>& impl,
                                                 const fs::path& cfg_path, const std::string& f,
                                                 Wrap& wrap);
  static Wrap rebuild_template(std::unique_ptr<Impl>& impl, const json& cfg, const std::string& cf,
                               const std::string& f);
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

// The model (BPE only), normalizer, pre-tokenizer and decoder of tokenizer.json.
void Tokenizer::Impl::read_components(const json& j, const std::string& f) {
  const json& m = field(j, "model", f);
  const std::string type =
      m.contains("type") ? string_field(m, "type", f + ": model") : std::string("BPE");
  if (type != "BPE") {
    unsupported(f + ": model", "model type '" + type + "' is not supported (BPE)");
  }
  model = std::make_unique<Bpe>(m, f + ": model");
  normalizer = make_normalizer(j.value("normalizer", json()), f + ": normalizer");
  pre_tokenizer = make_pre_tokenizer(j.value("pre_tokenizer", json()), f + ": pre_tokenizer");
  decoder = make_decoder(j.value("decoder", json()), f + ": decoder");
}

// Added tokens, with ids assigned as tokenizers' AddedVocabulary::add_tokens does: an existing
// added or model token keeps its id, others get the next free id after the model vocabulary.
void Tokenizer::Impl::read_added_tokens(const json& j, const std::string& f) {
  const json list = j.value("added_tokens", json::array());
  if (!list.is_array()) malformed(f, "'added_tokens' must be a list");
  int32_t next_id = static_cast<int32_t>(model->vocab_size());
  std::unordered_map<std::string, std::size_t> by_content;
  for (std::size_t i = 0; i < list.size(); ++i) {
    AddedToken t = parse_added_token(list[i], f + ": added_tokens[" + std::to_string(i) + "]");
    if (t.content.empty()) continue;
    if (auto it = by_content.find(t.content); it != by_content.end()) {
      t.id = added[it->second].id;
    } else if (auto id = model->token_to_id(t.content)) {
      t.id = *id;
    } else {
      t.id = next_id++;
    }
    t.pattern = t.content;
    if (t.normalized && normalizer) {
      const ReplaceBudget budget(t.pattern.size());
      normalizer->normalize(t.pattern);
    }
    // A repeated content keeps its id and takes the later entry's flags, as tokenizers does.
    if (auto it = by_content.find(t.content); it != by_content.end()) {
      added[it->second] = std::move(t);
      continue;
    }
    by_content[t.content] = added.size();
    added.push_back(std::move(t));
  }
  for (std::size_t i = 0; i < added.size(); ++i) {
    const AddedToken& t = added[i];
    (t.normalized ? normalized_trie : raw_trie).add(t.pattern, static_cast<int32_t>(i));
    added_by_id[t.id] = i;
  }
}

// tokenizer_config.json, as transformers' Llama / Gemma fast tokenizers apply it: they rebuild
// the template from add_bos_token (default true) and add_eos_token (default false). Returns the
// configured bos_token, if any; replaces `wrap` when the class rebuilds the template.
std::optional<std::string> Tokenizer::Impl::apply_config(std::unique_ptr<Impl>& impl,
                                                         const fs::path& cfg_path,
                                                         const std::string& f, Wrap& wrap) {
  const std::string cf = cfg_path.string();
  const json cfg = parse_json(read_text_file(cfg_path), cf, ErrorCode::kTokenizer,
                              duplicate_key_error(cf, ErrorCode::kTokenizer));
  if (!cfg.is_object()) malformed(cf, "must be a JSON object");
  std::optional<std::string> bos_name = config_token(cfg, "bos_token");
  const std::string cls = cfg.value("tokenizer_class", std::string());
  static const char* kRebuilding[] = {"LlamaTokenizer",     "LlamaTokenizerFast",
                                      "CodeLlamaTokenizer", "CodeLlamaTokenizerFast",
                                      "GemmaTokenizer",     "GemmaTokenizerFast"};
  if (std::find(std::begin(kRebuilding), std::end(kRebuilding), cls) != std::end(kRebuilding)) {
    wrap = rebuild_template(impl, cfg, cf, f);
  }
  return bos_name;
}

// The BOS / EOS template from add_bos_token / add_eos_token; the tokens are looked up through a
// probe Tokenizer that borrows `impl` (handed back before returning).
Wrap Tokenizer::Impl::rebuild_template(std::unique_ptr<Impl>& impl, const json& cfg,
                                       const std::string& cf, const std::string& f) {
  const bool add_bos = bool_field(cfg, "add_bos_token", true, cf);
  const bool add_eos = bool_field(cfg, "add_eos_token", false, cf);
  Wrap w;
  Tokenizer probe(std::move(impl));
  for (auto [flag, key, list] :
       {std::tuple{add_bos, "bos_token", &w.prefix}, std::tuple{add_eos, "eos_token", &w.suffix}}) {
    if (!flag) continue;
    const auto name = config_token(cfg, key);
    const auto id = name ? probe.token_to_id(*name) : std::nullopt;
    if (!id) malformed(cf, std::string(key) + " is not a token of " + f);
    list->push_back(*id);
  }
  impl = std::move(probe.impl_);
  return w;
}

Tokenizer Tokenizer::load(const fs::path& path, const Options& options) {
  // Typed reads throughout; a value of the wrong type anywhere is bad input naming the file.
  try {
    std::error_code ec;
    const fs::path file = fs::is_directory(path, ec) ? path / "tokenizer.json" : path;
    if (!fs::exists(file, ec)) {
      throw Error(ErrorCode::kNotFound, file.string() + ": no tokenizer.json");
    }
    auto impl = std::make_unique<Impl>();
    impl->source = file.string();
    const std::string f = file.string();
    const json j = parse_json(read_text_file(file), f, ErrorCode::kTokenizer,
                              duplicate_key_error(f, ErrorCode::kTokenizer));
    if (!j.is_object()) malformed(f, "must be a JSON object");
    impl->read_components(j, f);
    Wrap wrap = parse_post_processor(j.value("post_processor", json()), f + ": post_processor");
    impl->read_added_tokens(j, f);

    const fs::path cfg_path = file.parent_path() / "tokenizer_config.json";
    std::optional<std::string> bos_name;
    if (options.use_tokenizer_config && fs::exists(cfg_path, ec)) {
      bos_name = Impl::apply_config(impl, cfg_path, f, wrap);
    }
    impl->prefix = std::move(wrap.prefix);
    impl->suffix = std::move(wrap.suffix);
    Tokenizer t(std::move(impl));
    if (bos_name) t.impl_->bos = t.token_to_id(*bos_name);
    if (!t.impl_->bos && !t.impl_->prefix.empty()) t.impl_->bos = t.impl_->prefix.front();
    return t;
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kTokenizer,
                path.string() + ": malformed tokenizer: " + json_error_text(e));
  }
}

void Tokenizer::Impl::encode_into(std::string_view text, bool add_special, bool special_as_text,
                                  std::vector<int32_t>& out, Bpe::Cache* cache) const {
  if (add_special) out.insert(out.end(), prefix.begin(), prefix.end());
  std::vector<Span> raw_spans, norm_spans;
  std::vector<Piece> pieces;
  find_added(text, raw_trie, added, special_as_text, raw_spans);
  for (const Span& rs : raw_spans) {
    if (rs.token >= 0) {
      out.push_back(added[static_cast<std::size_t>(rs.token)].id);
      continue;
    }
    std::string seg(text.substr(rs.begin, rs.end - rs.begin));
    bool dropped_prefix = false;
    if (normalizer) {
      const ReplaceBudget budget(seg.size());
      normalizer->normalize(seg, dropped_prefix);
    }
    find_added(seg, normalized_trie, added, special_as_text, norm_spans);
    for (const Span& ns : norm_spans) {
      if (ns.token >= 0) {
        out.push_back(added[static_cast<std::size_t>(ns.token)].id);
        continue;
      }
      pieces.clear();
      pieces.push_back({seg.substr(ns.begin, ns.end - ns.begin),
                        rs.begin == 0 && ns.begin == 0 && !dropped_prefix});
      if (pre_tokenizer) pre_tokenizer->pre_tokenize(pieces);
      for (const Piece& p : pieces) model->tokenize(p.text, out, cache);
    }
  }
  if (add_special) out.insert(out.end(), suffix.begin(), suffix.end());
}

namespace {

// Text reaching the pipeline must be valid UTF-8 (the regex engine and the code-point walkers
// rely on it); invalid input is repaired the same way the CLI does, on a copy.
template <typename F>
void with_valid_utf8(std::string_view text, F f) {
  if (utf8::valid(text)) {
    f(text);
    return;
  }
  std::string fixed(text);
  utf8::repair(fixed);
  f(std::string_view(fixed));
}

}  // namespace

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens,
                                       bool special_as_text) const {
  std::vector<int32_t> out;
  Bpe::Cache cache;
  with_valid_utf8(text, [&](std::string_view t) {
    impl_->encode_into(t, add_special_tokens, special_as_text, out, &cache);
  });
  return out;
}

std::vector<std::vector<int32_t>> Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                                          bool add_special_tokens,
                                                          int threads) const {
  std::vector<std::vector<int32_t>> out(texts.size());
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t n =
      std::min<std::size_t>(texts.size(), threads > 0 ? static_cast<unsigned>(threads) : hw);
  std::atomic<std::size_t> next{0};
  std::vector<std::exception_ptr> errors(std::max<std::size_t>(n, 1));
  auto work = [&](std::size_t worker) {
    try {
      Bpe::Cache cache;
      for (std::size_t i = next++; i < texts.size(); i = next++) {
        with_valid_utf8(texts[i], [&](std::string_view t) {
          impl_->encode_into(t, add_special_tokens, false, out[i], &cache);
        });
      }
    } catch (...) {
      errors[worker] = std::current_exception();
      next = texts.size();  // the others stop at their next document
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t k = 1; k < n; ++k) pool.emplace_back(work, k);
  work(0);
  for (auto& t : pool) t.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (auto it = impl_->added_by_id.find(id); it != impl_->added_by_id.end()) {
      const AddedToken& t = impl_->added[it->second];
      if (skip_special_tokens && t.special) continue;
      // tokenizers decodes a normalized added token from its normalized form, so the decoder
      // can invert what the normalizer did.
      tokens.push_back(t.normalized ? t.pattern : t.content);
    } else if (const std::string* s = impl_->model->id_to_token(id)) {
      tokens.push_back(*s);
    }
  }
  if (!impl_->decoder) {
    std::string out;
    for (std::size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
    return out;
  }
  std::size_t bytes = 0;
  for (const auto& t : tokens) bytes += t.size();
  const ReplaceBudget budget(bytes);
  impl_->decoder->decode_chain(tokens);
  std::string out;
  for (const auto& t : tokens) out += t;
  return out;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  for (const AddedToken& t : impl_->added) {
    if (t.content == token) return t.id;
  }
  return impl_->model->token_to_id(token);
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  if (auto it = impl_->added_by_id.find(id); it != impl_->added_by_id.end()) {
    return impl_->added[it->second].content;
  }
  if (const std::string* s = impl_->model->id_to_token(id)) return *s;
  return std::nullopt;
}

bool Tokenizer::is_special(int32_t id) const {
  auto it = impl_->added_by_id.find(id);
  return it != impl_->added_by_id.end() && impl_->added[it->second].special;
}

int64_t Tokenizer::vocab_size() const {
  int64_t n = impl_->model->max_id() + 1;
  for (const AddedToken& t : impl_->added) n = std::max<int64_t>(n, t.id + 1);
  return n;
}

std::optional<int32_t> Tokenizer::bos_id() const {
  return impl_->bos;
}
const std::string& Tokenizer::source() const {
  return impl_->source;
}

std::size_t repair_utf8(std::string& text) {
  return utf8::repair(text);
}

}  // namespace maxact
