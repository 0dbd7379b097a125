// Element types found in Hugging Face safetensors checkpoints, and their conversion to fp32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace maxact {

enum class DType { kF64, kF32, kF16, kBF16, kF8E4M3, kF8E5M2, kI64, kI32, kI16, kI8, kU8, kBool };

// The safetensors spelling ("BF16", "F8_E4M3", ...).
std::string_view dtype_name(DType t);
std::optional<DType> dtype_from_name(std::string_view name);
std::size_t dtype_size(DType t);
bool dtype_is_float(DType t);

// Scalar decoders. Inputs are raw bit patterns, so callers never alias through typed pointers
// (checkpoint data is not guaranteed to be aligned: the header length is arbitrary).
inline float bits_to_f32(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
inline uint32_t f32_to_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}
inline float bf16_to_f32(uint16_t h) {
  return bits_to_f32(uint32_t{h} << 16);
}
float f16_to_f32(uint16_t h);
// OCP FP8 E4M3 "fn" (torch.float8_e4m3fn): no infinities, 0x7F / 0xFF are NaN, max 448.
float e4m3_to_f32(uint8_t b);
// OCP FP8 E5M2 (torch.float8_e5m2): IEEE-like, with infinities and NaNs.
float e5m2_to_f32(uint8_t b);

// Round-to-nearest-even encoders (NaN stays NaN), the rounding torch applies on .to(dtype).
// Inline and branch-free: bf16 mode rounds every op's output with it, in loops the compiler
// vectorises.
inline uint16_t f32_to_bf16(float f) {
  const uint32_t bits = f32_to_bits(f);
  const uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (bits >> 16) | 0x40u;
  return static_cast<uint16_t>((bits & 0x7FFFFFFFu) > 0x7F800000u ? quiet_nan : rounded);
}
uint16_t f32_to_f16(float f);
// FP8 E4M3 "fn", nearest with ties to the even code, saturating at +-448 (what torch's
// .clamp(-448, 448).to(torch.float8_e4m3fn) gives); NaN -> 0x7F.
uint8_t f32_to_e4m3(float f);
// x rounded to the nearest bf16 / fp16 value, as fp32 (bf16 mode rounds with it op by op).
inline float round_to_bf16(float x) {
  return bf16_to_f32(f32_to_bf16(x));
}
float round_to_f16(float x);

// The largest finite magnitudes of the low-precision formats, and of INT8's symmetric grid:
// where values overflow FP16, saturate FP8, and what a scale maps a calibration maximum onto.
inline constexpr float kFp16Max = 65504.0f;
inline constexpr float kE4m3Max = 448.0f;
inline constexpr float kE5m2Max = 57344.0f;
inline constexpr float kInt8Max = 127.0f;

// Converts n elements starting at `src` (raw little-endian bytes of dtype t) to fp32.
// Integer and bool types convert by value; F64 rounds to nearest.
void convert_to_f32(DType t, const void* src, std::size_t n, float* dst);

}  // namespace maxact
