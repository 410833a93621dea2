// The q8_0 cache's row kernels for x86-64 with AVX2, FMA and F16C (kv_q8.h); kv_q8.c chooses them
// when the CPU has all three. Compiled on every machine: elsewhere the file is empty.
//
// At a long context attention streams the cache from memory, so the kernels are simple: each
// block's 32 int8 are widened to f32, 8 at a time (vpmovsxbd, vcvtdq2ps), and multiplied-added in
// f32. The query heads of a group go two at a time, as in M4's f16 kernels: each block is loaded
// and widened once for both, and the dot products take 4 rows at a time, so 8 sums are in flight.
// A block's f16 scale is widened by F16C (one instruction; the plain q_f16_at is about a dozen,
// and it runs once per block and row). Measured on one thread of our AVX2 VM, attention over 4,096
// positions of all 28 layers: 178 ms per token at first, 116 with both changes and named
// registers (below); the f16 cache's kernels 126-142 ms.
//
// They match the plain C within float rounding, not bit for bit: the dot product adds in 8 lanes
// (then across them) where the plain loop adds in order, and both kernels fuse a multiply and an
// add that the plain loop rounds separately (the additions of the values, row after row, keep the
// plain order). labs/m5-quantization/tests/test_kv_q8.c holds them to twice the bound of a sum in
// any order.
#include "kv_q8.h"

#if KV_Q8_X86
#include <immintrin.h>
#include <string.h>

#include "quant.h"

#define X86_TARGET __attribute__((target("avx2,fma,f16c")))

// 8 int8 from p, as 8 floats.
X86_TARGET static inline __m256 widen8(const int8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}
X86_TARGET static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
#define ROW(j) ((const BlockQ8_0 *)((const char *)rows + (j) * row_bytes))

// A block's scale, exactly the value q_f16_at gives (every half is a float).
X86_TARGET static inline float scale_of(const BlockQ8_0 *b) {
    uint16_t h;
    memcpy(&h, b->d, sizeof h);   // little-endian, as x86 is
    return _cvtsh_ss(h);
}

// A block's 32 int8 as 4 registers of 8 floats, in named variables: gcc -O2 kept arrays of
// registers in memory (a store and a load around every multiply-add, half the speed).
#define WIDEN(B, X0, X1, X2, X3)                                                                   \
    const __m256 X0 = widen8((B)->qs), X1 = widen8((B)->qs + 8), X2 = widen8((B)->qs + 16),       \
                 X3 = widen8((B)->qs + 24)

// One block's 32 products with q (32 floats), in 8 lanes (4 multiply-adds deep).
X86_TARGET static inline __m256 block_dot(const float *q, __m256 x0, __m256 x1, __m256 x2, __m256 x3) {
    __m256 s = _mm256_mul_ps(_mm256_loadu_ps(q), x0);
    s = _mm256_fmadd_ps(_mm256_loadu_ps(q + 8), x1, s);
    s = _mm256_fmadd_ps(_mm256_loadu_ps(q + 16), x2, s);
    return _mm256_fmadd_ps(_mm256_loadu_ps(q + 24), x3, s);
}

X86_TARGET static float dot_q8_avx2(const float *q, const void *row, int n) {
    const BlockQ8_0 *k = row;
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < n / QK8_0; b++) {
        WIDEN(&k[b], x0, x1, x2, x3);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(scale_of(&k[b])), block_dot(q + b * QK8_0, x0, x1, x2, x3), acc);
    }
    return hsum8(acc);
}

// The sums of a0..a3's lanes and of b0..b3's, into four[0] and four[1] (M4's transposing reduction).
X86_TARGET static inline void sums4(float four[2][4], __m256 a0, __m256 a1, __m256 a2, __m256 a3, __m256 b0,
                                    __m256 b1, __m256 b2, __m256 b3) {
    const __m256 ha = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    const __m256 hb = _mm256_hadd_ps(_mm256_hadd_ps(b0, b1), _mm256_hadd_ps(b2, b3));
    _mm_storeu_ps(four[0], _mm_add_ps(_mm256_castps256_ps128(ha), _mm256_extractf128_ps(ha, 1)));
    _mm_storeu_ps(four[1], _mm_add_ps(_mm256_castps256_ps128(hb), _mm256_extractf128_ps(hb, 1)));
}

// Row R of the 4 against both heads, block b: into sums A (head q) and B (head q1).
#define ROW_BLOCK(R, A, B)                                                                         \
    do {                                                                                           \
        const BlockQ8_0 *k = ROW(j + (R)) + b;                                                     \
        WIDEN(k, x0, x1, x2, x3);                                                                  \
        const __m256 d = _mm256_set1_ps(scale_of(k));                                              \
        A = _mm256_fmadd_ps(d, block_dot(q + b * QK8_0, x0, x1, x2, x3), A);                       \
        B = _mm256_fmadd_ps(d, block_dot(q1 + b * QK8_0, x0, x1, x2, x3), B);                      \
    } while (0)

