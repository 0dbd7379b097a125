#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"

#include <pcre2.h>
#include <utf8proc.h>

#include <map>
#include <mutex>

#include "maxact/error.h"
#include "tokenizer/utf8.h"

#include <cstdint>
#include <cstdio>

namespace maxact {

struct Regex::Impl {
  pcre2_code* code = nullptr;
  bool jit = false;
  std::string where;
};

namespace {

// One JIT stack and match-data block per thread: long whitespace runs with lookahead recurse
// deeper than PCRE2's 32 KiB default JIT stack.
struct ThreadScratch {
  pcre2_jit_stack* stack = nullptr;
  pcre2_match_context* ctx = nullptr;
  ThreadScratch() {
    stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
    ctx = pcre2_match_context_create(nullptr);
    pcre2_jit_stack_assign(ctx, nullptr, stack);
    pcre2_set_heap_limit(ctx, 1u << 20);  // KiB: the interpreter fallback may use up to 1 GiB
  }
  ~ThreadScratch() {
    pcre2_match_context_free(ctx);
    pcre2_jit_stack_free(stack);
  }
};

ThreadScratch& scratch() {
  thread_local ThreadScratch s;
  return s;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}

// Whether utf8proc's general category `cat` belongs to the property named `name` ("L", "Lu"...).
bool in_category(const std::string& name, utf8proc_category_t cat) {
  static const char* kNames[] = {"Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd",
                                 "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm",
                                 "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co"};
  const std::string c = kNames[static_cast<int>(cat)];
  return name.size() == 1 ? c[0] == name[0] && cat != UTF8PROC_CATEGORY_CN : c == name;
}

bool is_category_name(const std::string& n) {
  static const std::string kMajor = "LMNPSZC";
  if (n.size() == 1) return kMajor.find(n[0]) != std::string::npos;
  static const char* kNames[] = {"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl",
                                 "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc",
                                 "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Co"};
  for (const char* k : kNames) {
    if (n == k) return true;
  }
  return false;
}

// PCRE2 10.42 knows Unicode 14; utf8proc (and the Oniguruma inside Hugging Face tokenizers)
// knows later versions, so characters added since (new emoji, CJK extension H) would fall out of
// \p{S}, \p{L}... and split differently. For a general category this returns, as class-range
// text, the code points utf8proc puts in it that PCRE2's own \p{name} misses ("" if none).
const std::string& missing_ranges(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, std::string> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  std::string all;
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    if (in_category(name, utf8proc_category(static_cast<utf8proc_int32_t>(cp))))
      utf8::append(all, cp);
  }
  const std::string neg = "\\P{" + name + "}";
  int err = 0;
  PCRE2_SIZE off = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(neg.data()), neg.size(),
                                   PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
  std::string ranges;
  if (code != nullptr) {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(all.data());
    char32_t run_first = 0, run_last = 0;
    bool open = false;
    auto flush = [&] {
      if (!open) return;
      char buf[48];
      std::snprintf(buf, sizeof buf, "\\x{%X}-\\x{%X}", static_cast<unsigned>(run_first),
                    static_cast<unsigned>(run_last));
      ranges += buf;
      open = false;
    };
    for (PCRE2_SIZE pos = 0; pos < all.size();) {
      if (pcre2_match(code, subject, all.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr) < 0) break;
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      std::size_t i = ov[0];
      const char32_t cp = utf8::next(all, i);
      if (open && cp == run_last + 1) {
        run_last = cp;
      } else {
        flush();
        run_first = run_last = cp;
        open = true;
      }
      pos = i;
    }
    flush();
    pcre2_match_data_free(md);
    pcre2_code_free(code);
  }
  return cache.emplace(name, std::move(ranges)).first->second;
}

// Rewrites \p{X} / \pX (general categories) so they also cover the characters PCRE2's older
// tables miss: inside a class the ranges join the class, outside \p{X} becomes [\p{X}ranges]
// and \P{X} becomes [^\p{X}ranges].
std::string patch_properties(const std::string& p) {
  std::string out;
  bool in_class = false;
  for (std::size_t i = 0; i < p.size();) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char k = p[i + 1];
      if ((k == 'p' || k == 'P') && i + 2 < p.size()) {
        std::string name;
        std::size_t end;
        if (p[i + 2] == '{') {
          const std::size_t close = p.find('}', i + 3);
          if (close == std::string::npos) break;
          name = p.substr(i + 3, close - i - 3);
          end = close + 1;
        } else {
          name = p.substr(i + 2, 1);
          end = i + 3;
        }
        const std::string original = p.substr(i, end - i);
        const std::string extra = is_category_name(name) ? missing_ranges(name) : std::string();
        if (extra.empty() || (in_class && k == 'P')) {
          out += original;
        } else if (in_class) {
          out += "\\p{" + name + "}" + extra;
        } else {
          out += std::string(k == 'p' ? "[" : "[^") + "\\p{" + name + "}" + extra + "]";
        }
        i = end;
        continue;
      }
      out.append(p, i, 2);
      i += 2;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      ++i;
      // A ']' right after '[' or '[^' is a literal.
      if (i < p.size() && p[i] == '^') out += p[i++];
      if (i < p.size() && p[i] == ']') out += p[i++];
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
    ++i;
  }
  return out;
}

}  // namespace

