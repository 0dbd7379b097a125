#include "maxact/dtype.h"

#include <array>
#include <cmath>
#include <limits>

namespace maxact {
namespace {

struct DTypeInfo {
  DType type;
  std::string_view name;
  std::size_t size;
  bool is_float;
};

constexpr std::array<DTypeInfo, 12> kDTypes{{
    {DType::kF64, "F64", 8, true},
    {DType::kF32, "F32", 4, true},
    {DType::kF16, "F16", 2, true},
    {DType::kBF16, "BF16", 2, true},
    {DType::kF8E4M3, "F8_E4M3", 1, true},
    {DType::kF8E5M2, "F8_E5M2", 1, true},
    {DType::kI64, "I64", 8, false},
    {DType::kI32, "I32", 4, false},
    {DType::kI16, "I16", 2, false},
    {DType::kI8, "I8", 1, false},
    {DType::kU8, "U8", 1, false},
    {DType::kBool, "BOOL", 1, false},
}};

// Narrowing an out-of-range double is undefined behaviour in C++: handle the overflow side
// explicitly, rounding to nearest as IEEE does (values below FLT_MAX + half an ulp round to it).
float f64_to_f32(double d) {
  constexpr double kMax = std::numeric_limits<float>::max();
  constexpr double kRoundsToInf = kMax + 0x1p103;  // FLT_MAX + ulp(FLT_MAX) / 2
  if (std::fabs(d) > kMax) {
    const float big = std::fabs(d) >= kRoundsToInf ? std::numeric_limits<float>::infinity()
                                                   : std::numeric_limits<float>::max();
    return d < 0 ? -big : big;
  }
  return static_cast<float>(d);
}

const DTypeInfo& info(DType t) {
  return kDTypes[static_cast<std::size_t>(t)];
}

template <typename T>
T load(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Tables for the one-byte formats: 256 entries each, built once.
struct Fp8Tables {
  std::array<float, 256> e4m3{};
  std::array<float, 256> e5m2{};
  Fp8Tables() {
    for (int b = 0; b < 256; ++b) {
      const float sign = (b & 0x80) ? -1.0f : 1.0f;
      {
        const int e = (b >> 3) & 0xF, m = b & 0x7;
        float v;
        if (e == 0xF && m == 0x7) {
          v = std::numeric_limits<float>::quiet_NaN();
        } else if (e == 0) {
          v = std::ldexp(static_cast<float>(m), -9);  // m/8 * 2^-6
        } else {
          v = std::ldexp(static_cast<float>(8 + m), e - 10);  // (1+m/8) * 2^(e-7)
        }
        e4m3[b] = sign * v;
      }
      {
        const int e = (b >> 2) & 0x1F, m = b & 0x3;
        float v;
        if (e == 0x1F) {
          v = m == 0 ? std::numeric_limits<float>::infinity()
                     : std::numeric_limits<float>::quiet_NaN();
        } else if (e == 0) {
          v = std::ldexp(static_cast<float>(m), -16);  // m/4 * 2^-14
        } else {
          v = std::ldexp(static_cast<float>(4 + m), e - 17);  // (1+m/4) * 2^(e-15)
        }
        e5m2[b] = sign * v;
      }
    }
  }
};

const Fp8Tables& fp8_tables() {
  static const Fp8Tables tables;
  return tables;
}

}  // namespace

std::string_view dtype_name(DType t) {
  return info(t).name;
}
std::size_t dtype_size(DType t) {
  return info(t).size;
}
bool dtype_is_float(DType t) {
  return info(t).is_float;
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& d : kDTypes) {
    if (d.name == name) return d.type;
  }
  return std::nullopt;
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  const uint32_t mant = h & 0x3FF;
  if (exp == 0x1F) return bits_to_f32(sign | 0x7F800000u | (mant << 13));  // inf / NaN
  if (exp == 0) {
    // Zero or subnormal: mant * 2^-24 is exact in fp32.
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  return bits_to_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

float e4m3_to_f32(uint8_t b) {
  return fp8_tables().e4m3[b];
}
float e5m2_to_f32(uint8_t b) {
  return fp8_tables().e5m2[b];
}

uint8_t f32_to_e4m3(float f) {
  if (std::isnan(f)) return 0x7F;
  const uint8_t sign = std::signbit(f) ? 0x80 : 0x00;
  const float a = std::fabs(f);
  // Positive codes 0x00 .. 0x7E hold the finite magnitudes in ascending order: find the pair
  // around a, take the nearer, the even code (even mantissa) on a tie.
  const auto& v = fp8_tables().e4m3;
  if (a >= v[0x7E]) return static_cast<uint8_t>(sign | 0x7E);
  int lo = 0, hi = 0x7E;  // v[lo] <= a < v[hi]
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    (v[static_cast<std::size_t>(mid)] <= a ? lo : hi) = mid;
  }
  const float below = a - v[lo], above = v[hi] - a;
  const int code = below < above ? lo : (above < below ? hi : (lo % 2 == 0 ? lo : hi));
  return static_cast<uint8_t>(sign | code);
}

uint16_t f32_to_f16(float f) {
  const uint32_t bits = f32_to_bits(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs = bits & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u);   // NaN
  if (abs >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {
    // Result is subnormal (or zero) in fp16: scale so the fp16 ulp (2^-24) becomes 1 and let the
    // fp32 adder round to nearest even.
    const float scaled = bits_to_f32(abs) * 16777216.0f;  // exact: power of two
    const float r = std::nearbyint(scaled);
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(r));
  }
  // Normal: drop 13 mantissa bits with round-to-nearest-even; a carry into the exponent is right.
  const uint32_t rounded = abs + 0xFFFu + ((abs >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

void convert_to_f32(DType t, const void* src, std::size_t n, float* dst) {
  const auto* p = static_cast<const unsigned char*>(src);
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, p, n * sizeof(float));
      return;
    case DType::kBF16:
      for (std::size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(load<uint16_t>(p + 2 * i));
      return;
    case DType::kF16:
      for (std::size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(load<uint16_t>(p + 2 * i));
      return;
    case DType::kF8E4M3: {
      const auto& tab = fp8_tables().e4m3;
      for (std::size_t i = 0; i < n; ++i) dst[i] = tab[p[i]];
      return;
    }
    case DType::kF8E5M2: {
      const auto& tab = fp8_tables().e5m2;
      for (std::size_t i = 0; i < n; ++i) dst[i] = tab[p[i]];
      return;
    }
    case DType::kF64:
      for (std::size_t i = 0; i < n; ++i) dst[i] = f64_to_f32(load<double>(p + 8 * i));
      return;
    case DType::kI64:
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<int64_t>(p + 8 * i));
      return;
    case DType::kI32:
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<int32_t>(p + 4 * i));
      return;
    case DType::kI16:
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<int16_t>(p + 2 * i));
      return;
    case DType::kI8:
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(static_cast<int8_t>(p[i]));
      return;
    case DType::kU8:
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(p[i]);
      return;
    case DType::kBool:
      for (std::size_t i = 0; i < n; ++i) dst[i] = p[i] != 0 ? 1.0f : 0.0f;
      return;
  }
}

float round_to_f16(float x) {
  return f16_to_f32(f32_to_f16(x));
}

}  // namespace maxact
