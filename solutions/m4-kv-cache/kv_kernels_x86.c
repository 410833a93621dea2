// The cache's row kernels for x86-64 (kv_kernels.h): AVX2 + FMA + F16C, and the pair kernels
// again 16 lanes wide for AVX-512; kv_kernels.c chooses among them and the plain C ones.
//
// The SIMD kernels keep 4 independent partial sums (the plain loop is one chain of dependent adds)
// and convert f16 on the fly, 8 values per instruction (vcvtph2ps), so an f16 cache costs half the
// memory traffic and no extra passes. Compiled on every machine: elsewhere the file is empty.
#include "kv_kernels_simd.h"

#if KV_SIMD_X86
#include <immintrin.h>

#define X86_TARGET __attribute__((target("avx2,fma,f16c")))

// Eight keys' worth of lanes: the f32 and f16 twins differ in their load alone.
X86_TARGET static inline __m256 load8_f32(const void *row, int d) { return _mm256_loadu_ps((const float *)row + d); }
X86_TARGET static inline __m256 load8_f16(const void *row, int d) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + d)));
}
X86_TARGET static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// The bodies, once: LOAD is load8_f32 or load8_f16, TAIL reads one element of the row.
#define DOT_AVX2(LOAD, TAIL)                                                                       \
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                   \
    int d = 0;                                                                                     \
    for (; d + 32 <= n; d += 32) {                                                                 \
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), LOAD(row, d), a0);                            \
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d + 8), LOAD(row, d + 8), a1);                    \
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d + 16), LOAD(row, d + 16), a2);                  \
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d + 24), LOAD(row, d + 24), a3);                  \
    }                                                                                              \
    for (; d + 8 <= n; d += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), LOAD(row, d), a0);    \
    float sum = hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));                \
    for (; d < n; d++) sum += q[d] * (TAIL);                                                       \
    return sum;
// 32 outputs in 4 registers over all the rows, then the next 32 (the rows stay in L1 meanwhile).
#define ROW(j) ((const void *)((const char *)rows + (j) * row_bytes))
#define ADD_AVX2(LOAD, TAIL)                                                                       \
    int d = 0;                                                                                     \
    for (; d + 32 <= n; d += 32) {                                                                 \
        __m256 a0 = _mm256_loadu_ps(out + d), a1 = _mm256_loadu_ps(out + d + 8);                   \
        __m256 a2 = _mm256_loadu_ps(out + d + 16), a3 = _mm256_loadu_ps(out + d + 24);             \
        for (int j = 0; j < n_rows; j++) {                                                         \
            const __m256 wj = _mm256_set1_ps(w[j]);                                                \
            a0 = _mm256_fmadd_ps(wj, LOAD(ROW(j), d), a0);                                         \
            a1 = _mm256_fmadd_ps(wj, LOAD(ROW(j), d + 8), a1);                                     \
            a2 = _mm256_fmadd_ps(wj, LOAD(ROW(j), d + 16), a2);                                    \
            a3 = _mm256_fmadd_ps(wj, LOAD(ROW(j), d + 24), a3);                                    \
        }                                                                                          \
        _mm256_storeu_ps(out + d, a0), _mm256_storeu_ps(out + d + 8, a1);                          \
        _mm256_storeu_ps(out + d + 16, a2), _mm256_storeu_ps(out + d + 24, a3);                    \
    }                                                                                              \
    for (; d + 8 <= n; d += 8) {                                                                   \
        __m256 a0 = _mm256_loadu_ps(out + d);                                                      \
        for (int j = 0; j < n_rows; j++) a0 = _mm256_fmadd_ps(_mm256_set1_ps(w[j]), LOAD(ROW(j), d), a0); \
        _mm256_storeu_ps(out + d, a0);                                                             \
    }                                                                                              \
    for (; d < n; d++)                                                                             \
        for (int j = 0; j < n_rows; j++) out[d] += w[j] * (TAIL);

