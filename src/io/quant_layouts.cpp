#include "maxact/quant_layouts.h"

#include <cmath>
#include <string>
#include <vector>

#include "maxact/error.h"

namespace maxact {
namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

[[noreturn]] void mismatch(const TensorView& t, const std::string& msg) {
  throw Error(ErrorCode::kTensorMismatch, *t.file + ": tensor '" + t.name + "': " + msg);
}

void check_rows(const TensorView& t, int64_t rows, int64_t b, int64_t e) {
  if (b < 0 || e < b || e > rows) {
    throw Error(ErrorCode::kRange, *t.file + ": tensor '" + t.name + "': rows [" +
                                       std::to_string(b) + ", " + std::to_string(e) +
                                       ") outside [0, " + std::to_string(rows) + ")");
  }
}

// E2M1 code -> value (sign in bit 3), exactly the table HF's convert_moe_packed_tensors uses.
constexpr float kFp4[16] = {+0.0f, +0.5f, +1.0f, +1.5f, +2.0f, +3.0f, +4.0f, +6.0f,
                            -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

}  // namespace

void check_mxfp4_pair(const TensorView& blocks, const TensorView& scales) {
  if (blocks.dtype != DType::kU8) mismatch(blocks, "MXFP4 blocks must be U8");
  if (scales.dtype != DType::kU8) mismatch(scales, "MXFP4 scales must be U8");
  if (blocks.shape.size() < 2 || blocks.shape.back() != 16) {
    mismatch(blocks,
             "MXFP4 blocks must have shape [..., groups, 16], found " + shape_str(blocks.shape));
  }
  const std::vector<int64_t> want(blocks.shape.begin(), blocks.shape.end() - 1);
  if (scales.shape != want) {
    mismatch(scales, "MXFP4 scales shape " + shape_str(scales.shape) + " does not match blocks " +
                         shape_str(blocks.shape) + " (expected " + shape_str(want) + ")");
  }
}

int64_t mxfp4_rows(const TensorView& blocks) {
  int64_t r = 1;
  for (std::size_t i = 0; i + 2 < blocks.shape.size(); ++i) r *= blocks.shape[i];
  return r;
}

int64_t mxfp4_row_elems(const TensorView& blocks) {
  return blocks.shape[blocks.shape.size() - 2] * 32;
}

void dequant_mxfp4_rows(const TensorView& blocks, const TensorView& scales, int64_t row_begin,
                        int64_t row_end, float* out) {
  check_mxfp4_pair(blocks, scales);
  check_rows(blocks, mxfp4_rows(blocks), row_begin, row_end);
  const int64_t groups = blocks.shape[blocks.shape.size() - 2];
  for (int64_t r = row_begin; r < row_end; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t idx = r * groups + g;
      // Values times 2^(s-127): for s < 255 one multiply by the power of two, exact for these
      // 2-bit mantissas (results overflow to ±inf or land on representable subnormals exactly as
      // ldexp's do); s = 255 (2^128, not a float) goes through ldexp, which keeps ±0 as ±0 where
      // a multiply by inf would give NaN.
      const int exp = static_cast<int>(scales.data[idx]) - 127;
      const unsigned char* b = blocks.data + idx * 16;
      if (exp < 128) {
        const float scale = std::ldexp(1.0f, exp);
        for (int j = 0; j < 16; ++j) {
          *out++ = kFp4[b[j] & 0xF] * scale;
          *out++ = kFp4[b[j] >> 4] * scale;
        }
      } else {
        for (int j = 0; j < 16; ++j) {
          *out++ = std::ldexp(kFp4[b[j] & 0xF], exp);
          *out++ = std::ldexp(kFp4[b[j] >> 4], exp);
        }
      }
    }
  }
}

namespace {
// What both FP8 layouts require: an FP8 2-D weight and a scale of a wide float type.
void check_fp8_weight(const TensorView& weight, const TensorView& scale, const char* layout,
                      const char* scale_name) {
  if (weight.dtype != DType::kF8E4M3 && weight.dtype != DType::kF8E5M2) {
    mismatch(weight, std::string(layout) + " weight must be F8_E4M3 or F8_E5M2, found " +
                         std::string(dtype_name(weight.dtype)));
  }
  if (weight.shape.size() != 2) mismatch(weight, std::string(layout) + " weight must be 2-D");
  if (!dtype_is_float(scale.dtype) || scale.dtype == DType::kF8E4M3 ||
      scale.dtype == DType::kF8E5M2) {
    mismatch(scale, std::string(scale_name) + " must be F32/BF16/F16, found " +
                        std::string(dtype_name(scale.dtype)));
  }
}
}  // namespace

void check_fp8_block_pair(const TensorView& weight, const TensorView& scale_inv, int64_t block_out,
                          int64_t block_in) {
  check_fp8_weight(weight, scale_inv, "FP8 block-quantized", "weight_scale_inv");
  if (block_out <= 0 || block_in <= 0) mismatch(weight, "FP8 block size must be positive");
  const std::vector<int64_t> want{(weight.shape[0] + block_out - 1) / block_out,
                                  (weight.shape[1] + block_in - 1) / block_in};
  if (scale_inv.shape != want) {
    mismatch(scale_inv, "weight_scale_inv shape " + shape_str(scale_inv.shape) +
                            " does not match weight " + shape_str(weight.shape) + " in blocks [" +
                            std::to_string(block_out) + ", " + std::to_string(block_in) +
                            "] (expected " + shape_str(want) + ")");
  }
}

void dequant_fp8_block_rows(const TensorView& weight, const TensorView& scale_inv,
                            int64_t block_out, int64_t block_in, int64_t row_begin, int64_t row_end,
                            float* out) {
  check_fp8_block_pair(weight, scale_inv, block_out, block_in);
  check_rows(weight, weight.shape[0], row_begin, row_end);
  const int64_t cols = weight.shape[1];
  const int64_t scale_cols = scale_inv.shape[1];
  std::vector<float> srow(static_cast<std::size_t>(scale_cols));
  for (int64_t r = row_begin; r < row_end; ++r) {
    read_rows_f32(scale_inv, r / block_out, r / block_out + 1, srow.data());
    convert_to_f32(weight.dtype, weight.data + r * cols, static_cast<std::size_t>(cols), out);
    for (int64_t j = 0; j < cols; ++j) out[j] *= srow[static_cast<std::size_t>(j / block_in)];
    out += cols;
  }
}

void check_fp8_tensor_pair(const TensorView& weight, const TensorView& scale) {
  check_fp8_weight(weight, scale, "FP8 per-tensor quantized", "weight_scale");
  if (scale.numel() != 1) {
    mismatch(scale, "weight_scale must be one value (per-tensor FP8), found shape " +
                        shape_str(scale.shape));
  }
}

void dequant_fp8_tensor_rows(const TensorView& weight, const TensorView& scale, int64_t row_begin,
                             int64_t row_end, float* out) {
  check_fp8_tensor_pair(weight, scale);
  check_rows(weight, weight.shape[0], row_begin, row_end);
  float s = 0;
  read_rows_f32(scale, 0, 1, &s);
  const int64_t cols = weight.shape[1];
  convert_to_f32(weight.dtype, weight.data + row_begin * cols,
                 static_cast<std::size_t>((row_end - row_begin) * cols), out);
  for (int64_t i = 0; i < (row_end - row_begin) * cols; ++i) out[i] *= s;
}

}  // namespace maxact
