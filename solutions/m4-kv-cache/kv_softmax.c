// The softmax of a tile of scores (kv_kernels.h, KVSoftmaxKernels): plain C, AVX2 + FMA, AVX-512
// and NEON, chosen at run time as the row kernels are.
//
// Why a kernel for 32 numbers: attention takes e^x of every score, 2 x 28 x 16 x p of them per
// token (Qwen3-0.6B at p = 4,096: 1.8 million). libm's expf is one value per call, and a running
// sum kept in memory makes each addition wait for the one before: on one core that loop was about
// half of attention's time at 4,096 keys, more than the dot products and the additions of values.
// The SIMD versions compute 8 or 16 exponentials at once, with the polynomial below, and keep the
// sum in registers.
//
// e^x = 2^n x e^r with n = round(x / ln 2) and r = x - n ln 2 in [-ln2/2, ln2/2]; e^r from a
// degree-7 polynomial (Cephes' expf coefficients: within 1 ulp of expf, kvcache.scaled-attention); 2^n put
// in the exponent bits directly. ln 2 is split in two (C1 exact in 9 bits, C2 the rest) so that
// n x C1 is exact and r keeps its low bits.
#include <math.h>

#include "kv_kernels.h"
#include "kv_kernels_simd.h"
#include "simd.h"

#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f
#define LN2_LO -2.12194440e-4f
// e^r ~ 1 + r + r^2 (P5 + r (P4 + r (P3 + r (P2 + r (P1 + r P0)))))
#define P0 1.9875691500e-4f
#define P1 1.3981999507e-3f
#define P2 8.3334519073e-3f
#define P3 4.1665795894e-2f
#define P4 1.6666665459e-1f
#define P5 5.0000001201e-1f
// The polynomial, Horner's way, in any instruction set: FMA(a, b, c) = a x b + c, SET(x) x in
// every lane.
#define EXP_REMAINDER(FMA, MUL, ADD, SET, r)                                                             \
    FMA(FMA(FMA(FMA(FMA(FMA(SET(P0), r, SET(P1)), r, SET(P2)), r, SET(P3)), r, SET(P4)), r, SET(P5)), MUL(r, r), \
        ADD(r, SET(1.0f)))
// The kernels' exponentials are 0 below this, as kv_softmax_exp's (kv_kernels.h); above EXP_HI
// the argument is clamped (a score above the tile's maximum cannot happen; this keeps 2^n finite).
#define EXP_HI 88.0f

// ---- plain C: the loops kv_attention had, one value at a time ----

static float scale_max_plain(float *w, int n, float scale) {
    for (int j = 0; j < n; j++) w[j] *= scale;
    float m = w[0];
    for (int j = 1; j < n; j++) m = w[j] > m ? w[j] : m;
    return m;
}
static float exp_sum_plain(float *w, int n, float m, float sum) {
    for (int j = 0; j < n; j++) {
        w[j] = kv_softmax_exp(w[j] - m);
        sum += w[j];
    }
    return sum;
}
static void rescale_plain(float *x, int n, float f) {
    for (int d = 0; d < n; d++) x[d] *= f;
}
static const KVSoftmaxKernels PLAIN = {"plain C", scale_max_plain, exp_sum_plain, rescale_plain};

#if KV_SIMD_X86
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f")))

AVX2 static inline __m256 exp8(__m256 x) {
    const __m256 zero = _mm256_cmp_ps(x, _mm256_set1_ps(KV_EXP_LO), _CMP_LT_OQ);
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(EXP_HI)), _mm256_set1_ps(KV_EXP_LO - 1.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    const __m256 p = EXP_REMAINDER(_mm256_fmadd_ps, _mm256_mul_ps, _mm256_add_ps, _mm256_set1_ps, r);
    const __m256i two_n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(zero, _mm256_mul_ps(p, _mm256_castsi256_ps(two_n)));
}
AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
AVX2 static float scale_max_avx2(float *w, int n, float scale) {
    const __m256 s = _mm256_set1_ps(scale);
    __m256 m = _mm256_set1_ps(-INFINITY);
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256 x = _mm256_mul_ps(_mm256_loadu_ps(w + j), s);
        _mm256_storeu_ps(w + j, x);
        m = _mm256_max_ps(m, x);
    }
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    float best = _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
    for (; j < n; j++) {
        w[j] *= scale;
        best = w[j] > best ? w[j] : best;
    }
    return best;
}
AVX2 static float exp_sum_avx2(float *w, int n, float m, float sum) {
    const __m256 vm = _mm256_set1_ps(m);
    __m256 acc = _mm256_setzero_ps();
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(w + j), vm));
        _mm256_storeu_ps(w + j, e);
        acc = _mm256_add_ps(acc, e);
    }
    if (j < n) {   // the last few through the same polynomial: -inf in the unused lanes gives 0
        float last[8];
        for (int i = 0; i < 8; i++) last[i] = j + i < n ? w[j + i] - m : -INFINITY;
        _mm256_storeu_ps(last, exp8(_mm256_loadu_ps(last)));
        for (int i = 0; j + i < n; i++) w[j + i] = last[i];
        acc = _mm256_add_ps(acc, _mm256_loadu_ps(last));
    }
    return sum + hsum8(acc);
}
AVX2 static void rescale_avx2(float *x, int n, float f) {
    int d = 0;
    for (; d + 8 <= n; d += 8) _mm256_storeu_ps(x + d, _mm256_mul_ps(_mm256_loadu_ps(x + d), _mm256_set1_ps(f)));
    for (; d < n; d++) x[d] *= f;
}
static const KVSoftmaxKernels SET_AVX2 = {"avx2", scale_max_avx2, exp_sum_avx2, rescale_avx2};

