// Your lab's contract, copied by tools/mkskel from solutions/m5-quantization/kv_rows_neon.h (do not edit: make skeletons rewrites it).
// What the NEON row kernels of M5's two caches (kv_q8_neon.c, kv_q4_neon.c) share, written once.
// The formats differ in how a block's bytes become its 32 values as signed bytes,
// BLOCK_VALUES(block, lo, hi) (values 0..15 and 16..31, two int8x16_t), and in where a row keeps
// its blocks; the including file defines BLOCK_VALUES, ROW(j) (row j of `rows`), KV_BLOCK(row, b)
// (what BLOCK_VALUES takes for block b of a row of n values) and KV_SCALE(row, b) (that block's
// scale as a float). Macros, so that registers stay named variables (gcc -O2 keeps arrays of
// registers in memory: a store and a load around every multiply-add).
#ifndef PS_KV_ROWS_NEON_H
#define PS_KV_ROWS_NEON_H

#include <arm_neon.h>

#include "kv_q8.h"
#include "quant.h"

// 16 int8 (the register V) as 4 registers of 4 floats.
#define KV_WIDEN16(V, X0, X1, X2, X3)                                                               \
    const int16x8_t X0##_lo = vmovl_s8(vget_low_s8(V)), X0##_hi = vmovl_s8(vget_high_s8(V));        \
    const float32x4_t X0 = vcvtq_f32_s32(vmovl_s16(vget_low_s16(X0##_lo)));                        \
    const float32x4_t X1 = vcvtq_f32_s32(vmovl_s16(vget_high_s16(X0##_lo)));                       \
    const float32x4_t X2 = vcvtq_f32_s32(vmovl_s16(vget_low_s16(X0##_hi)));                        \
    const float32x4_t X3 = vcvtq_f32_s32(vmovl_s16(vget_high_s16(X0##_hi)))

// 32 int8 . 32 int8, exact in int32: vdotq_s32 (sdot) where the compiler targets it, else
// products into int16 (a pair at most 2 x 127 x 128: no overflow) added pairwise.
static inline int32_t kv_isum32_neon(int8x16_t q0, int8x16_t q1, int8x16_t k0, int8x16_t k1) {
#if defined(__ARM_FEATURE_DOTPROD)
    return vaddvq_s32(vdotq_s32(vdotq_s32(vdupq_n_s32(0), q0, k0), q1, k1));
#else
    const int16x8_t p0 = vmlal_s8(vmull_s8(vget_low_s8(q0), vget_low_s8(k0)), vget_high_s8(q0), vget_high_s8(k0));
    const int16x8_t p1 = vmlal_s8(vmull_s8(vget_low_s8(q1), vget_low_s8(k1)), vget_high_s8(q1), vget_high_s8(k1));
    return vaddvq_s32(vpadalq_s16(vpaddlq_s16(p0), p1));
#endif
}

// The row kernels NAME (dot_NAME, dots_NAME, add_NAME) for rows of 32-value blocks.
#define KV_ROWS_NEON(NAME, BLOCK_VALUES)                                                                               \
    /* The plain C's terms in its order (dot_q8_prepared, dot_q4_prepared): the same value. */                         \
    static float dot_prepared_##NAME(const KVQ8Query *q, const void *k, int n) {                                   \
        float sum = 0.0f;                                                                                          \
        for (int b = 0; b < n / 32; b++) {                                                                         \
            BLOCK_VALUES(KV_BLOCK(k, b), k0, k1);                                                                  \
            const float d = q[b].d * KV_SCALE(k, b);                                                               \
            const float term = d * (float)kv_isum32_neon(vld1q_s8(q[b].qs), vld1q_s8(q[b].qs + 16), k0, k1);       \
            sum += term; /* a statement of its own, as in the plain C: no FMA */                                   \
        }                                                                                                          \
        return sum;                                                                                                \
    }                                                                                                              \
    /* A block of 32 outputs stays in 8 registers over all the rows. */                                            \
    static void add1_##NAME(float *out, const float *w, int n_rows, const void *rows, size_t row_bytes, int n) {    \
        for (int b = 0; b < n / 32; b++) {                                                                         \
            float *o = out + b * 32;                                                                               \
            float32x4_t a0 = vld1q_f32(o), a1 = vld1q_f32(o + 4), a2 = vld1q_f32(o + 8), a3 = vld1q_f32(o + 12);   \
            float32x4_t a4 = vld1q_f32(o + 16), a5 = vld1q_f32(o + 20), a6 = vld1q_f32(o + 24),                    \
                        a7 = vld1q_f32(o + 28);                                                                    \
            for (int j = 0; j < n_rows; j++) {                                                                     \
                BLOCK_VALUES(KV_BLOCK(ROW(j), b), lo, hi);                                                         \
                KV_WIDEN16(lo, x0, x1, x2, x3);                                                                    \
                KV_WIDEN16(hi, x4, x5, x6, x7);                                                                    \
                const float wd = w[j] * KV_SCALE(ROW(j), b);                                                       \
                a0 = vfmaq_n_f32(a0, x0, wd), a1 = vfmaq_n_f32(a1, x1, wd), a2 = vfmaq_n_f32(a2, x2, wd);          \
                a3 = vfmaq_n_f32(a3, x3, wd), a4 = vfmaq_n_f32(a4, x4, wd), a5 = vfmaq_n_f32(a5, x5, wd);          \
                a6 = vfmaq_n_f32(a6, x6, wd), a7 = vfmaq_n_f32(a7, x7, wd);                                        \
            }                                                                                                      \
            vst1q_f32(o, a0), vst1q_f32(o + 4, a1), vst1q_f32(o + 8, a2), vst1q_f32(o + 12, a3);                   \
            vst1q_f32(o + 16, a4), vst1q_f32(o + 20, a5), vst1q_f32(o + 24, a6), vst1q_f32(o + 28, a7);            \
        }                                                                                                          \
    }                                                                                                              \
    /* The query heads prepared once per call (kv_q8.h; a thread's own buffer), one at a time. */                  \
    static void dots_##NAME(float *scores, int stride, const float *q, int n_q, int n_rows, const void *rows,       \
                            size_t row_bytes, int n) {                                                             \
        const KVQ8Query *qp = kv_q8_prepare_heads(q, n_q, n, true);                                                \
        for (int h = 0; h < n_q; h++)                                                                              \
            for (int j = 0; j < n_rows; j++)                                                                       \
                scores[(size_t)h * stride + j] = dot_prepared_##NAME(qp + (size_t)h * (n / 32), ROW(j), n);        \
    }                                                                                                              \
    static float dot_##NAME(const float *q, const void *row, int n) {                                              \
        float score;                                                                                               \
        dots_##NAME(&score, 1, q, 1, 1, row, 0, n);                                                                \
        return score;                                                                                              \
    }                                                                                                              \
    static void add_##NAME(float *out, const float *w, int stride, int n_q, int n_rows, const void *rows,           \
                           size_t row_bytes, int n) {                                                              \
        for (int h = 0; h < n_q; h++) add1_##NAME(out + (size_t)h * n, w + (size_t)h * stride, n_rows, rows, row_bytes, n); \
    }

#endif
