// The q4_0 cache's row kernels for x86-64 with AVX2, FMA and F16C (kv_q4.h); kv_q4.c chooses
// them by the CPU. Compiled on every machine: elsewhere the file is empty.
//
// A block's 16 bytes hold values 0..15 in their low nibbles and 16..31 in their high ones, so one
// 16-byte load, a shift and a mask give all 32 as unsigned bytes 0..15 in value order.
//
// Keys: vpmaddubsw multiplies those unsigned nibbles by the prepared query's signed int8 (the
// q8_0 kernels need vpsignb to make one side unsigned; a nibble already is), pairs added into
// int16 (at most 2 x 15 x 127: no saturation), vpmaddwd by ones adds pairs into int32. The offset
// of 8 comes off once per block and row as 8 x the query block's sum (kv_q8_prepared_x86): the
// same integer as sum(q8 x (k4 - 8)). Four rows' lanes are added across exactly (vphaddd), then
// the block's terms (dq x dk) x sum join four running sums in the plain C's order: its bits.
//
// Values: a block's nibbles less 8 are widened to f32, 8 at a time (vpmovsxbd, vcvtdq2ps), and
// multiplied-added with the weight times the block's scale, two query heads at a time, each block
// widened once for both (as the q8_0 kernels): within float rounding of the plain C, not bit for
// bit (fused multiply-adds).
#include "kv_q4.h"

#if KV_Q4_X86
#include <immintrin.h>
#include <string.h>

#include "quant.h"

#define X86_TARGET __attribute__((target("avx2,fma,f16c")))
#define ROW(j) ((const BlockQ4_0 *)((const char *)rows + (j) * row_bytes))

// ---- keys ----

// A block's 32 values as unsigned nibbles 0..15, in value order (low nibbles, then high ones).
X86_TARGET static inline __m256i nibbles(const BlockQ4_0 *b) {
    const __m128i packed = _mm_loadu_si128((const __m128i *)b->qs);
    const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(packed), _mm_srli_epi16(packed, 4), 1);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// sum of k4[i] x q8[i] over a block, in 8 int32 lanes (the offset of 8 not yet taken off).
X86_TARGET static inline __m256i block_usum(const KVQ8Query *q, __m256i k4) {
    const __m256i pairs = _mm256_maddubs_epi16(k4, _mm256_loadu_si256((const __m256i *)q->qs));
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

// The four rows' sums, exact: the lanes of a0..a3 added by vphaddd, then the two halves.
X86_TARGET static inline __m128i isums4(__m256i a0, __m256i a1, __m256i a2, __m256i a3) {
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

// Block b's scales of rows j .. j+3, as 4 floats (one vcvtph2ps: q_f16_at's values exactly).
X86_TARGET static inline __m128 scales4(const void *rows, size_t row_bytes, int j, int b) {
    uint16_t h[4];
    for (int r = 0; r < 4; r++) memcpy(&h[r], ROW(j + r)[b].d, sizeof h[r]);
    return _mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)h));
}

X86_TARGET static inline float scale_of(const BlockQ4_0 *b) {
    uint16_t h;
    memcpy(&h, b->d, sizeof h);   // little-endian, as x86 is
    return _cvtsh_ss(h);
}

// One head against one row: the plain C's terms in its order (kv_q4.c, dot_q4_prepared).
X86_TARGET static float dot1_q4_avx2(const KVQ8Query *q, const int32_t *qsum, const BlockQ4_0 *k, int n) {
    float sum = 0.0f;
    for (int b = 0; b < n / QK4_0; b++) {
        const __m256i s = block_usum(&q[b], nibbles(&k[b]));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
        const float d = q[b].d * scale_of(&k[b]);
        const float term = d * (float)(_mm_cvtsi128_si32(s4) - 8 * qsum[b]);   // a statement of its own:
        sum += term;   // clang would fuse `sum += d * x` into one FMA here (FMA is on), unlike the plain C
    }
    return sum;
}