X86_TARGET static float dot_f32_avx2(const float *q, const void *row, int n) { DOT_AVX2(load8_f32, ((const float *)row)[d]) }
X86_TARGET static float dot_f16_avx2(const float *q, const void *row, int n) {
    DOT_AVX2(load8_f16, kv_float_from_half(((const uint16_t *)row)[d]))
}
X86_TARGET static void add1_f32_avx2(float *out, const float *w, int n_rows, const void *rows, size_t row_bytes, int n) {
    ADD_AVX2(load8_f32, ((const float *)ROW(j))[d])
}
X86_TARGET static void add1_f16_avx2(float *out, const float *w, int n_rows, const void *rows, size_t row_bytes, int n) {
    ADD_AVX2(load8_f16, kv_float_from_half(((const uint16_t *)ROW(j))[d]))
}
// Four rows against one q: q is loaded once for the four, each row has two chains of partial
// sums (so the multiply-adds do not wait on each other), and one transposing reduction gives
// the four results at once. The rows beyond a multiple of 4 go through the single dot.
#define DOTS_AVX2(LOAD, DOT)                                                                       \
    int j = 0;                                                                                     \
    for (; j + 4 <= n_rows && n >= 16; j += 4) {                                                   \
        const void *r0 = ROW(j), *r1 = ROW(j + 1), *r2 = ROW(j + 2), *r3 = ROW(j + 3);            \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0; \
        int d = 0;                                                                                 \
        for (; d + 16 <= n; d += 16) {                                                             \
            const __m256 qa = _mm256_loadu_ps(q + d), qb = _mm256_loadu_ps(q + d + 8);             \
            a0 = _mm256_fmadd_ps(qa, LOAD(r0, d), a0), b0 = _mm256_fmadd_ps(qb, LOAD(r0, d + 8), b0); \
            a1 = _mm256_fmadd_ps(qa, LOAD(r1, d), a1), b1 = _mm256_fmadd_ps(qb, LOAD(r1, d + 8), b1); \
            a2 = _mm256_fmadd_ps(qa, LOAD(r2, d), a2), b2 = _mm256_fmadd_ps(qb, LOAD(r2, d + 8), b2); \
            a3 = _mm256_fmadd_ps(qa, LOAD(r3, d), a3), b3 = _mm256_fmadd_ps(qb, LOAD(r3, d + 8), b3); \
        }                                                                                          \
        for (; d + 8 <= n; d += 8) {                                                               \
            const __m256 qa = _mm256_loadu_ps(q + d);                                              \
            a0 = _mm256_fmadd_ps(qa, LOAD(r0, d), a0), a1 = _mm256_fmadd_ps(qa, LOAD(r1, d), a1);  \
            a2 = _mm256_fmadd_ps(qa, LOAD(r2, d), a2), a3 = _mm256_fmadd_ps(qa, LOAD(r3, d), a3);  \
        }                                                                                          \
        a0 = _mm256_add_ps(a0, b0), a1 = _mm256_add_ps(a1, b1);                                    \
        a2 = _mm256_add_ps(a2, b2), a3 = _mm256_add_ps(a3, b3);                                    \
        const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));           \
        float four[4];                                                                             \
        _mm_storeu_ps(four, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));   \
        for (int k = 0; k < 4; k++) {                                                              \
            float sum = four[k];                                                                   \
            for (int dd = d; dd < n; dd++) sum += q[dd] * DOT##_AT(ROW(j + k), dd);                \
            scores[j + k] = sum;                                                                   \
        }                                                                                          \
    }                                                                                              \
    for (; j < n_rows; j++) scores[j] = DOT(q, ROW(j), n);
#define dot_f32_avx2_AT(row, d) (((const float *)(row))[d])
#define dot_f16_avx2_AT(row, d) kv_float_from_half(((const uint16_t *)(row))[d])
X86_TARGET static void dots1_f32_avx2(float *scores, const float *q, int n_rows, const void *rows, size_t row_bytes, int n) {
    DOTS_AVX2(load8_f32, dot_f32_avx2)
}
X86_TARGET static void dots1_f16_avx2(float *scores, const float *q, int n_rows, const void *rows, size_t row_bytes, int n) {
    DOTS_AVX2(load8_f16, dot_f16_avx2)
}

