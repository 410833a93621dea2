// mlx_lm's quantized model folders (mlx-community/*-4bit, -8bit) read as a protostar Model.
// Chapter: book/appendix-formats.md#mlx.
//
// mlx_lm writes a Hugging Face folder whose config.json has "quantization": {"group_size": G,
// "bits": B} and in which every quantized matrix NAME.weight [rows × cols] became three tensors:
//   NAME.weight  U32 [rows, cols * B / 32]: word j of a row packs the 32/B weights 32/B*j + k at
//                bits [k*B, (k+1)*B), k = 0, 1, ... (so, as little-endian bytes, a 4-bit row is
//                byte j = weight 2j | weight 2j+1 << 4, and an 8-bit row is one weight per byte);
//   NAME.scales and NAME.biases, the model's dtype (BF16 for Qwen3) [rows, cols / G]:
//                weight = scale * q + bias, q in 0 .. 2^B - 1, one (scale, bias) per group.
// Bits and group are read from each matrix's shapes (mixed-precision folders give some matrices
// other values); bits 4 and 8 and groups that are multiples of 32 are read, others refused.
//
// At load each matrix goes to the cheapest format that holds it exactly:
//   4 bits, group 64, every scale and bias exact in f16 → Q4A (M5's own block, its SIMD kernels);
//   otherwise 4 bits → MLX4 and 8 bits → MLX8, blocks of 32 weights with an f32 scale and bias
//   (a group of 64 or 128 is 2 or 4 blocks with the same pair): 6 and 10 bits per weight in
//   memory instead of MLX's 4.5 to 5 and 8.5 to 9, computed by plain C kernels here.
#ifndef PS_MLX_MODEL_H
#define PS_MLX_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "quant.h"

// The two formats of this file, numbered after M5's three.
enum { DT_MLX4 = DT_Q4A + 1, DT_MLX8 };

#define QK_MLX 32
typedef struct { float scale, bias; uint8_t qs[QK_MLX / 2]; } BlockMlx4;   // byte j: weight 2j low nibble, 2j+1 high
typedef struct { float scale, bias; uint8_t qs[QK_MLX]; } BlockMlx8;       // weight j = scale * qs[j] + bias
static_assert(sizeof(BlockMlx4) == 24 && sizeof(BlockMlx8) == 40, "MLX blocks: 8 + 16 and 8 + 32 bytes");

// True when DIR/config.json has a "quantization" object (an mlx_lm folder).
bool mlx_path_is_mlx(const char *dir);

// Registers MLX4 and MLX8 with M1's loader and M2's matmul (like quant_register). 0 or -1.
int mlx_register(void);

// Loads an mlx_lm folder (registers the formats first). 0, or -1 after a message naming the
// file and tensor.
int mlx_model_load(Model *m, const char *dir);

#endif
