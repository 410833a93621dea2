// Your lab's contract, copied by tools/mkskel from solutions/m5-quantization/quant_simd.h (do not edit: make skeletons rewrites it).
// What the bit-exact SIMD products share (solutions/m5-quantization/quant_simd.c, quant_avx2.c and
// quant_neon.c): the split of a product into an integer half (SIMD, one file per instruction set)
// and a float half (quant_simd.c, plain C in the plain kernels' order), and what passes between
// them. Internal to lab M5's products; quant.h is their interface.
#ifndef PS_QUANT_SIMD_H
#define PS_QUANT_SIMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quant.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PS_SIMD_AVX2 1
#elif defined(__aarch64__) && defined(__ARM_NEON)
#define PS_SIMD_NEON 1
#endif

// A row is processed in chunks of this many activation blocks (8192 weights), so the per-block
// values of a chunk fit in small arrays on the stack whatever the row length.
#define CHUNK 256

// What the integer half hands to the float half, per activation block k of a chunk.
typedef struct {
    float isum[CHUNK];    // the exact int32 sum, as a float (exact too: |isum| <= 32 * 127 * 127 < 2^24)
    float scale[CHUNK];   // Q8_0, Q4_0: d_w * d_x. Q4A: the group's scale
    float bias[CHUNK];    // Q4A: the group's bias
} Chunk;

// The activation blocks of one token, with (on x86) a copy of their quants narrowed to int8 (they
// lie in -127..127): AVX2 multiplies bytes twice as fast as int16 (vpmaddubsw), and the block
// sums and scales in arrays of their own, so eight of them are one load.
typedef struct {
    const QuantAct *x;
    const int8_t *q8;      // [blocks][32] (for Q4A in the order of its nibbles: quant_avx2_narrow)
    const int32_t *sum;    // [blocks]
    const float *d;        // [blocks]
} ActBlocks;

// The scales of activation block k0 + k, one block at a time in plain C.
static inline void scales_plain(DType type, const uint8_t *w, const QuantAct *x, int k0, int k, Chunk *c) {
    if (type == DT_Q4A) {
        const BlockQ4A *g = (const BlockQ4A *)w + (k0 + k) / 2;
        c->scale[k] = q_f16_at(g->scale);
        c->bias[k] = q_f16_at(g->bias);
    } else {
        c->scale[k] = q_f16_at(w + (size_t)(k0 + k) * quant_block_bytes(type)) * x[k0 + k].d;
    }
}

// ---- the integer halves: the exact sums and the scales of n activation blocks from k0 of a row
// w, into c; ahead: prefetch the bytes that far after the ones read (0: none) ----
// quant_avx2.c (x86-64; the caller checks the CPU has AVX2):
void quant_avx2_chunk(DType type, const uint8_t *w, const ActBlocks *a, int k0, int n, Chunk *c, size_t ahead);
// The int8 copy of n activation blocks that ActBlocks.q8 points to (even_then_odd: for Q4A).
void quant_avx2_narrow(const QuantAct *x, int8_t *q8, int n, bool even_then_odd);
void quant_avx2_act(const float *x, QuantAct *y, int n);   // quantize_act, bit for bit
// ---- a prompt (quant_avx2_gemm): tiles of weight rows x 8 tokens ----
// The activations of 8 tokens, one block of 32 each, interleaved so that one 32-byte load gives
// 4 quants of every token: q[s][t] holds token t's quants 4s .. 4s + 3 (for Q4A in the order of
// quant_avx2_narrow's even_then_odd, the order of its nibbles). With 4 weights broadcast to all
// 8 lanes, one vpmaddubsw then multiplies 8 tokens by the same weights, each token in its own
// lanes: a block's integer sums come out one per 32-bit lane, with no horizontal sum at all.
#define GEMM_TOKENS 8
typedef struct {
    int8_t q[8][GEMM_TOKENS][4];
    float d[GEMM_TOKENS];         // the tokens' d_x
    int32_t sum[GEMM_TOKENS];     // and sum_j q_x[j]
} TokenBlock8;
// Group g of a prompt's tokens (tokens 8g .. 8g + 7; the last group padded with zeros) is
// `blocks` TokenBlock8 in a row, from tiles + g * blocks.
// Out rows [row_begin, row_end) for the n_tokens tokens of tiles, out[t * rows + r], the plain
// kernels' bits (quant_avx2.c):
void quant_avx2_gemm(DType type, const uint8_t *w, int rows, int cols, const TokenBlock8 *tiles, int n_tokens,
                     int row_begin, int row_end, float *out);

// ---- a prompt with AVX-512 VNNI (quant_vnni.c): tiles of weight rows x 16 tokens ----
// TokenBlock8's layout, 16 tokens wide: one 64-byte load gives 4 quants of each of 16 tokens, and
// vpdpbusd multiplies them by 4 weights of a row broadcast to all lanes. What vpdpbusd needs is
// prepared once per token: Q8_0's quants as q_x + 128 (its unsigned side; the weights are the
// signed one), Q4_0's lanes' starting value -8 * sum_x.
#define VNNI_TOKENS 16
typedef struct {
    uint8_t q[8][VNNI_TOKENS][4];   // q[s][t]: token t's quants 4s .. 4s + 3 (int8 bits; Q8_0: + 128)
    float d[VNNI_TOKENS];           // the tokens' d_x
    int32_t start[VNNI_TOKENS];     // Q4_0: -8 * sum_x, where each lane's integer sum starts; else 0
    float sum[VNNI_TOKENS];         // (float)sum_x, Q4A's bias term
} TokenBlock16;
bool quant_vnni_supported(void);   // AVX-512 F, BW, VL and VNNI
// Does a product of n_tokens tokens give the plain kernels' bits with the current choice? (true
// for the exact kernels, and for a prompt through the VNNI tiles where decode takes lane kernels)
bool quant_simd_prompt_exact(int n_tokens);
// The bytes a product of n_tokens tokens prepares (each token's own records, shared by the
// product's threads), token t's preparation into them, and out rows [row_begin, row_end) from
// them, out[t * rows + r], the plain kernels' bits (each thread makes its TokenBlock16s from them).
size_t quant_vnni_bytes(int cols, int n_tokens);
void quant_vnni_prepare(DType type, const QuantAct *x, int cols, int t, int n_tokens, void *prepared);
void quant_vnni_gemm(DType type, const uint8_t *w, int rows, int cols, const void *prepared, int n_tokens,
                     int row_begin, int row_end, float *out);

// quant_neon.c (arm64):
void quant_neon_chunk(DType type, const uint8_t *w, const ActBlocks *a, int k0, int n, Chunk *c, size_t ahead);

#endif