// Two query heads of a group against the same rows: each row is loaded and converted once for
// both, and the 8 (or 8 x 2) chains of multiply-adds are independent, so they keep the FMA units
// busy instead of waiting on each other (one head alone had 4 chains over 4 rows, each
// instruction waiting ~4 cycles for the one before).
#define DOTS2_AVX2(LOAD, DOT)                                                                      \
    const float *q1 = q + n;                                                                       \
    int j = 0;                                                                                     \
    for (; j + 4 <= n_rows && n >= 8; j += 4) {                                                    \
        const void *r0 = ROW(j), *r1 = ROW(j + 1), *r2 = ROW(j + 2), *r3 = ROW(j + 3);            \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0; \
        int d = 0;                                                                                 \
        for (; d + 8 <= n; d += 8) {                                                               \
            const __m256 qa = _mm256_loadu_ps(q + d), qb = _mm256_loadu_ps(q1 + d);                \
            __m256 x = LOAD(r0, d);                                                                \
            a0 = _mm256_fmadd_ps(qa, x, a0), b0 = _mm256_fmadd_ps(qb, x, b0), x = LOAD(r1, d);     \
            a1 = _mm256_fmadd_ps(qa, x, a1), b1 = _mm256_fmadd_ps(qb, x, b1), x = LOAD(r2, d);     \
            a2 = _mm256_fmadd_ps(qa, x, a2), b2 = _mm256_fmadd_ps(qb, x, b2), x = LOAD(r3, d);     \
            a3 = _mm256_fmadd_ps(qa, x, a3), b3 = _mm256_fmadd_ps(qb, x, b3);                      \
        }                                                                                          \
        const __m256 ha = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));          \
        const __m256 hb = _mm256_hadd_ps(_mm256_hadd_ps(b0, b1), _mm256_hadd_ps(b2, b3));          \
        float four[2][4];                                                                          \
        _mm_storeu_ps(four[0], _mm_add_ps(_mm256_castps256_ps128(ha), _mm256_extractf128_ps(ha, 1))); \
        _mm_storeu_ps(four[1], _mm_add_ps(_mm256_castps256_ps128(hb), _mm256_extractf128_ps(hb, 1))); \
        for (int k = 0; k < 4; k++) {                                                              \
            float sa = four[0][k], sb = four[1][k];                                                \
            for (int dd = d; dd < n; dd++) {                                                       \
                const float x = DOT##_AT(ROW(j + k), dd);                                          \
                sa += q[dd] * x, sb += q1[dd] * x;                                                 \
            }                                                                                      \
            scores[j + k] = sa, scores[stride + j + k] = sb;                                       \
        }                                                                                          \
    }                                                                                              \
    for (; j < n_rows; j++) scores[j] = DOT(q, ROW(j), n), scores[stride + j] = DOT(q1, ROW(j), n);
// 32 outputs of each head in 8 registers over all the rows, then the next 32.
#define ADD2_AVX2(LOAD, ADD1, ESIZE)                                                                      \
    float *out1 = out + n;                                                                         \
    const float *w1 = w + stride;                                                                  \
    int d = 0;                                                                                     \
    for (; d + 32 <= n; d += 32) {                                                                 \
        __m256 a0 = _mm256_loadu_ps(out + d), a1 = _mm256_loadu_ps(out + d + 8);                   \
        __m256 a2 = _mm256_loadu_ps(out + d + 16), a3 = _mm256_loadu_ps(out + d + 24);             \
        __m256 b0 = _mm256_loadu_ps(out1 + d), b1 = _mm256_loadu_ps(out1 + d + 8);                 \
        __m256 b2 = _mm256_loadu_ps(out1 + d + 16), b3 = _mm256_loadu_ps(out1 + d + 24);           \
        for (int j = 0; j < n_rows; j++) {                                                         \
            const __m256 wa = _mm256_set1_ps(w[j]), wb = _mm256_set1_ps(w1[j]);                    \
            __m256 x = LOAD(ROW(j), d);                                                            \
            a0 = _mm256_fmadd_ps(wa, x, a0), b0 = _mm256_fmadd_ps(wb, x, b0), x = LOAD(ROW(j), d + 8); \
            a1 = _mm256_fmadd_ps(wa, x, a1), b1 = _mm256_fmadd_ps(wb, x, b1), x = LOAD(ROW(j), d + 16); \
            a2 = _mm256_fmadd_ps(wa, x, a2), b2 = _mm256_fmadd_ps(wb, x, b2), x = LOAD(ROW(j), d + 24); \
            a3 = _mm256_fmadd_ps(wa, x, a3), b3 = _mm256_fmadd_ps(wb, x, b3);                      \
        }                                                                                          \
        _mm256_storeu_ps(out + d, a0), _mm256_storeu_ps(out + d + 8, a1);                          \
        _mm256_storeu_ps(out + d + 16, a2), _mm256_storeu_ps(out + d + 24, a3);                    \
        _mm256_storeu_ps(out1 + d, b0), _mm256_storeu_ps(out1 + d + 8, b1);                        \
        _mm256_storeu_ps(out1 + d + 16, b2), _mm256_storeu_ps(out1 + d + 24, b3);                  \
    }                                                                                              \
    if (d < n) /* the last n - d outputs of each head (none for head_dim 64 or 128) */              \
        ADD1(out + d, w, n_rows, (const char *)rows + (size_t)d * ESIZE, row_bytes, n - d),        \
            ADD1(out1 + d, w1, n_rows, (const char *)rows + (size_t)d * ESIZE, row_bytes, n - d);
