// The q8_0 cache's row kernels for x86-64 with AVX2, FMA and F16C (with AVX-512 VNNI, kv_q8_avx512.c's
// run instead, unless PS_SIMD=avx2), the cache's row store with AVX2 and the query heads prepared
// for both sets (kv_q8.h); kv_q8.c chooses them by the CPU. Compiled on every machine: elsewhere
// the file is empty.
//
// Keys: integer dot products, as the products' (quant.h). The query heads of a call are rounded to
// 8 bits per block once (kv_q8.h, KVQ8Query; kept while the next call brings the same values),
// then a block's 32 products are vpsignb + vpmaddubsw + vpmaddwd into int32 lanes, the key block
// loaded once for two heads; four rows' lanes are added across by vphaddd (exact), and the block's
// terms (dq x dk) x sum join four running sums in the plain C's order: the plain C's value, bit
// for bit (quant.kv-q8-simd checks it on x86-64). Measured on one thread of our
// AVX2 VM (bench_attention --threads 1 --keys 4096 --kv f16,q8_0 --clock cpu, 28 layers): 100.6
// ms per token with the float kernels of before (the query in f32, each key block widened to
// floats: 4 x vpmovsxbd + vcvtdq2ps, then 8 multiply-adds for two heads), 90-93 ms so; the f16
// cache 126-135 in the same runs.
//
// Values: each block's 32 int8 are widened to f32, 8 at a time (vpmovsxbd, vcvtdq2ps), and
// multiplied-added in f32 with the weight times the block's scale; two query heads at a time, as
// in M4's f16 kernels, each block loaded and widened once for both. A block's f16 scale is widened
// by F16C (one instruction; the plain q_f16_at is about a dozen). They match the plain C within
// float rounding, not bit for bit: they fuse the multiply and the add that the plain loop rounds
// separately (the rows are added in the plain order). labs/m5-quantization/tests/test_kv_q8.c
// holds both kernels to twice the bound of a sum in any order. Tried on the values, and slower
// (same runs as above, 102-105 ms per token): each block's weights x scales made 8 rows at a time
// (one vcvtph2ps and a multiply, then a broadcast per row from memory or by vpermps) 107-113 ms;
// the weights rounded to int16 per call, pairs of rows by vpmaddwd into exact int32 sums (half the
// vector instructions per value, but the per-call rounding of the weights in scalar code) 141-149.
#include "kv_q8.h"

#if KV_Q8_X86
#include <immintrin.h>
#include <string.h>

#include "kv_values_avx2.h"
#include "quant.h"
#include "quant_simd.h"
#include "scratch.h"

#define X86_TARGET __attribute__((target("avx2,fma,f16c")))

// 8 int8 from p, as 8 floats.
X86_TARGET static inline __m256 widen8(const int8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}
#define ROW(j) ((const void *)((const char *)rows + (j) * row_bytes))

// A block's f16 scale (its 2 bytes at d) as an int: its bits, little-endian as x86 is.
X86_TARGET static inline int scale_bits(const uint8_t *d) {
    uint16_t h;
    memcpy(&h, d, sizeof h);
    return h;
}

// A block's scale as a float, exactly the value q_f16_at gives (every half is a float).
X86_TARGET static inline float scale_of(const uint8_t *d) { return _cvtsh_ss((unsigned short)scale_bits(d)); }

// A block's 32 int8 (at B) as 4 registers of 8 floats, in named variables: gcc -O2 kept arrays
// of registers in memory (a store and a load around every multiply-add, half the speed).
#define WIDEN(B, X0, X1, X2, X3)                                                                   \
    const __m256 X0 = widen8(B), X1 = widen8((B) + 8), X2 = widen8((B) + 16), X3 = widen8((B) + 24)

// ---- keys: integer dot products with the prepared query (kv_q8.h) ----

