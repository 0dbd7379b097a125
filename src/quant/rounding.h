// The roundings of the simulated formats, inline for the per-value loops of the quantization
// check; quantize.cpp's public functions are these.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "maxact/dtype.h"

namespace maxact::quant {

// Nearest integer, ties to even. Adding and removing 1.5 * 2^23 leaves exactly that for
// |v| < 2^22 (the sum lies where the fp32 spacing is 1 and the adder rounds to nearest even);
// 2^22 <= |v| < 2^23 (spacing 0.5) the same with 2^23 on |v|; from 2^23 on every float is an
// integer. No libm call: baseline x86-64 has no rounding instruction.
inline float rne(float v) {
  const float a = std::fabs(v);
  if (a < 4194304.0f) return (v + 12582912.0f) - 12582912.0f;
  if (a < 8388608.0f) return std::copysign((a + 8388608.0f) - 8388608.0f, v);
  return v;
}

// INT8 symmetric code before the clamp: rne(x / s) (s != 0).
inline float int8_code(float x, float s) {
  return rne(x / s);
}
inline float int8_value(float code, float s) {
  // Comparisons, not std::fmin / fmax (a libm call on x86-64); code is never NaN.
  return (code > kInt8Max ? kInt8Max : (code < -kInt8Max ? -kInt8Max : code)) * s;
}

// Nearest value of a float format with kMant mantissa bits and minimum normal exponent kEmin
// (subnormals below), ties to even, exponent range unbounded above; finite x.
template <int kMant, int kEmin>
inline float round_minifloat(float x) {
  const float a = std::fabs(x);
  float r;
  if (a < std::ldexp(1.0f, kEmin)) {
    // Fixed quantum 2^(kEmin - kMant): scale it to 1 (exact, a power of two) and round.
    const float up = std::ldexp(1.0f, kMant - kEmin), down = std::ldexp(1.0f, kEmin - kMant);
    r = rne(a * up) * down;
  } else {
    // Drop 23 - kMant mantissa bits, ties to even; a carry into the exponent is right.
    constexpr int kDrop = 23 - kMant;
    uint32_t b;
    std::memcpy(&b, &a, 4);
    b += (1u << (kDrop - 1)) - 1u + ((b >> kDrop) & 1u);
    b &= ~((1u << kDrop) - 1u);
    std::memcpy(&r, &b, 4);
  }
  return std::copysign(r, x);
}

inline float e4m3(float y) {  // saturating at +-448; NaN stays NaN
  if (std::isnan(y)) return y;
  if (std::fabs(y) >= kE4m3Max) return std::copysign(kE4m3Max, y);
  const float r = round_minifloat<3, -6>(y);
  return std::fabs(r) > kE4m3Max ? std::copysign(kE4m3Max, y) : r;
}
inline float e5m2(float y) {  // saturating at +-57344
  if (std::isnan(y)) return y;
  if (std::fabs(y) >= kE5m2Max) return std::copysign(kE5m2Max, y);
  const float r = round_minifloat<2, -14>(y);
  return std::fabs(r) > kE5m2Max ? std::copysign(kE5m2Max, y) : r;
}
inline bool e4m3_clips(float y) {
  return std::fabs(round_minifloat<3, -6>(y)) > kE4m3Max;
}
inline bool e5m2_clips(float y) {
  return std::fabs(round_minifloat<2, -14>(y)) > kE5m2Max;
}

}  // namespace maxact::quant