// Rows j < n_rows against heads q and q + n (scores and scores + stride): 4 rows at a time, the
// rest one by one. The queries are read from L1 by the multiply-adds (16 registers hold the sums).
X86_TARGET static void dots2_q8_avx2(float *scores, int stride, const float *q, int n_rows, const void *rows,
                                     size_t row_bytes, int n) {
    const float *q1 = q + n;
    int j = 0;
    for (; j + 4 <= n_rows; j += 4) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (int b = 0; b < n / QK8_0; b++) {
            ROW_BLOCK(0, a0, b0);
            ROW_BLOCK(1, a1, b1);
            ROW_BLOCK(2, a2, b2);
            ROW_BLOCK(3, a3, b3);
        }
        float four[2][4];
        sums4(four, a0, a1, a2, a3, b0, b1, b2, b3);
        for (int r = 0; r < 4; r++) scores[j + r] = four[0][r], scores[stride + j + r] = four[1][r];
    }
    for (; j < n_rows; j++) scores[j] = dot_q8_avx2(q, ROW(j), n), scores[stride + j] = dot_q8_avx2(q1, ROW(j), n);
}

// A block of 32 outputs of one head (two) stays in 4 (8) registers over all the rows.
X86_TARGET static void add1_q8_avx2(float *out, const float *w, int n_rows, const void *rows, size_t row_bytes,
                                    int n) {
    for (int b = 0; b < n / QK8_0; b++) {
        float *o = out + b * QK8_0;
        __m256 a0 = _mm256_loadu_ps(o), a1 = _mm256_loadu_ps(o + 8), a2 = _mm256_loadu_ps(o + 16),
               a3 = _mm256_loadu_ps(o + 24);
        for (int j = 0; j < n_rows; j++) {
            const BlockQ8_0 *v = ROW(j) + b;
            WIDEN(v, x0, x1, x2, x3);
            const __m256 wd = _mm256_set1_ps(w[j] * scale_of(v));
            a0 = _mm256_fmadd_ps(wd, x0, a0), a1 = _mm256_fmadd_ps(wd, x1, a1);
            a2 = _mm256_fmadd_ps(wd, x2, a2), a3 = _mm256_fmadd_ps(wd, x3, a3);
        }
        _mm256_storeu_ps(o, a0), _mm256_storeu_ps(o + 8, a1), _mm256_storeu_ps(o + 16, a2), _mm256_storeu_ps(o + 24, a3);
    }
}
X86_TARGET static void add2_q8_avx2(float *out, const float *w, int stride, int n_rows, const void *rows,
                                    size_t row_bytes, int n) {
    float *out1 = out + n;
    const float *w1 = w + stride;
    for (int b = 0; b < n / QK8_0; b++) {
        float *o = out + b * QK8_0, *p = out1 + b * QK8_0;
        __m256 a0 = _mm256_loadu_ps(o), a1 = _mm256_loadu_ps(o + 8), a2 = _mm256_loadu_ps(o + 16),
               a3 = _mm256_loadu_ps(o + 24);
        __m256 b0 = _mm256_loadu_ps(p), b1 = _mm256_loadu_ps(p + 8), b2 = _mm256_loadu_ps(p + 16),
               b3 = _mm256_loadu_ps(p + 24);
        for (int j = 0; j < n_rows; j++) {
            const BlockQ8_0 *v = ROW(j) + b;
            WIDEN(v, x0, x1, x2, x3);
            const float d = scale_of(v);
            const __m256 wa = _mm256_set1_ps(w[j] * d), wb = _mm256_set1_ps(w1[j] * d);
            a0 = _mm256_fmadd_ps(wa, x0, a0), b0 = _mm256_fmadd_ps(wb, x0, b0);
            a1 = _mm256_fmadd_ps(wa, x1, a1), b1 = _mm256_fmadd_ps(wb, x1, b1);
            a2 = _mm256_fmadd_ps(wa, x2, a2), b2 = _mm256_fmadd_ps(wb, x2, b2);
            a3 = _mm256_fmadd_ps(wa, x3, a3), b3 = _mm256_fmadd_ps(wb, x3, b3);
        }
        _mm256_storeu_ps(o, a0), _mm256_storeu_ps(o + 8, a1), _mm256_storeu_ps(o + 16, a2), _mm256_storeu_ps(o + 24, a3);
        _mm256_storeu_ps(p, b0), _mm256_storeu_ps(p + 8, b1), _mm256_storeu_ps(p + 16, b2), _mm256_storeu_ps(p + 24, b3);
    }
}

// The query heads of a group two at a time, a last odd one alone.
X86_TARGET static void dots_q8_avx2(float *scores, int stride, const float *q, int n_q, int n_rows, const void *rows,
                                    size_t row_bytes, int n) {
    int h = 0;
    for (; h + 2 <= n_q; h += 2) dots2_q8_avx2(scores + (size_t)h * stride, stride, q + (size_t)h * n, n_rows, rows, row_bytes, n);
    if (h < n_q)
        for (int j = 0; j < n_rows; j++) scores[(size_t)h * stride + j] = dot_q8_avx2(q + (size_t)h * n, ROW(j), n);
}
X86_TARGET static void add_q8_avx2(float *out, const float *w, int stride, int n_q, int n_rows, const void *rows,
                                   size_t row_bytes, int n) {
    int h = 0;
    for (; h + 2 <= n_q; h += 2) add2_q8_avx2(out + (size_t)h * n, w + (size_t)h * stride, stride, n_rows, rows, row_bytes, n);
    if (h < n_q) add1_q8_avx2(out + (size_t)h * n, w + (size_t)h * stride, n_rows, rows, row_bytes, n);
}

const KVRowKernels kv_q8_kernels_avx2 = {"avx2", dot_q8_avx2, dots_q8_avx2, add_q8_avx2};
#endif
