// The quantized products for arm64 that add in vector lanes: the NEON counterpart of
// quant_avx512.c, and what quant_matmul() runs on a Mac unless PS_SIMD=exact (the bit-exact NEON
// kernels of quant_simd.c) or PS_SIMD=0 (your plain C).
//
// The exact kernels finish each block with a horizontal sum (vaddvq) and one float step of a
// chain that runs block after block, as your loop does; both have to wait for the one before.
// Here a block's integer sum stays spread over the 4 lanes of an int32x4 (sdot, or widening
// multiplies without the dot-product extension), becomes 4 floats, and is multiplied by the
// block's d_w * d_x into float accumulators that are summed only at the end of the row. The same
// terms, other additions: the result differs from yours by rounding only
// (labs/m5-quantization/tests/test_quant_simd.c bounds the difference, under qemu here:
// tools/check-arm64.sh; it has not been timed on a Mac).
//
// First in this file, the integer half of the bit-exact NEON kernels (quant_simd.c runs them with
// its float half when PS_SIMD=exact).
#include "quant.h"
#include "quant_simd.h"
#include "scratch.h"

#include <stdlib.h>
#include <string.h>

#if defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>

// ---- exact: the integer half for quant_simd.c ----

// 32 weights (two halves of 16 int8) times 32 int16 activations, summed. With the dot-product
// extension (every Apple chip has it) the activations, which lie in -127..127, are narrowed to
// int8 and sdot does four products per lane; without it, the weights are widened to int16 and
// multiplied and accumulated into int32.
static inline int32_t dot32_neon(int8x16_t w_lo, int8x16_t w_hi, const int16_t *xq) {
    const int16x8_t x0 = vld1q_s16(xq), x1 = vld1q_s16(xq + 8), x2 = vld1q_s16(xq + 16), x3 = vld1q_s16(xq + 24);
#if defined(__ARM_FEATURE_DOTPROD)
    int32x4_t acc = vdotq_s32(vdupq_n_s32(0), w_lo, vmovn_high_s16(vmovn_s16(x0), x1));
    acc = vdotq_s32(acc, w_hi, vmovn_high_s16(vmovn_s16(x2), x3));
#else
    const int16x8_t w0 = vmovl_s8(vget_low_s8(w_lo)), w1 = vmovl_high_s8(w_lo);
    const int16x8_t w2 = vmovl_s8(vget_low_s8(w_hi)), w3 = vmovl_high_s8(w_hi);
    int32x4_t acc = vmull_s16(vget_low_s16(w0), vget_low_s16(x0));
    acc = vmlal_high_s16(acc, w0, x0);
    acc = vmlal_s16(acc, vget_low_s16(w1), vget_low_s16(x1));
    acc = vmlal_high_s16(acc, w1, x1);
    acc = vmlal_s16(acc, vget_low_s16(w2), vget_low_s16(x2));
    acc = vmlal_high_s16(acc, w2, x2);
    acc = vmlal_s16(acc, vget_low_s16(w3), vget_low_s16(x3));
    acc = vmlal_high_s16(acc, w3, x3);
#endif
    return vaddvq_s32(acc);
}

void quant_neon_chunk(DType type, const uint8_t *w, const ActBlocks *a, int k0, int n, Chunk *c, size_t ahead) {
    (void)ahead;   // not measured on arm64: the plain loads
    const QuantAct *x = a->x;
    const uint8x16_t low_nibbles = vdupq_n_u8(0x0f);
    for (int k = 0; k < n; k++) {
        const int b = k0 + k;
        int8x16_t lo, hi;
        if (type == DT_Q8_0) {
            lo = vld1q_s8(((const BlockQ8_0 *)w)[b].qs);
            hi = vld1q_s8(((const BlockQ8_0 *)w)[b].qs + 16);
        } else if (type == DT_Q4_0) {   // byte j: weight j (low nibble), weight j + 16 (high), +8
            const uint8x16_t q = vld1q_u8(((const BlockQ4_0 *)w)[b].qs);
            lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, low_nibbles)), vdupq_n_s8(8));
            hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), vdupq_n_s8(8));
        } else {   // Q4A: byte j holds weights 2j (low) and 2j + 1 (high); zip puts them in order
            const uint8x16_t q = vld1q_u8(((const BlockQ4A *)w)[b / 2].qs + 16 * (b % 2));
            const uint8x16_t even = vandq_u8(q, low_nibbles), odd = vshrq_n_u8(q, 4);
            lo = vreinterpretq_s8_u8(vzip1q_u8(even, odd));
            hi = vreinterpretq_s8_u8(vzip2q_u8(even, odd));
        }
        c->isum[k] = (float)dot32_neon(lo, hi, x[b].qs);
        scales_plain(type, w, x, k0, k, c);
    }
}

