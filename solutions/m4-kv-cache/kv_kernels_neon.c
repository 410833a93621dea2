// The cache's row kernels for arm64 (kv_kernels.h): NEON, one query head and one row at a time;
// kv_kernels.c chooses between them and the plain C ones. They keep 4 independent partial sums
// and widen f16 on the fly (fcvtl), as the x86 ones do. Compiled on every machine: elsewhere the
// file is empty. tools/check-arm64.sh runs them under qemu.
#include "kv_kernels_simd.h"

#if KV_SIMD_NEON
#include <arm_neon.h>

static inline float32x4_t load4_f32(const void *row, int d) { return vld1q_f32((const float *)row + d); }
static inline float32x4_t load4_f16(const void *row, int d) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)row + d)));
}
#define DOT_NEON(LOAD, TAIL)                                                                       \
    float32x4_t a0 = vdupq_n_f32(0), a1 = a0, a2 = a0, a3 = a0;                                    \
    int d = 0;                                                                                     \
    for (; d + 16 <= n; d += 16) {                                                                 \
        a0 = vfmaq_f32(a0, vld1q_f32(q + d), LOAD(row, d));                                        \
        a1 = vfmaq_f32(a1, vld1q_f32(q + d + 4), LOAD(row, d + 4));                                \
        a2 = vfmaq_f32(a2, vld1q_f32(q + d + 8), LOAD(row, d + 8));                                \
        a3 = vfmaq_f32(a3, vld1q_f32(q + d + 12), LOAD(row, d + 12));                              \
    }                                                                                              \
    for (; d + 4 <= n; d += 4) a0 = vfmaq_f32(a0, vld1q_f32(q + d), LOAD(row, d));                 \
    float sum = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));                       \
    for (; d < n; d++) sum += q[d] * (TAIL);                                                       \
    return sum;
#define ROW(j) ((const void *)((const char *)rows + (j) * row_bytes))
#define ADD_NEON(LOAD, TAIL)                                                                       \
    int d = 0;                                                                                     \
    for (; d + 16 <= n; d += 16) {                                                                 \
        float32x4_t a0 = vld1q_f32(out + d), a1 = vld1q_f32(out + d + 4);                          \
        float32x4_t a2 = vld1q_f32(out + d + 8), a3 = vld1q_f32(out + d + 12);                     \
        for (int j = 0; j < n_rows; j++) {                                                         \
            a0 = vfmaq_n_f32(a0, LOAD(ROW(j), d), w[j]);                                           \
            a1 = vfmaq_n_f32(a1, LOAD(ROW(j), d + 4), w[j]);                                       \
            a2 = vfmaq_n_f32(a2, LOAD(ROW(j), d + 8), w[j]);                                       \
            a3 = vfmaq_n_f32(a3, LOAD(ROW(j), d + 12), w[j]);                                      \
        }                                                                                          \
        vst1q_f32(out + d, a0), vst1q_f32(out + d + 4, a1);                                        \
        vst1q_f32(out + d + 8, a2), vst1q_f32(out + d + 12, a3);                                   \
    }                                                                                              \
    for (; d + 4 <= n; d += 4) {                                                                   \
        float32x4_t a0 = vld1q_f32(out + d);                                                       \
        for (int j = 0; j < n_rows; j++) a0 = vfmaq_n_f32(a0, LOAD(ROW(j), d), w[j]);              \
        vst1q_f32(out + d, a0);                                                                    \
    }                                                                                              \
    for (; d < n; d++)                                                                             \
        for (int j = 0; j < n_rows; j++) out[d] += w[j] * (TAIL);