// q8 . k8 over one block, in 8 int32 lanes: vpmaddubsw multiplies |q8| (unsigned) by k8 with q8's
// sign (vpsignb), adding pairs into int16 (at most 2 x 127 x 127: no saturation), and vpmaddwd
// by ones adds pairs of those into int32.
X86_TARGET static inline __m256i block_isum(const KVQ8Query *q, __m256i k) {
    const __m256i prod = _mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)q->mag),
                                               _mm256_sign_epi8(k, _mm256_loadu_si256((const __m256i *)q->qs)));
    return _mm256_madd_epi16(prod, _mm256_set1_epi16(1));
}
X86_TARGET static inline __m256i load_qs(const int8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }

// The four rows' sums, exact: the lanes of a0..a3 added by vphaddd, then the two halves.
X86_TARGET static inline __m128i isums4(__m256i a0, __m256i a1, __m256i a2, __m256i a3) {
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

// Block b's scales of rows j .. j+3, as 4 floats (one vcvtph2ps). Put into a register with word
// inserts: not 4 two-byte stores into a buffer read back as one vector, a load that waits until
// they reach the L1 cache (no single store holds all its bytes to forward).
X86_TARGET static inline __m128 scales4(const void *rows, size_t row_bytes, int j, int b) {
    __m128i h = _mm_cvtsi32_si128(scale_bits(kv_q8_scale_at(ROW(j), b)));
    h = _mm_insert_epi16(h, scale_bits(kv_q8_scale_at(ROW(j + 1), b)), 1);
    h = _mm_insert_epi16(h, scale_bits(kv_q8_scale_at(ROW(j + 2), b)), 2);
    h = _mm_insert_epi16(h, scale_bits(kv_q8_scale_at(ROW(j + 3), b)), 3);
    return _mm_cvtph_ps(h);
}

// One head against one row: the plain C's terms in its order (kv_q8.c, dot_q8_prepared).
X86_TARGET static float dot1_q8_avx2(const KVQ8Query *q, const void *k, int n) {
    float sum = 0.0f;
    for (int b = 0; b < n / QK8_0; b++) {
        const __m256i s = block_isum(&q[b], load_qs(kv_q8_quants_at(k, n, b)));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
        const float d = q[b].d * scale_of(kv_q8_scale_at(k, b));
        const float term = d * (float)_mm_cvtsi128_si32(s4);   // a statement of its own: clang
        sum += term;   // would fuse `sum += d * x` into one FMA here (FMA is on), unlike the plain C
    }
    return sum;
}

// Rows j < n_rows against the prepared heads q (and q1 when two): 4 rows at a time, each row's
// block read once for both heads; per block, the 4 rows' integer sums of a head become 4 floats
// added to 4 running sums (lane r: row j + r), as the plain loop adds them, the rest one by one.
X86_TARGET static void dots_heads_q8_avx2(float *scores, int stride, const KVQ8Query *q, const KVQ8Query *q1,
                                          int n_rows, const void *rows, size_t row_bytes, int n) {
    int j = 0;
    for (; j + 4 <= n_rows; j += 4) {
        __m128 acc = _mm_setzero_ps(), acc1 = acc;
        for (int b = 0; b < n / QK8_0; b++) {
            const __m256i k0 = load_qs(kv_q8_quants_at(ROW(j), n, b));
            const __m256i k1 = load_qs(kv_q8_quants_at(ROW(j + 1), n, b));
            const __m256i k2 = load_qs(kv_q8_quants_at(ROW(j + 2), n, b));
            const __m256i k3 = load_qs(kv_q8_quants_at(ROW(j + 3), n, b));
            const __m128 dk = scales4(rows, row_bytes, j, b);
            const __m128i s = isums4(block_isum(&q[b], k0), block_isum(&q[b], k1), block_isum(&q[b], k2),
                                     block_isum(&q[b], k3));
            acc = _mm_add_ps(acc, _mm_mul_ps(_mm_mul_ps(_mm_set1_ps(q[b].d), dk), _mm_cvtepi32_ps(s)));
            if (q1) {
                const __m128i s1 = isums4(block_isum(&q1[b], k0), block_isum(&q1[b], k1), block_isum(&q1[b], k2),
                                          block_isum(&q1[b], k3));
                acc1 = _mm_add_ps(acc1, _mm_mul_ps(_mm_mul_ps(_mm_set1_ps(q1[b].d), dk), _mm_cvtepi32_ps(s1)));
            }
        }
        _mm_storeu_ps(scores + j, acc);
        if (q1) _mm_storeu_ps(scores + stride + j, acc1);
    }
    for (; j < n_rows; j++) {
        scores[j] = dot1_q8_avx2(q, ROW(j), n);
        if (q1) scores[stride + j] = dot1_q8_avx2(q1, ROW(j), n);
    }
}

// Are all n values of x finite (n a multiple of 8)? Their exponent bits, 8 at a time.
X86_TARGET static bool all_finite(const float *x, int n) {
    const __m256 exponent = _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000));
    __m256 bad = _mm256_setzero_ps();   // lanes where a value's exponent bits are all ones
    for (int i = 0; i < n; i += 8)
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), exponent), exponent, _CMP_EQ_OQ));
    return !_mm256_movemask_ps(bad);
}

