// The q8_0 cache's row kernels for arm64 (kv_q8.h): NEON, one query head at a time, as M4's NEON
// kernels. Each block's 32 int8 are widened to f32, 4 at a time (sxtl twice, scvtf), and
// multiplied-added in f32 lanes: they match the plain C within float rounding, not bit for bit
// (lanes, then across them, and fused multiply-adds). Compiled on every machine: elsewhere the
// file is empty. tools/check-arm64.sh runs them under qemu.
#include "kv_q8.h"

#if KV_Q8_NEON
#include <arm_neon.h>

#include "quant.h"

#define ROW(j) ((const BlockQ8_0 *)((const char *)rows + (j) * row_bytes))

// A block's 32 int8 as 8 registers of 4 floats.
static inline void widen_block(const BlockQ8_0 *b, float32x4_t x[8]) {
    for (int h = 0; h < 2; h++) {
        const int8x16_t v = vld1q_s8(b->qs + 16 * h);
        const int16x8_t lo = vmovl_s8(vget_low_s8(v)), hi = vmovl_s8(vget_high_s8(v));
        x[4 * h + 0] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo)));
        x[4 * h + 1] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(lo)));
        x[4 * h + 2] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi)));
        x[4 * h + 3] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(hi)));
    }
}

static float dot_q8_neon(const float *q, const void *row, int n) {
    const BlockQ8_0 *k = row;
    float32x4_t acc = vdupq_n_f32(0), x[8];
    for (int b = 0; b < n / QK8_0; b++, q += QK8_0) {
        widen_block(&k[b], x);
        float32x4_t s0 = vmulq_f32(vld1q_f32(q), x[0]), s1 = vmulq_f32(vld1q_f32(q + 4), x[1]);
        for (int i = 2; i < 8; i += 2)
            s0 = vfmaq_f32(s0, vld1q_f32(q + 4 * i), x[i]), s1 = vfmaq_f32(s1, vld1q_f32(q + 4 * i + 4), x[i + 1]);
        acc = vfmaq_n_f32(acc, vaddq_f32(s0, s1), q_f16_at(k[b].d));
    }
    return vaddvq_f32(acc);
}

static void add1_q8_neon(float *out, const float *w, int n_rows, const void *rows, size_t row_bytes, int n) {
    for (int b = 0; b < n / QK8_0; b++) {
        float *o = out + b * QK8_0;
        float32x4_t a[8], x[8];
        for (int i = 0; i < 8; i++) a[i] = vld1q_f32(o + 4 * i);
        for (int j = 0; j < n_rows; j++) {
            const BlockQ8_0 *v = ROW(j) + b;
            widen_block(v, x);
            const float wd = w[j] * q_f16_at(v->d);
            for (int i = 0; i < 8; i++) a[i] = vfmaq_n_f32(a[i], x[i], wd);
        }
        for (int i = 0; i < 8; i++) vst1q_f32(o + 4 * i, a[i]);
    }
}

static void dots_q8_neon(float *scores, int stride, const float *q, int n_q, int n_rows, const void *rows,
                         size_t row_bytes, int n) {
    for (int h = 0; h < n_q; h++)
        for (int j = 0; j < n_rows; j++) scores[(size_t)h * stride + j] = dot_q8_neon(q + (size_t)h * n, ROW(j), n);
}
static void add_q8_neon(float *out, const float *w, int stride, int n_q, int n_rows, const void *rows,
                        size_t row_bytes, int n) {
    for (int h = 0; h < n_q; h++) add1_q8_neon(out + (size_t)h * n, w + (size_t)h * stride, n_rows, rows, row_bytes, n);
}

const KVRowKernels kv_q8_kernels_neon = {"neon", dot_q8_neon, dots_q8_neon, add_q8_neon};
#endif
