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

// ---- the pair kernels: two query heads against the same rows, 8 lanes (AVX2) or 16 (AVX-512) ----
//
// Each row is loaded and converted once for both heads, and the 8 (or 8 x 2) chains of
// multiply-adds are independent, so they keep the FMA units busy instead of waiting on each other
// (one head alone had 4 chains over 4 rows, each instruction waiting ~4 cycles for the one before).
//
// The AVX2 and AVX-512 pair kernels are the same loops over registers of another width, so they
// are written once, in a small vocabulary per width: V is V8 or V16, and V##_T, V##_LANES,
// V##_ZERO, ... are that width's type, lane count and intrinsics. V##_SUMS stays per width: the
// two sum a register's lanes in different orders, and the scores' bits depend on that order.
#define V8_T __m256
#define V8_LANES 8
#define V8_WHOLE 0   // n may end in part of a register: DOTS2 and ADD2 finish it
#define V8_ZERO _mm256_setzero_ps
#define V8_LOADU _mm256_loadu_ps
#define V8_STOREU _mm256_storeu_ps
#define V8_SET1 _mm256_set1_ps
#define V8_FMADD _mm256_fmadd_ps
#define V8_SUMS sums_v8
// four[0][k] = the sum of a_k's lanes and four[1][k] of b_k's, by one transposing reduction per
// head, both computed before either is stored (storing the first before the second was computed
// measured 15-20% slower on f32 rows, AMD Zen VM).
X86_TARGET static inline void sums_v8(float four[2][4], __m256 a0, __m256 a1, __m256 a2, __m256 a3, __m256 b0,
                                      __m256 b1, __m256 b2, __m256 b3) {
    const __m256 ha = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    const __m256 hb = _mm256_hadd_ps(_mm256_hadd_ps(b0, b1), _mm256_hadd_ps(b2, b3));
    _mm_storeu_ps(four[0], _mm_add_ps(_mm256_castps256_ps128(ha), _mm256_extractf128_ps(ha, 1)));
    _mm_storeu_ps(four[1], _mm_add_ps(_mm256_castps256_ps128(hb), _mm256_extractf128_ps(hb, 1)));
}

// Four rows at a time against both heads (q and q1 = q + n), whole registers; what is left of a
// row (n not a multiple of the width, never when V##_WHOLE) is added one element at a time, and
// the rows beyond a multiple of 4 go through the single dot, DOT.
#define DOTS2(V, LOAD, DOT)                                                                        \
    const float *q1 = q + n;                                                                       \
    int j = 0;                                                                                     \
    for (; j + 4 <= n_rows && n >= V##_LANES; j += 4) {                                            \
        const void *r0 = ROW(j), *r1 = ROW(j + 1), *r2 = ROW(j + 2), *r3 = ROW(j + 3);            \
        V##_T a0 = V##_ZERO(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;      \
        int d = 0;                                                                                 \
        for (; d + V##_LANES <= n; d += V##_LANES) {                                               \
            const V##_T qa = V##_LOADU(q + d), qb = V##_LOADU(q1 + d);                             \
            V##_T x = LOAD(r0, d);                                                                 \
            a0 = V##_FMADD(qa, x, a0), b0 = V##_FMADD(qb, x, b0), x = LOAD(r1, d);                 \
            a1 = V##_FMADD(qa, x, a1), b1 = V##_FMADD(qb, x, b1), x = LOAD(r2, d);                 \
            a2 = V##_FMADD(qa, x, a2), b2 = V##_FMADD(qb, x, b2), x = LOAD(r3, d);                 \
            a3 = V##_FMADD(qa, x, a3), b3 = V##_FMADD(qb, x, b3);                                  \
        }                                                                                          \
        float four[2][4];                                                                          \
        V##_SUMS(four, a0, a1, a2, a3, b0, b1, b2, b3);                                            \
        for (int k = 0; k < 4; k++) {                                                              \
            float sa = four[0][k], sb = four[1][k];                                                \
            for (int dd = V##_WHOLE ? n : d; dd < n; dd++) {                                       \
                const float x = DOT##_AT(ROW(j + k), dd);                                          \
                sa += q[dd] * x, sb += q1[dd] * x;                                                 \
            }                                                                                      \
            scores[j + k] = sa, scores[stride + j + k] = sb;                                       \
        }                                                                                          \
    }                                                                                              \
    for (; j < n_rows; j++) scores[j] = DOT(q, ROW(j), n), scores[stride + j] = DOT(q1, ROW(j), n);