// ---- lanes ----

// 32 weights (two halves of 16 int8) times 32 int8 activations: 4 lanes whose sum is the exact
// integer dot product. Without sdot, int8 products are widened to int16 pairs (|w x + w x| <=
// 2 * 127 * 127 fits) and the pairs to int32.
static inline int32x4_t dot32(int8x16_t w0, int8x16_t w1, const int8_t *x) {
    const int8x16_t x0 = vld1q_s8(x), x1 = vld1q_s8(x + 16);
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, x0), w1, x1);
#else
    const int16x8_t p0 = vmlal_high_s8(vmull_s8(vget_low_s8(w0), vget_low_s8(x0)), w0, x0);
    const int16x8_t p1 = vmlal_high_s8(vmull_s8(vget_low_s8(w1), vget_low_s8(x1)), w1, x1);
    return vaddq_s32(vpaddlq_s16(p0), vpaddlq_s16(p1));
#endif
}

// The 32 quants of activation block b of a row, as signed bytes in the order of x (see prepare):
// Q8_0 as stored; Q4_0 low nibbles = weights 0-15, high = 16-31, minus 8; Q4A low nibbles = the
// even weights, high = the odd ones (the activations are arranged to match).
static inline void quants(DType type, const uint8_t *w, int b, int8x16_t *w0, int8x16_t *w1) {
    if (type == DT_Q8_0) {
        const int8_t *q = ((const BlockQ8_0 *)w)[b].qs;
        *w0 = vld1q_s8(q), *w1 = vld1q_s8(q + 16);
        return;
    }
    const uint8x16_t q = vld1q_u8(type == DT_Q4_0 ? ((const BlockQ4_0 *)w)[b].qs : ((const BlockQ4A *)w)[b / 2].qs + 16 * (b % 2));
    const int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f))), hi = vreinterpretq_s8_u8(vshrq_n_u8(q, 4));
    *w0 = type == DT_Q4_0 ? vsubq_s8(lo, vdupq_n_s8(8)) : lo;
    *w1 = type == DT_Q4_0 ? vsubq_s8(hi, vdupq_n_s8(8)) : hi;
}

// Block b's weight scale (Q4A: its group's scale; *bias: the group's bias, else 0).
static inline float scale_of(DType type, const uint8_t *w, int b, float *bias) {
    if (type == DT_Q4A) {
        const BlockQ4A *g = (const BlockQ4A *)w + b / 2;
        *bias = q_f16_at(g->bias);
        return q_f16_at(g->scale);
    }
    *bias = 0.0f;
    return q_f16_at(w + (size_t)b * quant_block_bytes(type));
}