// Rows j < n_rows against the prepared heads q (and q1 when two): 4 rows at a time, each row's
// block unpacked once for both heads; per block, the 4 rows' integer sums of a head become 4
// floats added to 4 running sums (lane r: row j + r), as the plain loop adds them.
X86_TARGET static void dots_heads_q4_avx2(float *scores, int stride, const KVQ8Query *q, const int32_t *qsum,
                                          const KVQ8Query *q1, const int32_t *qsum1, int n_rows, const void *rows,
                                          size_t row_bytes, int n) {
    int j = 0;
    for (; j + 4 <= n_rows; j += 4) {
        __m128 acc = _mm_setzero_ps(), acc1 = acc;
        for (int b = 0; b < n / QK4_0; b++) {
            const __m256i k0 = nibbles(ROW(j) + b), k1 = nibbles(ROW(j + 1) + b), k2 = nibbles(ROW(j + 2) + b),
                          k3 = nibbles(ROW(j + 3) + b);
            const __m128 dk = scales4(rows, row_bytes, j, b);
            __m128i s = isums4(block_usum(&q[b], k0), block_usum(&q[b], k1), block_usum(&q[b], k2),
                               block_usum(&q[b], k3));
            s = _mm_sub_epi32(s, _mm_set1_epi32(8 * qsum[b]));
            acc = _mm_add_ps(acc, _mm_mul_ps(_mm_mul_ps(_mm_set1_ps(q[b].d), dk), _mm_cvtepi32_ps(s)));
            if (q1) {
                __m128i s1 = isums4(block_usum(&q1[b], k0), block_usum(&q1[b], k1), block_usum(&q1[b], k2),
                                    block_usum(&q1[b], k3));
                s1 = _mm_sub_epi32(s1, _mm_set1_epi32(8 * qsum1[b]));
                acc1 = _mm_add_ps(acc1, _mm_mul_ps(_mm_mul_ps(_mm_set1_ps(q1[b].d), dk), _mm_cvtepi32_ps(s1)));
            }
        }
        _mm_storeu_ps(scores + j, acc);
        if (q1) _mm_storeu_ps(scores + stride + j, acc1);
    }
    for (; j < n_rows; j++) {
        scores[j] = dot1_q4_avx2(q, qsum, ROW(j), n);
        if (q1) scores[stride + j] = dot1_q4_avx2(q1, qsum1, ROW(j), n);
    }
}

// The heads prepared once (kv_q8_prepared_x86: kept while the next call brings the same values),
// two at a time.
X86_TARGET static void dots_q4_avx2(float *scores, int stride, const float *q, int n_q, int n_rows, const void *rows,
                                    size_t row_bytes, int n) {
    const int blocks = n / QK4_0;
    const KVQ8Prepared qp = kv_q8_prepared_x86(q, n_q * n);
    for (int h = 0; h < n_q; h += 2) {
        const bool two = h + 1 < n_q;
        const size_t at = (size_t)h * blocks, at1 = at + blocks;
        dots_heads_q4_avx2(scores + (size_t)h * stride, stride, qp.blocks + at, qp.sums + at,
                           two ? qp.blocks + at1 : NULL, two ? qp.sums + at1 : NULL, n_rows, rows, row_bytes, n);
    }
}

X86_TARGET static float dot_q4_avx2(const float *q, const void *row, int n) {
    float score;
    dots_q4_avx2(&score, 1, q, 1, 1, row, 0, n);
    return score;
}

// ---- values ----

