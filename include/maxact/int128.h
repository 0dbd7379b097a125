// 128-bit integers (a GCC/Clang extension; __extension__ keeps -Wpedantic quiet).
#pragma once

namespace maxact {
__extension__ typedef __int128 int128;
__extension__ typedef unsigned __int128 uint128;
}  // namespace maxact
