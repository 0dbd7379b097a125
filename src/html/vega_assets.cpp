// Vega, Vega-Lite and vega-embed (third_party/vega/, BSD-3-Clause) linked into the library as
// raw bytes, so every HTML report carries its plotting code and opens offline.
#include "html/vega_assets.h"

#if !defined(MAXACT_VEGA_JS) || !defined(MAXACT_VEGA_LITE_JS) || !defined(MAXACT_VEGA_EMBED_JS) || \
    !defined(MAXACT_VEGA_NOTICE)
#error "MAXACT_VEGA_JS, _LITE_JS, _EMBED_JS and _NOTICE must name files in third_party/vega/"
#endif

#define MAXACT_INCBIN(sym, path)      \
  __asm__(                            \
      ".section .rodata\n"            \
      ".global " #sym "_begin\n" #sym \
      "_begin:\n"                     \
      ".incbin \"" path               \
      "\"\n"                          \
      ".global " #sym "_end\n" #sym   \
      "_end:\n"                       \
      ".byte 0\n"                     \
      ".previous\n")

MAXACT_INCBIN(maxact_vega_js, MAXACT_VEGA_JS);
MAXACT_INCBIN(maxact_vega_lite_js, MAXACT_VEGA_LITE_JS);
MAXACT_INCBIN(maxact_vega_embed_js, MAXACT_VEGA_EMBED_JS);
MAXACT_INCBIN(maxact_vega_notice, MAXACT_VEGA_NOTICE);

extern "C" const char maxact_vega_js_begin[], maxact_vega_js_end[];
extern "C" const char maxact_vega_lite_js_begin[], maxact_vega_lite_js_end[];
extern "C" const char maxact_vega_embed_js_begin[], maxact_vega_embed_js_end[];
extern "C" const char maxact_vega_notice_begin[], maxact_vega_notice_end[];

namespace maxact::html {
namespace {

std::string_view bytes(const char* begin, const char* end) {
  return {begin, static_cast<std::size_t>(end - begin)};
}

}  // namespace

std::vector<std::string_view> vega_scripts() {
  return {bytes(maxact_vega_js_begin, maxact_vega_js_end),
          bytes(maxact_vega_lite_js_begin, maxact_vega_lite_js_end),
          bytes(maxact_vega_embed_js_begin, maxact_vega_embed_js_end)};
}

std::string_view vega_notice() {
  return bytes(maxact_vega_notice_begin, maxact_vega_notice_end);
}

}  // namespace maxact::html