AVX512 static inline __m512 exp16(__m512 x) {
    const __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(KV_EXP_LO), _CMP_GE_OQ);
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(EXP_HI)), _mm512_set1_ps(KV_EXP_LO - 1.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    const __m512 p = EXP_REMAINDER(_mm512_fmadd_ps, _mm512_mul_ps, _mm512_add_ps, _mm512_set1_ps, r);
    const __m512i two_n = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_maskz_mul_ps(keep, p, _mm512_castsi512_ps(two_n));
}
AVX512 static float scale_max_avx512(float *w, int n, float scale) {
    const __m512 s = _mm512_set1_ps(scale);
    __m512 m = _mm512_set1_ps(-INFINITY);
    for (int j = 0; j < n; j += 16) {   // the last, partial, block through a mask
        const __mmask16 in = n - j >= 16 ? 0xffff : (__mmask16)((1u << (n - j)) - 1);
        const __m512 x = _mm512_mul_ps(_mm512_maskz_loadu_ps(in, w + j), s);
        _mm512_mask_storeu_ps(w + j, in, x);
        m = _mm512_mask_max_ps(m, in, m, x);
    }
    return _mm512_reduce_max_ps(m);
}
AVX512 static float exp_sum_avx512(float *w, int n, float m, float sum) {
    const __m512 vm = _mm512_set1_ps(m);
    __m512 acc = _mm512_setzero_ps();
    for (int j = 0; j < n; j += 16) {   // lanes beyond n: -inf - m, whose e^x is 0
        const __mmask16 in = n - j >= 16 ? 0xffff : (__mmask16)((1u << (n - j)) - 1);
        const __m512 e = exp16(_mm512_sub_ps(_mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), in, w + j), vm));
        _mm512_mask_storeu_ps(w + j, in, e);
        acc = _mm512_add_ps(acc, e);
    }
    return sum + _mm512_reduce_add_ps(acc);
}
static const KVSoftmaxKernels SET_AVX512 = {"avx512", scale_max_avx512, exp_sum_avx512, rescale_avx2};

#elif KV_SIMD_NEON
#include <arm_neon.h>

static inline float32x4_t fma4(float32x4_t a, float32x4_t b, float32x4_t c) { return vfmaq_f32(c, a, b); }
static inline float32x4_t exp4(float32x4_t x) {
    const uint32x4_t keep = vcgeq_f32(x, vdupq_n_f32(KV_EXP_LO));
    x = vmaxq_f32(vminq_f32(x, vdupq_n_f32(EXP_HI)), vdupq_n_f32(KV_EXP_LO - 1.0f));
    const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(LOG2E)));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(LN2_HI));
    r = vfmsq_f32(r, n, vdupq_n_f32(LN2_LO));
    const float32x4_t p = EXP_REMAINDER(fma4, vmulq_f32, vaddq_f32, vdupq_n_f32, r);
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
static const KVSoftmaxKernels SET_NEON = {"neon", scale_max_neon, exp_sum_neon, rescale_neon};
#endif

const KVSoftmaxKernels *kv_softmax_kernels(void) {
    if (simd_level(SIMD_ATTN) != SIMD_ON) return &PLAIN;
#if KV_SIMD_X86
    // Cheap to ask (the answers are cached); attention asks once per layer on each thread.
    if (__builtin_cpu_supports("avx512f") && simd_avx512_allowed()) return &SET_AVX512;
    if (simd_cpu_avx2_fma_f16c()) return &SET_AVX2;
    return &PLAIN;
#elif KV_SIMD_NEON
    return &SET_NEON;
#else
    return &PLAIN;
#endif
}
