// Block quantization: weights stored in 8 or 4 bits per value plus a little per-block metadata.
//
// Decoding one token reads every weight once, so its speed is set by the bytes moved, not by the
// arithmetic (book/m5-quantization.md). The three formats here cut those bytes by 3.8x to 7.1x
// against f32. A quantized matrix is stored row by row; each row is a run of blocks, and a block
// packs a fixed number of consecutive weights of that row:
//
//   Q8_0  32 weights, 34 bytes   [d: f16][q0..q31: int8]                 x = d * q
//   Q4_0  32 weights, 18 bytes   [d: f16][16 bytes, 2 weights each]      x = d * (q - 8)
//   Q4A   64 weights, 36 bytes   [scale: f16][bias: f16][32 bytes]       x = scale * q + bias
//
// Q8_0 and Q4_0 are llama.cpp's formats byte for byte (GGUF's block_q8_0 / block_q4_0); Q4A uses
// MLX's affine rule with group 64 (MLX keeps scales and biases in separate arrays; we put them in
// front of their group so that one pointer walks a row). Every multi-byte field is little-endian
// and blocks have no padding, so a block is only ever read byte by byte: no alignment needed.
//
// Nibble order differs between the two 4-bit formats, as in their origins:
//   Q4_0: byte j holds weight j in its low nibble and weight j+16 in its high nibble;
//   Q4A:  byte j holds weight 2j in its low nibble and weight 2j+1 in its high nibble.
#ifndef PS_QUANT_H
#define PS_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "quant_blocks.h"  // BlockQ8_0, BlockQ4_0, BlockQ4A: shared with the Metal kernels
#include "safetensors.h"   // DType

// The formats' dtypes, numbered after the file types (safetensors.h): what a quantized Mat's dtype
// says. quant_register() (quant_model.h) makes lab M1's loader and lab M2's matmul know them.
enum { DT_Q8_0 = DT_EXTENSION, DT_Q4_0, DT_Q4A };

// IEEE half precision <-> float. The encoder rounds to nearest, ties to even, and produces
// subnormals, infinities and NaN exactly like numpy's astype(np.float16).
uint16_t q_f32_to_f16(float f);

// The decoder runs once per block inside the products, so it is inline (a call per 32 weights
// was a third of the time). Its 15 bits of exponent and mantissa, moved to a float's place, make
// a float exactly 2^-112 times the half's value (the exponent biases differ by 127 - 15 = 112),
// subnormal halves included; one exact multiplication fixes the scale.
static inline float q_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, rest = h & 0x7fff, bits;
    float f;
    if (rest >= 0x7c00) {
        bits = sign | 0x7f800000 | (rest & 0x3ff) << 13;   // infinity or NaN
        memcpy(&f, &bits, 4);
        return f;
    }
    bits = rest << 13;
    memcpy(&f, &bits, 4);
    return sign ? -(f * 0x1p112f) : f * 0x1p112f;
}

