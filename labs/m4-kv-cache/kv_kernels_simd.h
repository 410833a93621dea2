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

// The SIMD sets, [KV_F32] and [KV_F16] each, and the conversions; kv_kernels.c asks the CPU which
// of them it may call.
#if KV_SIMD_X86
extern const KVRowKernels kv_kernels_avx2[2], kv_kernels_avx512[2];
void kv_f32_to_f16_f16c(uint16_t *dst, const float *src, size_t n);
void kv_f16_to_f32_f16c(float *dst, const uint16_t *src, size_t n);
#elif KV_SIMD_NEON
extern const KVRowKernels kv_kernels_neon[2];
void kv_f32_to_f16_neon(uint16_t *dst, const float *src, size_t n);
void kv_f16_to_f32_neon(float *dst, const uint16_t *src, size_t n);
#endif

#endif
