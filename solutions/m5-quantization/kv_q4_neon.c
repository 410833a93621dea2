// The q4_0 cache's row kernels for arm64 (kv_q4.h): NEON, one query head at a time, as the q8_0
// cache's (kv_q8_neon.c). A block's 16 bytes give its 32 values as signed bytes k4 - 8 (a mask, a
// shift, a subtraction); a key's dot product is then the plain C's: per block, the integer sum of
// the prepared query's int8 times those (sdot, or widening multiplies), and the same float terms
// in the same order. A value block's bytes are widened to f32, 4 at a time, and multiplied-added
// in f32 lanes: within float rounding of the plain C, not bit for bit (fused multiply-adds).
// Compiled on every machine: elsewhere the file is empty. tools/check-arm64.sh runs them under qemu.
#include "kv_q4.h"

#if KV_Q4_NEON
#include <arm_neon.h>

#include "quant.h"

#define ROW(j) ((const BlockQ4_0 *)((const char *)rows + (j) * row_bytes))

// A block's values 0..15 (lo) and 16..31 (hi) as signed bytes q - 8.
#define UNPACK(B, LO, HI)                                                                          \
    const uint8x16_t LO##_packed = vld1q_u8((B)->qs);                                              \
    const int8x16_t LO = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(LO##_packed, vdupq_n_u8(0x0f))), vdupq_n_s8(8)); \
    const int8x16_t HI = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(LO##_packed, 4)), vdupq_n_s8(8))

// 16 int8 as 4 registers of 4 floats, in named variables (gcc -O2 keeps arrays of registers in
// memory: a store and a load around every multiply-add).
#define WIDEN16(V, X0, X1, X2, X3)                                                                  \
    const int16x8_t X0##_lo = vmovl_s8(vget_low_s8(V)), X0##_hi = vmovl_s8(vget_high_s8(V));        \
    const float32x4_t X0 = vcvtq_f32_s32(vmovl_s16(vget_low_s16(X0##_lo)));                        \
    const float32x4_t X1 = vcvtq_f32_s32(vmovl_s16(vget_high_s16(X0##_lo)));                       \
    const float32x4_t X2 = vcvtq_f32_s32(vmovl_s16(vget_low_s16(X0##_hi)));                        \
    const float32x4_t X3 = vcvtq_f32_s32(vmovl_s16(vget_high_s16(X0##_hi)))

// A prepared query block . a key block, exact in int32: vdotq_s32 (sdot) where the compiler
// targets it, else products into int16 (two at most 2 x 127 x 8: no overflow) added pairwise.
static inline int32_t block_isum(const KVQ8Query *q, const BlockQ4_0 *k) {
    UNPACK(k, k0, k1);
    const int8x16_t q0 = vld1q_s8(q->qs), q1 = vld1q_s8(q->qs + 16);
#if defined(__ARM_FEATURE_DOTPROD)
    return vaddvq_s32(vdotq_s32(vdotq_s32(vdupq_n_s32(0), q0, k0), q1, k1));
#else
    const int16x8_t p0 = vmlal_s8(vmull_s8(vget_low_s8(q0), vget_low_s8(k0)), vget_high_s8(q0), vget_high_s8(k0));
    const int16x8_t p1 = vmlal_s8(vmull_s8(vget_low_s8(q1), vget_low_s8(k1)), vget_high_s8(q1), vget_high_s8(k1));
    return vaddvq_s32(vpadalq_s16(vpaddlq_s16(p0), p1));
#endif
}

// The plain C's terms in its order (kv_q4.c, dot_q4_prepared): the same value.
static float dot_prepared_neon(const KVQ8Query *q, const BlockQ4_0 *k, int n) {
    float sum = 0.0f;
    for (int b = 0; b < n / QK4_0; b++) {
        const float d = q[b].d * q_f16_at(k[b].d);
        const float term = d * (float)block_isum(&q[b], &k[b]);
        sum += term;   // a statement of its own, as in the plain C: no FMA
    }
    return sum;
}

// A block of 32 outputs stays in 8 registers over all the rows.
static void add1_q4_neon(float *out, const float *w, int n_rows, const void *rows, size_t row_bytes, int n) {
    for (int b = 0; b < n / QK4_0; b++) {
        float *o = out + b * QK4_0;
        float32x4_t a0 = vld1q_f32(o), a1 = vld1q_f32(o + 4), a2 = vld1q_f32(o + 8), a3 = vld1q_f32(o + 12);
        float32x4_t a4 = vld1q_f32(o + 16), a5 = vld1q_f32(o + 20), a6 = vld1q_f32(o + 24), a7 = vld1q_f32(o + 28);
        for (int j = 0; j < n_rows; j++) {
            const BlockQ4_0 *v = ROW(j) + b;
            UNPACK(v, lo, hi);
            WIDEN16(lo, x0, x1, x2, x3);
            WIDEN16(hi, x4, x5, x6, x7);
            const float wd = w[j] * q_f16_at(v->d);
            a0 = vfmaq_n_f32(a0, x0, wd), a1 = vfmaq_n_f32(a1, x1, wd), a2 = vfmaq_n_f32(a2, x2, wd);
            a3 = vfmaq_n_f32(a3, x3, wd), a4 = vfmaq_n_f32(a4, x4, wd), a5 = vfmaq_n_f32(a5, x5, wd);
            a6 = vfmaq_n_f32(a6, x6, wd), a7 = vfmaq_n_f32(a7, x7, wd);
        }
        vst1q_f32(o, a0), vst1q_f32(o + 4, a1), vst1q_f32(o + 8, a2), vst1q_f32(o + 12, a3);
        vst1q_f32(o + 16, a4), vst1q_f32(o + 20, a5), vst1q_f32(o + 24, a6), vst1q_f32(o + 28, a7);
    }
}

// The query heads prepared once per call (kv_q8.h; a thread's own buffer), one at a time.
static void dots_q4_neon(float *scores, int stride, const float *q, int n_q, int n_rows, const void *rows,
                         size_t row_bytes, int n) {
    const int blocks = n / QK4_0;
    const KVQ8Query *qp = kv_q8_prepare_heads(q, n_q, n, true);
    for (int h = 0; h < n_q; h++)
        for (int j = 0; j < n_rows; j++)
            scores[(size_t)h * stride + j] = dot_prepared_neon(qp + (size_t)h * blocks, ROW(j), n);
}
static float dot_q4_neon(const float *q, const void *row, int n) {
    float score;
    dots_q4_neon(&score, 1, q, 1, 1, row, 0, n);
    return score;
}
static void add_q4_neon(float *out, const float *w, int stride, int n_q, int n_rows, const void *rows,
                        size_t row_bytes, int n) {
    for (int h = 0; h < n_q; h++) add1_q4_neon(out + (size_t)h * n, w + (size_t)h * stride, n_rows, rows, row_bytes, n);
}

const KVRowKernels kv_q4_kernels_neon = {"neon", dot_q4_neon, dots_q4_neon, add_q4_neon};
#endif