// A block's 32 quants from int16 to int8 (they are -127 .. 127): vpacksswb packs within 128-bit
// halves, 0xd8 puts the quarters back in order.
X86_TARGET static inline __m256i pack_qs(const QuantAct *a) {
    const __m256i lo = _mm256_loadu_si256((const __m256i *)a->qs), hi = _mm256_loadu_si256((const __m256i *)(a->qs + 16));
    return _mm256_permute4x64_epi64(_mm256_packs_epi16(lo, hi), 0xd8);
}

// kv_q8_query's blocks for n values of q, all finite (else false, nothing written):
// quantize_act's rounding (quant_avx2_act, its bits), then int8 quants and their magnitudes, and
// each block's sum of quants (quant_avx2_act's).
X86_TARGET static bool query_avx2(KVQ8Query *y, int32_t *sums, const float *q, int n, QuantAct *a) {
    if (!all_finite(q, n)) return false;
    quant_avx2_act(q, a, n);
    for (int b = 0; b < n / QK8_0; b++) {
        const __m256i qs = pack_qs(&a[b]);
        _mm256_storeu_si256((__m256i *)y[b].qs, qs);
        _mm256_storeu_si256((__m256i *)y[b].mag, _mm256_abs_epi8(qs));
        y[b].d = a[b].d;
        sums[b] = a[b].sum;
    }
    return true;
}

X86_TARGET bool kv_q8_store_avx2(void *row, const float *x, int n) {
    static _Thread_local Scratch acts;
    if (!all_finite(x, n)) return false;
    QuantAct *a = scratch_reserve(&acts, (size_t)(n / QK8_0) * sizeof *a);
    quant_avx2_act(x, a, n);
    for (int b = 0; b < n / QK8_0; b++) {
        const uint16_t d = (uint16_t)_cvtss_sh(a[b].d, _MM_FROUND_TO_NEAREST_INT);   // = q_f32_to_f16
        memcpy((uint8_t *)kv_q8_scale_at(row, b), &d, sizeof d);   // little-endian, as x86 is
        _mm256_storeu_si256((__m256i *)kv_q8_quants_at(row, n, b), pack_qs(&a[b]));
    }
    return true;
}