// One row times one token: x holds n_blocks blocks of 32 int8 activations, d their scales, dsum
// d * (sum of the block's quants), which Q4A's bias multiplies.
static float row(DType type, const uint8_t *w, const int8_t *x, const float *d, const float *dsum, int n_blocks) {
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0), acc_bias = vdupq_n_f32(0);
    float tail_bias = 0.0f;
    int b = 0;
    for (; b + 4 <= n_blocks; b += 4) {   // 4 blocks: their 4 scales in one vector
        float ws[4], bs[4];
        for (int k = 0; k < 4; k++) ws[k] = scale_of(type, w, b + k, &bs[k]);
        const float32x4_t scale = vmulq_f32(vld1q_f32(ws), vld1q_f32(d + b));
        int8x16_t w0, w1;
        quants(type, w, b, &w0, &w1);
        acc0 = vfmaq_laneq_f32(acc0, vcvtq_f32_s32(dot32(w0, w1, x + 32 * (size_t)b)), scale, 0);
        quants(type, w, b + 1, &w0, &w1);
        acc1 = vfmaq_laneq_f32(acc1, vcvtq_f32_s32(dot32(w0, w1, x + 32 * (size_t)(b + 1))), scale, 1);
        quants(type, w, b + 2, &w0, &w1);
        acc0 = vfmaq_laneq_f32(acc0, vcvtq_f32_s32(dot32(w0, w1, x + 32 * (size_t)(b + 2))), scale, 2);
        quants(type, w, b + 3, &w0, &w1);
        acc1 = vfmaq_laneq_f32(acc1, vcvtq_f32_s32(dot32(w0, w1, x + 32 * (size_t)(b + 3))), scale, 3);
        if (type == DT_Q4A) acc_bias = vfmaq_f32(acc_bias, vld1q_f32(bs), vld1q_f32(dsum + b));
    }
    for (; b < n_blocks; b++) {   // the last blocks of a row, one at a time
        float bias;
        const float scale = scale_of(type, w, b, &bias) * d[b];
        int8x16_t w0, w1;
        quants(type, w, b, &w0, &w1);
        acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(dot32(w0, w1, x + 32 * (size_t)b)), scale);
        tail_bias += bias * dsum[b];   // 0 but for Q4A
    }
    return vaddvq_f32(vaddq_f32(vaddq_f32(acc0, acc1), acc_bias)) + tail_bias;
}

bool quant_neon_lanes_supported(void) { return true; }

void quant_neon_lanes_rows(float *out, const QuantAct *x, const void *w, DType type, int rows, int cols, int n_tokens,
                           int row_begin, int row_end) {
    const int blocks = cols / 32;
    const size_t n = (size_t)n_tokens * blocks;
    static _Thread_local Scratch q_scratch, d_scratch, dsum_scratch;   // each thread's, grown once (scratch.h)
    int8_t *q = scratch_reserve(&q_scratch, n * 32);
    float *d = scratch_reserve(&d_scratch, n * sizeof *d), *dsum = scratch_reserve(&dsum_scratch, n * sizeof *dsum);
    // The activations as int8 (they lie in -127..127), each Q4A block's even elements first, then
    // the odd ones: the order of its nibbles.
    for (size_t k = 0; k < n; k++) {
        for (int j = 0; j < 32; j++)
            q[32 * k + j] = (int8_t)(type == DT_Q4A ? x[k].qs[j < 16 ? 2 * j : 2 * (j - 16) + 1] : x[k].qs[j]);
        d[k] = x[k].d;
        dsum[k] = x[k].d * (float)x[k].sum;
    }
    const size_t row_bytes = quant_row_bytes(type, cols);
    for (int r = row_begin; r < row_end; r++) {   // a row's bytes come from DRAM once, then from cache
        const uint8_t *w_row = (const uint8_t *)w + (size_t)r * row_bytes;
        for (int t = 0; t < n_tokens; t++) {
            const size_t first = (size_t)t * blocks;
            out[(size_t)t * rows + r] = row(type, w_row, q + 32 * first, d + first, dsum + first, blocks);
        }
    }
}

#else
bool quant_neon_lanes_supported(void) { return false; }
void quant_neon_lanes_rows(float *out, const QuantAct *x, const void *w, DType type, int rows, int cols, int n_tokens,
                           int row_begin, int row_end) {
    (void)out, (void)x, (void)w, (void)type, (void)rows, (void)cols, (void)n_tokens, (void)row_begin, (void)row_end;
    abort();   // unreachable: never chosen where quant_neon_lanes_supported() is false
}
#endif