// A block's 32 values q - 8 as 4 registers of 8 floats (values 0..7, 8..15, 16..23, 24..31), in
// named variables: gcc -O2 kept arrays of registers in memory (a store and a load around every
// multiply-add, half the speed; the q8_0 kernels' finding).
#define WIDEN_Q4(B, X0, X1, X2, X3)                                                                      \
    const __m128i X0##_packed = _mm_loadu_si128((const __m128i *)(B)->qs);                              \
    const __m128i X0##_lo = _mm_sub_epi8(_mm_and_si128(X0##_packed, _mm_set1_epi8(0x0f)), _mm_set1_epi8(8)); \
    const __m128i X0##_hi =                                                                              \
        _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(X0##_packed, 4), _mm_set1_epi8(0x0f)), _mm_set1_epi8(8)); \
    const __m256 X0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(X0##_lo));                                 \
    const __m256 X1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(X0##_lo, X0##_lo)));    \
    const __m256 X2 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(X0##_hi));                                 \
    const __m256 X3 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(X0##_hi, X0##_hi)))

// A block of 32 outputs of one head (two) stays in 4 (8) registers over all the rows.
X86_TARGET static void add1_q4_avx2(float *out, const float *w, int n_rows, const void *rows, size_t row_bytes,
                                    int n) {
    for (int b = 0; b < n / QK4_0; b++) {
        float *o = out + b * QK4_0;
        __m256 a0 = _mm256_loadu_ps(o), a1 = _mm256_loadu_ps(o + 8), a2 = _mm256_loadu_ps(o + 16),
               a3 = _mm256_loadu_ps(o + 24);
        for (int j = 0; j < n_rows; j++) {
            const BlockQ4_0 *v = ROW(j) + b;
            WIDEN_Q4(v, x0, x1, x2, x3);
            const __m256 wd = _mm256_set1_ps(w[j] * scale_of(v));
            a0 = _mm256_fmadd_ps(wd, x0, a0), a1 = _mm256_fmadd_ps(wd, x1, a1);
            a2 = _mm256_fmadd_ps(wd, x2, a2), a3 = _mm256_fmadd_ps(wd, x3, a3);
        }
        _mm256_storeu_ps(o, a0), _mm256_storeu_ps(o + 8, a1), _mm256_storeu_ps(o + 16, a2), _mm256_storeu_ps(o + 24, a3);
    }
}
X86_TARGET static void add2_q4_avx2(float *out, const float *w, int stride, int n_rows, const void *rows,
                                    size_t row_bytes, int n) {
    float *out1 = out + n;
    const float *w1 = w + stride;
    for (int b = 0; b < n / QK4_0; b++) {
        float *o = out + b * QK4_0, *p = out1 + b * QK4_0;
        __m256 a0 = _mm256_loadu_ps(o), a1 = _mm256_loadu_ps(o + 8), a2 = _mm256_loadu_ps(o + 16),
               a3 = _mm256_loadu_ps(o + 24);
        __m256 b0 = _mm256_loadu_ps(p), b1 = _mm256_loadu_ps(p + 8), b2 = _mm256_loadu_ps(p + 16),
               b3 = _mm256_loadu_ps(p + 24);
        for (int j = 0; j < n_rows; j++) {
            const BlockQ4_0 *v = ROW(j) + b;
            WIDEN_Q4(v, x0, x1, x2, x3);
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
X86_TARGET static void add_q4_avx2(float *out, const float *w, int stride, int n_q, int n_rows, const void *rows,
                                   size_t row_bytes, int n) {
    int h = 0;
    for (; h + 2 <= n_q; h += 2) add2_q4_avx2(out + (size_t)h * n, w + (size_t)h * stride, stride, n_rows, rows, row_bytes, n);
    if (h < n_q) add1_q4_avx2(out + (size_t)h * n, w + (size_t)h * stride, n_rows, rows, row_bytes, n);
}

const KVRowKernels kv_q4_kernels_avx2 = {"avx2", dot_q4_avx2, dots_q4_avx2, add_q4_avx2};

// ---- the row store ----

// quantize_row_q4_0's block from 32 finite values, its steps in the same float operations: the
// first value of the largest magnitude (0 when all are zero) / -8 is d, and each q is
// (int)(x x (1 / d) + 8.5), at most 15. 112 -> 17 us per token of Qwen3-0.6B (store_q4 over 56
// rows of 1,024 values, best of 50, our AVX-512 VM), on the one thread that writes the cache.
X86_TARGET static void store_block_avx2(BlockQ4_0 *y, const float *x) {
    const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8), v2 = _mm256_loadu_ps(x + 16),
                 v3 = _mm256_loadu_ps(x + 24);
    const __m256 m0 = _mm256_and_ps(v0, magnitude), m1 = _mm256_and_ps(v1, magnitude),
                 m2 = _mm256_and_ps(v2, magnitude), m3 = _mm256_and_ps(v3, magnitude);
    __m256 top = _mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3));
    top = _mm256_max_ps(top, _mm256_permute2f128_ps(top, top, 1));
    top = _mm256_max_ps(top, _mm256_shuffle_ps(top, top, 0x4e));
    top = _mm256_max_ps(top, _mm256_shuffle_ps(top, top, 0xb1));   // every lane: the largest magnitude
    const uint32_t at = (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(m0, top, _CMP_EQ_OQ)) |
                        (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(m1, top, _CMP_EQ_OQ)) << 8 |
                        (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(m2, top, _CMP_EQ_OQ)) << 16 |
                        (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(m3, top, _CMP_EQ_OQ)) << 24;
    const float max = _mm256_cvtss_f32(top) > 0.0f ? x[__builtin_ctz(at)] : 0.0f;
    const float d = max / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t h = (uint16_t)_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);   // = q_f32_to_f16
    memcpy(y->d, &h, sizeof h);   // little-endian, as x86 is
    const __m256 scale = _mm256_set1_ps(id), half = _mm256_set1_ps(8.5f);
    const __m256i fifteen = _mm256_set1_epi32(15);
#define Q_OF(V) _mm256_min_epi32(_mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(V, scale), half)), fifteen)
    // values j (low nibble) and j + 16 (high nibble) of byte j, as int32
    const __m256i c0 = _mm256_or_si256(Q_OF(v0), _mm256_slli_epi32(Q_OF(v2), 4)),
                  c1 = _mm256_or_si256(Q_OF(v1), _mm256_slli_epi32(Q_OF(v3), 4));
#undef Q_OF
    // int32 -> int16 (vpackssdw works within 128-bit halves: 0xd8 puts the quarters in order) -> bytes
    const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(c0, c1), 0xd8);
    _mm_storeu_si128((__m128i *)y->qs, _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1)));
}

X86_TARGET bool kv_q4_store_avx2(BlockQ4_0 *y, const float *x, int n) {
    const __m256 exponent = _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000));
    __m256 bad = _mm256_setzero_ps();   // lanes where a value's exponent bits are all ones
    for (int i = 0; i < n; i += 8)
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), exponent), exponent, _CMP_EQ_OQ));
    if (_mm256_movemask_ps(bad)) return false;
    for (int b = 0; b < n / QK4_0; b++) store_block_avx2(&y[b], x + b * QK4_0);
    return true;
}
#endif
