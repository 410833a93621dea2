// Your lab's contract, copied by tools/mkskel from solutions/m4-kv-cache/kv_kernels_simd.h (do not edit: make skeletons rewrites it).
// What the cache's row kernels share between kv_kernels.c (plain C, the choice) and the SIMD sets
// it chooses from: kv_kernels_x86.c (AVX2 + FMA + F16C, AVX-512) and kv_kernels_neon.c (NEON).
// Internal to lab M4's row kernels; kv_kernels.h is their interface.
#ifndef PS_KV_KERNELS_SIMD_H
#define PS_KV_KERNELS_SIMD_H

#include <stddef.h>
#include <stdint.h>

#include "kv_kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define KV_SIMD_X86 1
#elif defined(__aarch64__) && defined(__ARM_NEON)
#define KV_SIMD_NEON 1
#endif

// One query head and one row at a time, with the set's own dot and one-head add: the plain and
// NEON sets (the x86 sets take two heads at a time: kv_kernels_x86.c).
#define KV_HEADS_BY_ONE(DOTS, ADDS, DOT, ADD1)                                                                 \
    static void DOTS(float *scores, int stride, const float *q, int n_q, int n_rows, const void *rows,          \
                     size_t row_bytes, int n) {                                                                \
        for (int h = 0; h < n_q; h++)                                                                          \
            for (int j = 0; j < n_rows; j++)                                                                   \
                scores[(size_t)h * stride + j] = DOT(q + (size_t)h * n, (const char *)rows + j * row_bytes, n); \
    }                                                                                                          \
    static void ADDS(float *out, const float *w, int stride, int n_q, int n_rows, const void *rows, size_t row_bytes, \
                     int n) {                                                                                  \
        for (int h = 0; h < n_q; h++) ADD1(out + (size_t)h * n, w + (size_t)h * stride, n_rows, rows, row_bytes, n); \
    }

// The softmax kernels' e^x (kv_kernels.h, KVSoftmaxKernels), the same in every instruction set:
// e^x = 2^n x e^r with n = round(x / ln 2) and r = x - n ln 2 in [-ln2/2, ln2/2]; e^r from a
// degree-7 polynomial (Cephes' expf coefficients: within 1 ulp of expf, kvcache.scaled-attention);
// 2^n put in the exponent bits directly. ln 2 is split in two (KV_LN2_HI exact in 9 bits,
// KV_LN2_LO the rest) so that n x KV_LN2_HI is exact and r keeps its low bits.
#define KV_LOG2E 1.44269504088896341f
#define KV_LN2_HI 0.693359375f
#define KV_LN2_LO -2.12194440e-4f
// e^r ~ 1 + r + r^2 (P5 + r (P4 + r (P3 + r (P2 + r (P1 + r P0))))), Pk = KV_EXP_Pk
#define KV_EXP_P0 1.9875691500e-4f
#define KV_EXP_P1 1.3981999507e-3f
#define KV_EXP_P2 8.3334519073e-3f
#define KV_EXP_P3 4.1665795894e-2f
#define KV_EXP_P4 1.6666665459e-1f
#define KV_EXP_P5 5.0000001201e-1f
// The polynomial, Horner's way, in any instruction set: FMA(a, b, c) = a x b + c, SET(x) x in
// every lane.
#define KV_EXP_REMAINDER(FMA, MUL, ADD, SET, r)                                                    \
    FMA(FMA(FMA(FMA(FMA(FMA(SET(KV_EXP_P0), r, SET(KV_EXP_P1)), r, SET(KV_EXP_P2)), r, SET(KV_EXP_P3)), r, \
                    SET(KV_EXP_P4)),                                                                   \
                r, SET(KV_EXP_P5)),                                                                    \
        MUL(r, r), ADD(r, SET(1.0f)))
// The kernels' exponentials are 0 below this, as kv_softmax_exp's (kv_kernels.h); above KV_EXP_HI
// the argument is clamped (a score above the tile's maximum cannot happen; this keeps 2^n finite).
#define KV_EXP_HI 88.0f

// The SIMD sets, [KV_F32] and [KV_F16] each, the softmax kernels and the conversions; kv_kernels.c
// asks the CPU which of them it may call.
#if KV_SIMD_X86
extern const KVRowKernels kv_kernels_avx2[2], kv_kernels_avx512[2];
extern const KVSoftmaxKernels kv_softmax_avx2, kv_softmax_avx512;
void kv_f32_to_f16_f16c(uint16_t *dst, const float *src, size_t n);
void kv_f16_to_f32_f16c(float *dst, const uint16_t *src, size_t n);
#elif KV_SIMD_NEON
extern const KVRowKernels kv_kernels_neon[2];
extern const KVSoftmaxKernels kv_softmax_neon;
void kv_f32_to_f16_neon(uint16_t *dst, const float *src, size_t n);
void kv_f16_to_f32_neon(float *dst, const uint16_t *src, size_t n);
#endif

#endif