// A block's f16 field (two little-endian bytes, read byte by byte: no alignment needed) as a float.
static inline float q_f16_at(const uint8_t p[2]) { return q_f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

// ---- formats ----
bool dtype_is_quantized(DType t);        // Q8_0, Q4_0, Q4A
int quant_block_len(DType t);            // weights per block: 32, 32, 64 (0: not a block format)
size_t quant_block_bytes(DType t);       // 34, 18, 36
size_t quant_row_bytes(DType t, int n);  // bytes of a row of n weights (n a multiple of block_len)

// Quantize n floats (n a multiple of the block length) into n / block_len blocks, following the
// published rules exactly (same bytes as llama.cpp's reference quantizers and MLX's CPU path).
void quantize_row_q8_0(const float *x, BlockQ8_0 *y, int n);
void quantize_row_q4_0(const float *x, BlockQ4_0 *y, int n);
void quantize_row_q4a(const float *x, BlockQ4A *y, int n);
void dequantize_row_q8_0(const BlockQ8_0 *x, float *y, int n);
void dequantize_row_q4_0(const BlockQ4_0 *x, float *y, int n);
void dequantize_row_q4a(const BlockQ4A *x, float *y, int n);

// The same, dispatched on the type (t must be a block format; n a multiple of its block length).
void quantize_row(DType t, const float *x, void *y, int n);
void dequantize_row(DType t, const void *x, float *y, int n);

// ---- products ----
// out[t*rows + r] = sum_c W[r][c] * x[t*cols + c] for t < n_tokens, r < rows: W is rows x cols
// in format `type`, read directly (never widened to f32 in memory). The activations x are first
// rounded to 8 bits per block of 32 (QuantAct below), so the inner loops are integer dot products.
// cols must be a multiple of the block length. Runs on the thread pool (fewer threads for a small
// product), through lab M2's matmul(): the formats must be registered first (quant_register()).
void quant_matmul(float *out, const float *x, const void *w, DType type, int rows, int cols,
                  int n_tokens);
// quant_matmul() in its two steps, for products that share their input (lab M2's matmul_many:
// quant_register() gives it these): the activations x [n_tokens × cols] quantized once into
// quant_prep_bytes() bytes of prep (tokens [t0, t1) per call, so threads can split a prompt), then
// output rows [r0, r1) of the product with any matrix of this type and width from them, the same
// bits as quant_matmul() (a token that is not all finite makes every output NaN, as there).
size_t quant_prep_bytes(DType type, int cols, int n_tokens);
void quant_prepare(void *prep, const float *x, DType type, int cols, int n_tokens, int t0, int t1);
void quant_rows(float *out, const void *prep, const void *w, DType type, int rows, int cols, int n_tokens, int r0,
                int r1);

// Activations in 8 bits, blocks of 32: x[j] ~= d * qs[j], qs in -127..127; sum = qs[0] + ... +
// qs[31] (the Q4A product needs it for its bias term). The values fit in 8 bits but are kept in
// int16: then the product loops widen only the weights, and x86's baseline SIMD (SSE2) multiplies
// int16 pairs straight into int32 sums (measured: 1.6x faster Q8_0 products than int8 here).
// Internal to the products, exposed for tests and benches.
typedef struct { float d; int32_t sum; int16_t qs[32]; } QuantAct;
void quantize_act(const float *x, QuantAct *y, int n);
// One row of W (n weights, format `type`) times one quantized activation vector.
float quant_dot(DType type, const void *w_row, const QuantAct *x, int n);

// ---- SIMD (quant_simd.c: the choice and the float half; quant_avx2.c, quant_avx512.c, quant_neon.c) ----
// The products above have more implementations with SIMD intrinsics, chosen at run time. Exact
// ones give the plain kernels' bits: AVX2 on x86-64, NEON (with sdot where the compiler targets
// it) on arm64. Lane ones add in vector lanes, so they differ by rounding, and are faster: AVX-512
// (with VNNI and VBMI) on the x86-64 CPUs that have it, NEON on arm64 (quant_neon.c).
// quant_matmul() uses the best one the SIMD policy allows (shared/simd.h, family SIMD_QUANT; on
// by default; quant_simd_exact() says which kind runs); PS_SIMD=0 in the environment runs the plain
// C, PS_SIMD=exact the best exact kernel. The lab's tests switch SIMD off to test your kernels.
bool quant_simd_enabled(void);
void quant_set_simd(bool on);        // false: plain C; true: the best SIMD kernel of this CPU
bool quant_set_simd_exact(void);     // the best bit-exact one; false (plain C) if there is none
bool quant_simd_exact(void);         // does the current choice give the plain kernels' bits?
const char *quant_simd_name(void);   // "avx512", "avx2", "neon[+dotprod][ lanes]" or "plain C"
float quant_simd_dot(DType type, const void *w_row, const QuantAct *x, int n);   // = quant_dot
void quant_simd_act(const float *x, QuantAct *y, int n);                         // = quantize_act
// Output rows [row_begin, row_end) of out = W x for already quantized activations x.
void quant_simd_rows(float *out, const QuantAct *x, const void *w, DType type, int rows, int cols,
                     int n_tokens, int row_begin, int row_end);
// Activations the SIMD kernel in use wants rearranged once per product (the AVX-512 kernels' order,
// the AVX2 tiles of 8 tokens), so that a product's threads share them instead of each preparing
// every token: the bytes for n_tokens tokens (0: this kernel reads QuantAct as it is), token t's
// preparation into them (x: its cols / 32 blocks), and the rows from them.
size_t quant_simd_prep_bytes(DType type, int cols, int n_tokens);
void quant_simd_prepare(DType type, const QuantAct *x, int cols, int t, int n_tokens, void *prepared);
void quant_simd_rows_prepared(float *out, const void *prepared, const void *w, DType type, int rows, int cols,
                              int n_tokens, int row_begin, int row_end);
bool quant_avx512_supported(void);   // the AVX-512 kernels (quant_avx512.c), behind quant_simd_rows
size_t quant_avx512_prep_bytes(DType type, int cols);
void quant_avx512_prepare(DType type, const QuantAct *x, int cols, void *mem);
void quant_avx512_rows_prepared(float *out, const void *prepared, const void *w, DType type, int rows, int cols,
                                int n_tokens, int row_begin, int row_end);
bool quant_neon_lanes_supported(void);   // the NEON lane kernels (quant_neon.c), the same way
void quant_neon_lanes_rows(float *out, const QuantAct *x, const void *w, DType type, int rows, int cols,
                           int n_tokens, int row_begin, int row_end);

#endif