static float dot_f32_neon(const float *q, const void *row, int n) { DOT_NEON(load4_f32, ((const float *)row)[d]) }
static float dot_f16_neon(const float *q, const void *row, int n) {
    DOT_NEON(load4_f16, kv_float_from_half(((const uint16_t *)row)[d]))
}
static void add1_f32_neon(float *out, const float *w, int n_rows, const void *rows, size_t row_bytes, int n) {
    ADD_NEON(load4_f32, ((const float *)ROW(j))[d])
}
static void add1_f16_neon(float *out, const float *w, int n_rows, const void *rows, size_t row_bytes, int n) {
    ADD_NEON(load4_f16, kv_float_from_half(((const uint16_t *)ROW(j))[d]))
}
KV_HEADS_BY_ONE(dots_f32_neon, add_f32_neon, dot_f32_neon, add1_f32_neon)
KV_HEADS_BY_ONE(dots_f16_neon, add_f16_neon, dot_f16_neon, add1_f16_neon)
const KVRowKernels kv_kernels_neon[2] = {{"neon", dot_f32_neon, dots_f32_neon, add_f32_neon},
                                         {"neon", dot_f16_neon, dots_f16_neon, add_f16_neon}};

void kv_f16_to_f32_neon(float *dst, const uint16_t *src, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, load4_f16(src, (int)i));
    for (; i < n; i++) dst[i] = kv_float_from_half(src[i]);
}
void kv_f32_to_f16_neon(uint16_t *dst, const float *src, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vst1_u16(dst + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(src + i))));
    for (; i < n; i++) dst[i] = kv_half_from_float(src[i]);
}

// ---- the softmax of a tile (kv_kernels.h): 4 scores at a time, the sum in registers ----

static inline float32x4_t fma4(float32x4_t a, float32x4_t b, float32x4_t c) { return vfmaq_f32(c, a, b); }
static inline float32x4_t exp4(float32x4_t x) {
    const uint32x4_t keep = vcgeq_f32(x, vdupq_n_f32(KV_EXP_LO));
    x = vmaxq_f32(vminq_f32(x, vdupq_n_f32(KV_EXP_HI)), vdupq_n_f32(KV_EXP_LO - 1.0f));
    const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(KV_LOG2E)));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(KV_LN2_HI));
    r = vfmsq_f32(r, n, vdupq_n_f32(KV_LN2_LO));
    const float32x4_t p = KV_EXP_REMAINDER(fma4, vmulq_f32, vaddq_f32, vdupq_n_f32, r);
    const int32x4_t two_n = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    const float32x4_t e = vmulq_f32(p, vreinterpretq_f32_s32(two_n));
    return vreinterpretq_f32_u32(vandq_u32(keep, vreinterpretq_u32_f32(e)));
}
static float scale_max_neon(float *w, int n, float scale) {
    float32x4_t m = vdupq_n_f32(-INFINITY);
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        const float32x4_t x = vmulq_n_f32(vld1q_f32(w + j), scale);
        vst1q_f32(w + j, x);
        m = vmaxq_f32(m, x);
    }
    float best = vmaxvq_f32(m);
    for (; j < n; j++) {
        w[j] *= scale;
        best = w[j] > best ? w[j] : best;
    }
    return best;
}
static float exp_sum_neon(float *w, int n, float m, float sum) {
    float32x4_t acc = vdupq_n_f32(0.0f);
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        const float32x4_t e = exp4(vsubq_f32(vld1q_f32(w + j), vdupq_n_f32(m)));
        vst1q_f32(w + j, e);
        acc = vaddq_f32(acc, e);
    }
    if (j < n) {   // the last few through the same polynomial: -inf in the unused lanes gives 0
        float last[4];
        for (int i = 0; i < 4; i++) last[i] = j + i < n ? w[j + i] - m : -INFINITY;
        vst1q_f32(last, exp4(vld1q_f32(last)));
        for (int i = 0; j + i < n; i++) w[j + i] = last[i];
        acc = vaddq_f32(acc, vld1q_f32(last));
    }
    return sum + vaddvq_f32(acc);
}
static void rescale_neon(float *x, int n, float f) {
    int d = 0;
    for (; d + 4 <= n; d += 4) vst1q_f32(x + d, vmulq_n_f32(vld1q_f32(x + d), f));
    for (; d < n; d++) x[d] *= f;
}
const KVSoftmaxKernels kv_softmax_neon = {"neon", scale_max_neon, exp_sum_neon, rescale_neon};
#endif