Regex::Regex(const std::string& pattern, const std::string& where)
    : impl_(std::make_unique<Impl>()) {
  impl_->where = where;
  int err = 0;
  PCRE2_SIZE off = 0;
  // tokenizers compiles with Oniguruma's Ruby syntax: ^ and $ are line anchors there (PCRE2's
  // MULTILINE), while (?m) (dot matches newline) and \\h (hex digit) mean something else in
  // PCRE2, so patterns using those are refused rather than silently misread.
  bool ruby_only = false;
  for (std::size_t i = 0; i + 1 < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      ruby_only = ruby_only || pattern[i + 1] == 'h';
      ++i;  // skip the escaped character
    } else if (pattern.compare(i, 3, "(?m") == 0) {
      ruby_only = true;
    }
  }
  if (ruby_only) {
    throw Error(ErrorCode::kUnsupported,
                where + ": regex /" + pattern + "/ uses Ruby-only syntax ((?m) or \\h)");
  }
  const std::string patched = patch_properties(pattern);
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(patched.data()), patched.size(),
                              PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE | PCRE2_NO_UTF_CHECK, &err,
                              &off, nullptr);
  if (impl_->code == nullptr) {
    throw Error(ErrorCode::kUnsupported, where + ": regex /" + pattern + "/ does not compile at " +
                                             std::to_string(off) + ": " + pcre2_message(err));
  }
  impl_->jit = pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() {
  if (impl_ && impl_->code) pcre2_code_free(impl_->code);
}

void Regex::find_all(std::string_view s,
                     std::vector<std::pair<std::size_t, std::size_t>>& out) const {
  out.clear();
  ThreadScratch& sc = scratch();
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  // The onig crate's FindMatches: an empty match ending where the previous match ended is
  // skipped (the search moves one character on); every other match is reported once.
  std::size_t last_end = 0;
  std::size_t last_match_end = SIZE_MAX;
  while (last_end <= s.size()) {
    // Input is valid UTF-8 (checked on entry), so PCRE2's own check is skipped.
    int rc = impl_->jit ? pcre2_jit_match(impl_->code, subject, s.size(), last_end,
                                          PCRE2_NO_UTF_CHECK, md, sc.ctx)
                        : pcre2_match(impl_->code, subject, s.size(), last_end, PCRE2_NO_UTF_CHECK,
                                      md, sc.ctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      // Pathological inputs (millions of spaces against a lookahead) outgrow the JIT stack; the
      // interpreter keeps its backtracking state on the heap.
      rc = pcre2_match(impl_->code, subject, s.size(), last_end, PCRE2_NO_UTF_CHECK, md, sc.ctx);
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      pcre2_match_data_free(md);
      throw Error(ErrorCode::kUnsupported,
                  impl_->where + ": regex match failed: " + pcre2_message(rc));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const std::size_t b = ov[0], e = ov[1];
    if (b == e && e == last_match_end) {
      last_end += last_end < s.size() ? utf8::seq_len(static_cast<unsigned char>(s[last_end])) : 1;
      continue;
    }
    last_end = e;
    last_match_end = e;
    out.emplace_back(b, e);
  }
  pcre2_match_data_free(md);
}

}  // namespace maxact
