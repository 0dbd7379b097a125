// Dequantization of the quantized weight layouts found in released checkpoints
// (docs/NUMERICS.md §9). Both produce the Linear layout [rows = out features, in features].
#pragma once

#include <cstdint>

#include "maxact/safetensors.h"

namespace maxact {

// MXFP4 (gpt-oss experts): `blocks` U8 [..., G, 16] holds two FP4 (E2M1) codes per byte, low nibble
// first; `scales` U8 [..., G] holds E8M0 exponents (value 2^(s-127)). Leading dims are flattened to
// rows; each row dequantizes to G*32 floats. Throws kTensorMismatch on inconsistent shapes/dtypes.
void check_mxfp4_pair(const TensorView& blocks, const TensorView& scales);
int64_t mxfp4_rows(const TensorView& blocks);
int64_t mxfp4_row_elems(const TensorView& blocks);
void dequant_mxfp4_rows(const TensorView& blocks, const TensorView& scales, int64_t row_begin,
                        int64_t row_end, float* out);

// FP8 block quantization (quant_method "fp8", weight_block_size [bo, bi]): `weight` F8 [out, in],
// `scale_inv` float [ceil(out/bo), ceil(in/bi)]; W[i][j] = f32(w8[i][j]) * scale_inv[i/bo][j/bi].
void check_fp8_block_pair(const TensorView& weight, const TensorView& scale_inv, int64_t block_out,
                          int64_t block_in);
void dequant_fp8_block_rows(const TensorView& weight, const TensorView& scale_inv,
                            int64_t block_out, int64_t block_in, int64_t row_begin, int64_t row_end,
                            float* out);

// FP8 with one scale per tensor (compressed-tensors / ModelOpt): `weight` F8 [out, in], `scale` one
// float ([], [1] or [1, 1]); W = f32(w8) * scale.
void check_fp8_tensor_pair(const TensorView& weight, const TensorView& scale);
void dequant_fp8_tensor_rows(const TensorView& weight, const TensorView& scale, int64_t row_begin,
                             int64_t row_end, float* out);

}  // namespace maxact
