// The plotting libraries an HTML report inlines (third_party/vega/README.md).
#pragma once

#include <string_view>
#include <vector>

namespace maxact::html {

// vega, vega-lite, vega-embed: the minified UMD builds, in the order they must load.
std::vector<std::string_view> vega_scripts();
// Their licences and those of the packages they bundle (third_party/vega/NOTICE).
std::string_view vega_notice();

}  // namespace maxact::html