// 4 registers of outputs of each head (8 in all) over all the rows, then the next 4; the last
// outputs (fewer than 4 registers' worth, never when V##_WHOLE) go through the one-head add, ADD1.
#define ADD2(V, LOAD, ADD1, ESIZE)                                                                 \
    float *out1 = out + n;                                                                         \
    const float *w1 = w + stride;                                                                  \
    enum { L = V##_LANES };                                                                        \
    int d = 0;                                                                                     \
    for (; d + 4 * L <= n; d += 4 * L) {                                                           \
        V##_T a0 = V##_LOADU(out + d), a1 = V##_LOADU(out + d + L);                                \
        V##_T a2 = V##_LOADU(out + d + 2 * L), a3 = V##_LOADU(out + d + 3 * L);                    \
        V##_T b0 = V##_LOADU(out1 + d), b1 = V##_LOADU(out1 + d + L);                              \
        V##_T b2 = V##_LOADU(out1 + d + 2 * L), b3 = V##_LOADU(out1 + d + 3 * L);                  \
        for (int j = 0; j < n_rows; j++) {                                                         \
            const V##_T wa = V##_SET1(w[j]), wb = V##_SET1(w1[j]);                                 \
            V##_T x = LOAD(ROW(j), d);                                                             \
            a0 = V##_FMADD(wa, x, a0), b0 = V##_FMADD(wb, x, b0), x = LOAD(ROW(j), d + L);         \
            a1 = V##_FMADD(wa, x, a1), b1 = V##_FMADD(wb, x, b1), x = LOAD(ROW(j), d + 2 * L);     \
            a2 = V##_FMADD(wa, x, a2), b2 = V##_FMADD(wb, x, b2), x = LOAD(ROW(j), d + 3 * L);     \
            a3 = V##_FMADD(wa, x, a3), b3 = V##_FMADD(wb, x, b3);                                  \
        }                                                                                          \
        V##_STOREU(out + d, a0), V##_STOREU(out + d + L, a1);                                      \
        V##_STOREU(out + d + 2 * L, a2), V##_STOREU(out + d + 3 * L, a3);                          \
        V##_STOREU(out1 + d, b0), V##_STOREU(out1 + d + L, b1);                                    \
        V##_STOREU(out1 + d + 2 * L, b2), V##_STOREU(out1 + d + 3 * L, b3);                        \
    }                                                                                              \
    if (!V##_WHOLE && d < n) /* the last n - d outputs of each head (none for head_dim 64 or 128) */ \
        ADD1(out + d, w, n_rows, (const char *)rows + (size_t)d * ESIZE, row_bytes, n - d),        \
            ADD1(out1 + d, w1, n_rows, (const char *)rows + (size_t)d * ESIZE, row_bytes, n - d);
// The query heads of a group two at a time, a last odd one alone.
#define HEADS_BY_TWO(DOTS, ADDS, PAIR_DOTS, PAIR_ADD, DOTS1, ADD1)                                    \
    X86_TARGET static void DOTS(float *scores, int stride, const float *q, int n_q, int n_rows, const void *rows, \
                                size_t row_bytes, int n) {                                         \
        int h = 0;                                                                                 \
        for (; h + 2 <= n_q; h += 2)                                                               \
            PAIR_DOTS(scores + (size_t)h * stride, stride, q + (size_t)h * n, n_rows, rows, row_bytes, n); \
        if (h < n_q) DOTS1(scores + (size_t)h * stride, q + (size_t)h * n, n_rows, rows, row_bytes, n); \
    }                                                                                              \
    X86_TARGET static void ADDS(float *out, const float *w, int stride, int n_q, int n_rows, const void *rows, \
                                size_t row_bytes, int n) {                                         \
        int h = 0;                                                                                 \
        for (; h + 2 <= n_q; h += 2)                                                               \
            PAIR_ADD(out + (size_t)h * n, w + (size_t)h * stride, stride, n_rows, rows, row_bytes, n); \
        if (h < n_q) ADD1(out + (size_t)h * n, w + (size_t)h * stride, n_rows, rows, row_bytes, n); \
    }
#define PAIRS_AVX2(T, ESIZE)                                                                       \
    X86_TARGET static void dots2_##T##_avx2(float *scores, int stride, const float *q, int n_rows, const void *rows, \
                                            size_t row_bytes, int n) {                             \
        DOTS2(V8, load8_##T, dot_##T##_avx2)                                                       \
    }                                                                                              \
    X86_TARGET static void add2_##T##_avx2(float *out, const float *w, int stride, int n_rows, const void *rows, \
                                           size_t row_bytes, int n) {                              \
        ADD2(V8, load8_##T, add1_##T##_avx2, ESIZE)                                                \
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
#define V16_T __m512
#define V16_LANES 16
#define V16_WHOLE 1   // only whole registers: PAIRS_AVX512 sends other sizes to AVX2
#define V16_ZERO _mm512_setzero_ps
#define V16_LOADU _mm512_loadu_ps
#define V16_STOREU _mm512_storeu_ps
#define V16_SET1 _mm512_set1_ps
#define V16_FMADD _mm512_fmadd_ps
#define V16_SUMS sums_v16
// four[0][k] = the sum of a_k's lanes and four[1][k] of b_k's (the compiler's reduction, a tree
// over the halves).
X512_TARGET static inline void sums_v16(float four[2][4], __m512 a0, __m512 a1, __m512 a2, __m512 a3, __m512 b0,
                                        __m512 b1, __m512 b2, __m512 b3) {
    four[0][0] = _mm512_reduce_add_ps(a0), four[0][1] = _mm512_reduce_add_ps(a1);
    four[0][2] = _mm512_reduce_add_ps(a2), four[0][3] = _mm512_reduce_add_ps(a3);
    four[1][0] = _mm512_reduce_add_ps(b0), four[1][1] = _mm512_reduce_add_ps(b1);
    four[1][2] = _mm512_reduce_add_ps(b2), four[1][3] = _mm512_reduce_add_ps(b3);
}
// Whole registers only: other sizes go to the AVX2 pair kernels, so DOTS2's and ADD2's tails for
// part of a register never run here, and V16_WHOLE lets the compiler drop them (without it the
// AVX-512 kernels' code grew by half). The rows beyond a multiple of 4 use AVX2's single dot.
#define PAIRS_AVX512(T, ESIZE)                                                                     \
    X512_TARGET static void dots2_##T##_avx512(float *scores, int stride, const float *q, int n_rows, \
                                               const void *rows, size_t row_bytes, int n) {       \
        if (n % 16) {                                                                              \
            dots2_##T##_avx2(scores, stride, q, n_rows, rows, row_bytes, n);                       \
            return;                                                                                \
        }                                                                                          \
        DOTS2(V16, load16_##T, dot_##T##_avx2)                                                     \
    }                                                                                              \
    X512_TARGET static void add2_##T##_avx512(float *out, const float *w, int stride, int n_rows, const void *rows, \
                                              size_t row_bytes, int n) {                           \
        if (n % 64) {                                                                              \
            add2_##T##_avx2(out, w, stride, n_rows, rows, row_bytes, n);                           \
            return;                                                                                \
        }                                                                                          \
        ADD2(V16, load16_##T, add1_##T##_avx2, ESIZE)                                              \
    }
PAIRS_AVX512(f32, 4)
PAIRS_AVX512(f16, 2)
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

// ---- the softmax of a tile (kv_kernels.h): 8 or 16 scores at a time, the sum in registers ----

X86_TARGET static inline __m256 exp8(__m256 x) {
    const __m256 zero = _mm256_cmp_ps(x, _mm256_set1_ps(KV_EXP_LO), _CMP_LT_OQ);
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(KV_EXP_HI)), _mm256_set1_ps(KV_EXP_LO - 1.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(KV_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(KV_LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(KV_LN2_LO), r);
    const __m256 p = KV_EXP_REMAINDER(_mm256_fmadd_ps, _mm256_mul_ps, _mm256_add_ps, _mm256_set1_ps, r);
    const __m256i two_n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(zero, _mm256_mul_ps(p, _mm256_castsi256_ps(two_n)));
}
X86_TARGET static float scale_max_avx2(float *w, int n, float scale) {
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
X86_TARGET static float exp_sum_avx2(float *w, int n, float m, float sum) {
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
X86_TARGET static void rescale_avx2(float *x, int n, float f) {
    int d = 0;
    for (; d + 8 <= n; d += 8) _mm256_storeu_ps(x + d, _mm256_mul_ps(_mm256_loadu_ps(x + d), _mm256_set1_ps(f)));
    for (; d < n; d++) x[d] *= f;
}
const KVSoftmaxKernels kv_softmax_avx2 = {"avx2", scale_max_avx2, exp_sum_avx2, rescale_avx2};

X512_TARGET static inline __m512 exp16(__m512 x) {
    const __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(KV_EXP_LO), _CMP_GE_OQ);
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(KV_EXP_HI)), _mm512_set1_ps(KV_EXP_LO - 1.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(KV_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(KV_LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(KV_LN2_LO), r);
    const __m512 p = KV_EXP_REMAINDER(_mm512_fmadd_ps, _mm512_mul_ps, _mm512_add_ps, _mm512_set1_ps, r);
    const __m512i two_n = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_maskz_mul_ps(keep, p, _mm512_castsi512_ps(two_n));
}
X512_TARGET static float scale_max_avx512(float *w, int n, float scale) {
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
X512_TARGET static float exp_sum_avx512(float *w, int n, float m, float sum) {
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
const KVSoftmaxKernels kv_softmax_avx512 = {"avx512", scale_max_avx512, exp_sum_avx512, rescale_avx2};
#endif