// The query heads of a group two at a time, a last odd one alone.
#define HEADS_BY_TWO(DOTS, ADDS, DOTS2, ADD2, DOTS1, ADD1)                                          \
    X86_TARGET static void DOTS(float *scores, int stride, const float *q, int n_q, int n_rows, const void *rows, \
                                size_t row_bytes, int n) {                                         \
        int h = 0;                                                                                 \
        for (; h + 2 <= n_q; h += 2)                                                               \
            DOTS2(scores + (size_t)h * stride, stride, q + (size_t)h * n, n_rows, rows, row_bytes, n); \
        if (h < n_q) DOTS1(scores + (size_t)h * stride, q + (size_t)h * n, n_rows, rows, row_bytes, n); \
    }                                                                                              \
    X86_TARGET static void ADDS(float *out, const float *w, int stride, int n_q, int n_rows, const void *rows, \
                                size_t row_bytes, int n) {                                         \
        int h = 0;                                                                                 \
        for (; h + 2 <= n_q; h += 2)                                                               \
            ADD2(out + (size_t)h * n, w + (size_t)h * stride, stride, n_rows, rows, row_bytes, n); \
        if (h < n_q) ADD1(out + (size_t)h * n, w + (size_t)h * stride, n_rows, rows, row_bytes, n); \
    }
#define PAIRS_AVX2(T, ESIZE)                                                                       \
    X86_TARGET static void dots2_##T##_avx2(float *scores, int stride, const float *q, int n_rows, const void *rows, \
                                            size_t row_bytes, int n) {                             \
        DOTS2_AVX2(load8_##T, dot_##T##_avx2)                                                      \
    }                                                                                              \
    X86_TARGET static void add2_##T##_avx2(float *out, const float *w, int stride, int n_rows, const void *rows, \
                                           size_t row_bytes, int n) {                              \
        ADD2_AVX2(load8_##T, add1_##T##_avx2, ESIZE)                                               \
    }
PAIRS_AVX2(f32, 4)
PAIRS_AVX2(f16, 2)
HEADS_BY_TWO(dots_f32_avx2, add_f32_avx2, dots2_f32_avx2, add2_f32_avx2, dots1_f32_avx2, add1_f32_avx2)
HEADS_BY_TWO(dots_f16_avx2, add_f16_avx2, dots2_f16_avx2, add2_f16_avx2, dots1_f16_avx2, add1_f16_avx2)

// AVX-512: the same pair kernels 16 lanes wide, for head sizes that are a multiple of 16 (dot
// products) and of 64 (additions, 4 registers per head); any other size goes to the AVX2 ones.
// Chosen when the CPU has AVX-512F and PS_SIMD is not "avx2" (shared/simd.h).
#define X512_TARGET __attribute__((target("avx512f,avx2,fma,f16c")))
X512_TARGET static inline __m512 load16_f32(const void *row, int d) { return _mm512_loadu_ps((const float *)row + d); }
X512_TARGET static inline __m512 load16_f16(const void *row, int d) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)row + d)));
}
#define DOTS2_AVX512(LOAD, FALLBACK)                                                               \
    if (n % 16) return (void)FALLBACK(scores, stride, q, n_rows, rows, row_bytes, n);              \
    const float *q1 = q + n;                                                                       \
    int j = 0;                                                                                     \
    for (; j + 4 <= n_rows; j += 4) {                                                              \
        const void *r0 = ROW(j), *r1 = ROW(j + 1), *r2 = ROW(j + 2), *r3 = ROW(j + 3);            \
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0; \
        for (int d = 0; d < n; d += 16) {                                                          \
            const __m512 qa = _mm512_loadu_ps(q + d), qb = _mm512_loadu_ps(q1 + d);                \
            __m512 x = LOAD(r0, d);                                                                \
            a0 = _mm512_fmadd_ps(qa, x, a0), b0 = _mm512_fmadd_ps(qb, x, b0), x = LOAD(r1, d);     \
            a1 = _mm512_fmadd_ps(qa, x, a1), b1 = _mm512_fmadd_ps(qb, x, b1), x = LOAD(r2, d);     \
            a2 = _mm512_fmadd_ps(qa, x, a2), b2 = _mm512_fmadd_ps(qb, x, b2), x = LOAD(r3, d);     \
            a3 = _mm512_fmadd_ps(qa, x, a3), b3 = _mm512_fmadd_ps(qb, x, b3);                      \
        }                                                                                          \
        float *s0 = scores + j, *s1 = scores + stride + j;                                         \
        s0[0] = _mm512_reduce_add_ps(a0), s0[1] = _mm512_reduce_add_ps(a1), s0[2] = _mm512_reduce_add_ps(a2); \
        s0[3] = _mm512_reduce_add_ps(a3), s1[0] = _mm512_reduce_add_ps(b0), s1[1] = _mm512_reduce_add_ps(b1); \
        s1[2] = _mm512_reduce_add_ps(b2), s1[3] = _mm512_reduce_add_ps(b3);                        \
    }                                                                                              \
    if (j < n_rows) FALLBACK(scores + j, stride, q, n_rows - j, ROW(j), row_bytes, n);