// The query heads of a call prepared (kv_q8.h), in a thread's own buffer. The attention calls
// this for every 16 rows with the same heads: when the values are those of the last call, the
// blocks are those it made (compared by value, so always right; 1 KiB for two heads of 128,
// cheaper than quantizing them again). What that costs, measured with the AVX-512 keys on our Zen
// 5 VM (2 heads, rows in cache): 16 rows a call take 0.7-0.8 ns a row more than 256 a call, the
// compare and the rest of a call's set-up together (0.7 ms of a token's 31 at 4,096 positions);
// comparing with AVX2 loads instead of memcmp changed nothing measurable.
X86_TARGET KVQ8Prepared kv_q8_prepared_x86(const float *q, int len) {
    static _Thread_local Scratch mem, sums_mem, acts, last;
    static _Thread_local int last_len;
    const int blocks = len / QK8_0;
    KVQ8Query *y = scratch_reserve(&mem, (size_t)blocks * sizeof *y);
    int32_t *sums = scratch_reserve(&sums_mem, (size_t)blocks * sizeof *sums);
    const KVQ8Prepared prepared = {y, sums};
    float *seen = scratch_reserve(&last, (size_t)len * sizeof *seen);
    if (len == last_len && memcmp(seen, q, (size_t)len * sizeof *q) == 0) return prepared;
    last_len = 0;   // until y holds q's blocks
    if (!query_avx2(y, sums, q, len, scratch_reserve(&acts, (size_t)blocks * sizeof(QuantAct)))) {
        kv_q8_query(y, q, len, true);   // a value that is not finite: its blocks NaN
        for (int b = 0; b < blocks; b++) {
            sums[b] = 0;
            for (int i = 0; i < QK8_0; i++) sums[b] += y[b].qs[i];
        }
        return prepared;   // (not kept: NaN never compares equal, nor would its bits)
    }
    memcpy(seen, q, (size_t)len * sizeof *q);
    last_len = len;
    return prepared;
}

void kv_q8_dots_by_lanes_x86(KVQ8KeyRows key_rows, int lanes, float *scores, int stride, const float *q, int n_q,
                             int n_rows, const void *rows, size_t row_bytes, int n) {
    const int blocks = n / QK8_0;   // (QK4_0 too: a query block is 32 values either way)
    const KVQ8Prepared p = kv_q8_prepared_x86(q, n_q * n);
    for (int j = 0; j < n_rows; j += lanes) {
        const int nr = n_rows - j < lanes ? n_rows - j : lanes;
        for (int h = 0; h < n_q; h += 2) {
            const bool two = h + 1 < n_q;
            const size_t at = (size_t)h * blocks, at1 = at + blocks;
            key_rows(scores + (size_t)h * stride + j, stride, p.blocks + at, p.sums + at, two ? p.blocks + at1 : NULL,
                     two ? p.sums + at1 : NULL, nr, (const char *)rows + (size_t)j * row_bytes, row_bytes, n);
        }
    }
}

// Two prepared heads at a time.
X86_TARGET static void dots_q8_avx2(float *scores, int stride, const float *q, int n_q, int n_rows, const void *rows,
                                    size_t row_bytes, int n) {
    const int blocks = n / QK8_0;
    const KVQ8Query *qp = kv_q8_prepared_x86(q, n_q * n).blocks;
    for (int h = 0; h < n_q; h += 2)
        dots_heads_q8_avx2(scores + (size_t)h * stride, stride, qp + (size_t)h * blocks,
                           h + 1 < n_q ? qp + (size_t)(h + 1) * blocks : NULL, n_rows, rows, row_bytes, n);
}

X86_TARGET static float dot_q8_avx2(const float *q, const void *row, int n) {
    float score;
    dots_q8_avx2(&score, 1, q, 1, 1, row, 0, n);
    return score;
}

#define KV_BLOCK(row, b) kv_q8_quants_at(row, n, b)
#define KV_SCALE(row, b) scale_of(kv_q8_scale_at(row, b))
KV_VALUES_AVX2(q8_avx2, WIDEN)

const KVRowKernels kv_q8_kernels_avx2 = {"avx2", dot_q8_avx2, dots_q8_avx2, add_q8_avx2};
#endif