#define ADD2_AVX512(LOAD, FALLBACK)                                                                \
    if (n % 64) return (void)FALLBACK(out, w, stride, n_rows, rows, row_bytes, n);                 \
    float *out1 = out + n;                                                                         \
    const float *w1 = w + stride;                                                                  \
    for (int d = 0; d < n; d += 64) {                                                              \
        __m512 a0 = _mm512_loadu_ps(out + d), a1 = _mm512_loadu_ps(out + d + 16);                  \
        __m512 a2 = _mm512_loadu_ps(out + d + 32), a3 = _mm512_loadu_ps(out + d + 48);             \
        __m512 b0 = _mm512_loadu_ps(out1 + d), b1 = _mm512_loadu_ps(out1 + d + 16);                \
        __m512 b2 = _mm512_loadu_ps(out1 + d + 32), b3 = _mm512_loadu_ps(out1 + d + 48);           \
        for (int j = 0; j < n_rows; j++) {                                                         \
            const __m512 wa = _mm512_set1_ps(w[j]), wb = _mm512_set1_ps(w1[j]);                    \
            __m512 x = LOAD(ROW(j), d);                                                            \
            a0 = _mm512_fmadd_ps(wa, x, a0), b0 = _mm512_fmadd_ps(wb, x, b0), x = LOAD(ROW(j), d + 16); \
            a1 = _mm512_fmadd_ps(wa, x, a1), b1 = _mm512_fmadd_ps(wb, x, b1), x = LOAD(ROW(j), d + 32); \
            a2 = _mm512_fmadd_ps(wa, x, a2), b2 = _mm512_fmadd_ps(wb, x, b2), x = LOAD(ROW(j), d + 48); \
            a3 = _mm512_fmadd_ps(wa, x, a3), b3 = _mm512_fmadd_ps(wb, x, b3);                      \
        }                                                                                          \
        _mm512_storeu_ps(out + d, a0), _mm512_storeu_ps(out + d + 16, a1);                         \
        _mm512_storeu_ps(out + d + 32, a2), _mm512_storeu_ps(out + d + 48, a3);                    \
        _mm512_storeu_ps(out1 + d, b0), _mm512_storeu_ps(out1 + d + 16, b1);                       \
        _mm512_storeu_ps(out1 + d + 32, b2), _mm512_storeu_ps(out1 + d + 48, b3);                  \
    }
#define PAIRS_AVX512(T)                                                                            \
    X512_TARGET static void dots2_##T##_avx512(float *scores, int stride, const float *q, int n_rows, \
                                               const void *rows, size_t row_bytes, int n) {       \
        DOTS2_AVX512(load16_##T, dots2_##T##_avx2)                                                 \
    }                                                                                              \
    X512_TARGET static void add2_##T##_avx512(float *out, const float *w, int stride, int n_rows, const void *rows, \
                                              size_t row_bytes, int n) {                           \
        ADD2_AVX512(load16_##T, add2_##T##_avx2)                                                   \
    }
PAIRS_AVX512(f32)
PAIRS_AVX512(f16)
HEADS_BY_TWO(dots_f32_avx512, add_f32_avx512, dots2_f32_avx512, add2_f32_avx512, dots1_f32_avx2, add1_f32_avx2)
HEADS_BY_TWO(dots_f16_avx512, add_f16_avx512, dots2_f16_avx512, add2_f16_avx512, dots1_f16_avx2, add1_f16_avx2)
const KVRowKernels kv_kernels_avx512[2] = {{"avx512", dot_f32_avx2, dots_f32_avx512, add_f32_avx512},
                                           {"avx512", dot_f16_avx2, dots_f16_avx512, add_f16_avx512}};
const KVRowKernels kv_kernels_avx2[2] = {{"avx2", dot_f32_avx2, dots_f32_avx2, add_f32_avx2},
                                         {"avx2", dot_f16_avx2, dots_f16_avx2, add_f16_avx2}};

X86_TARGET void kv_f16_to_f32_f16c(float *dst, const uint16_t *src, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load8_f16(src, (int)i));
    for (; i < n; i++) dst[i] = kv_float_from_half(src[i]);
}
X86_TARGET void kv_f32_to_f16_f16c(uint16_t *dst, const float *src, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++) dst[i] = kv_half_from_float(src[i]);
}
#endif
