// The q8_0 cache's row kernels for x86-64 with AVX-512 F, BW, VL and VNNI (and F16C), chosen by
// kv_q8.c where the CPU has them and PS_SIMD is not avx2 (then the AVX2 set of kv_q8_x86.c
// runs). Their contract is the AVX2 set's: the key dots give the plain C's bits, the value sums
// are within float rounding of it. Compiled on every machine: elsewhere the file is empty.
//
// Keys: 16 rows in the 16 lanes of a register, so that a lane's integer sums and float terms are
// one row's, in the plain C's order, with no horizontal adds at all. Per block, the 16 rows'
// quants are loaded as 8 registers of two rows and transposed (16 unpacks and 8 shuffles of
// 128-bit lanes: lane r of register i then holds quants 4i .. 4i+3 of row r), once for all the
// query heads of the call; then per head 8 vpdpbusd, each multiplying a register by the head's
// quants 4i .. 4i+3 broadcast, give the 16 rows' exact sums. vpdpbusd wants one side unsigned:
// the keys are flipped to k + 128 (an xor of the sign bit), which adds 128 x the head's sum of
// quants to each lane, so the lane starts at -128 x that sum (kv_q8_prepared_x86 has the sums).
// The AVX2 set instead reduces 8 lanes per row and block after its products, per head.
//
// Values: each block's 32 int8 are widened to f32 16 at a time and multiplied-added with the
// weight times the block's scale, two query heads and two blocks at a time (8 running sums).
//
// Measured on one core of our Zen 5 VM (the kernels alone in a timing loop, 2 heads, 256 rows hot
// in cache, ns per row, AVX2 -> AVX-512): key dots 10.5 -> 4.1, values 6.8 -> 4.15. Tried, and
// slower: values one block at a time (its 4 sums each wait for the last multiply-add: 8.7 where
// AVX2 took 6.9), the weights x scales made for 16 rows at once and read back as broadcasts from
// memory (6.3 against 4.5) or picked from that register by vpermps (6.4); the keys' 16 scales
// copied by a loop the compiler does not unroll (6.9 against 5.5, both with the query compared at
// every call of 16 rows; four blocks' scales now come in two gathers, kv_rows_avx512.h). No faster:
// values four blocks at a time (16 sums), keys transposed only within 128-bit lanes with two
// shuffles per head and block to finish (3.2-4.0 against 3.3-3.4; 28 shuffles a block against 32
// for two heads, which may matter more where shuffles have one port, as on Intel's cores; not
// measured there).
// Attention at 4,096 positions (bench_attention --threads 1 --kv q8_0, CPU clock): 38.4-38.9 ->
// 31.6-33.3 ms per token; book/m5-quantization.md#kv-q8 says more.
#include "kv_q8.h"

#if KV_Q8_X86
#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "kv_rows_avx512.h"

// The plain C's float terms must not become multiply-adds: gcc in ISO C mode never contracts, and
// clang only within one expression (each intrinsic is its own), but say so for the file anyway.
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
#define AVX512_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define AVX512_INLINE AVX512_TARGET __attribute__((always_inline)) static inline

#define LANES 16   // rows of one key register, one per lane; and the rows of a value step
#define ROW(j) ((const char *)rows + (size_t)(j) * row_bytes)

// ---- keys ----

// 32 bytes at r and at s as [r | s] (two 32-byte halves), each flipped to k + 128: a block's
// quants of two rows.
AVX512_INLINE __m512i two_rows(const char *r, const char *s) {
    const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)r)),
                                            _mm256_loadu_si256((const __m256i *)s), 1);
    return _mm512_xor_si512(both, _mm512_set1_epi8((char)0x80));
}

// Quants 4i .. 4i+3 of a query block, as one int32 for a broadcast.
AVX512_INLINE __m512i quad(const KVQ8Query *q, int i) {
    int32_t v;
    memcpy(&v, q->qs + 4 * i, sizeof v);
    return _mm512_set1_epi32(v);
}

// The 16 rows' term of one block for one head, added to their running sums as the plain C adds
// it: (dq x dk) x the exact sum, two products rounded in turn, then the add. The sum is two
// chains of 4 vpdpbusd (even and odd quads), so that they overlap; integers: any order is exact.
AVX512_INLINE __m512 add_block_terms(__m512 acc, const KVQ8Query *q, int32_t qsum, __m512 dk, __m512i c0, __m512i c1,
                                     __m512i c2, __m512i c3, __m512i c4, __m512i c5, __m512i c6, __m512i c7) {
    __m512i even = _mm512_set1_epi32(-128 * qsum), odd = _mm512_setzero_si512();
    even = _mm512_dpbusd_epi32(even, c0, quad(q, 0)), odd = _mm512_dpbusd_epi32(odd, c1, quad(q, 1));
    even = _mm512_dpbusd_epi32(even, c2, quad(q, 2)), odd = _mm512_dpbusd_epi32(odd, c3, quad(q, 3));
    even = _mm512_dpbusd_epi32(even, c4, quad(q, 4)), odd = _mm512_dpbusd_epi32(odd, c5, quad(q, 5));
    even = _mm512_dpbusd_epi32(even, c6, quad(q, 6)), odd = _mm512_dpbusd_epi32(odd, c7, quad(q, 7));
    const __m512 d = _mm512_mul_ps(_mm512_set1_ps(q->d), dk);
    const __m512 term = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_add_epi32(even, odd)));
    return _mm512_add_ps(acc, term);
}

// Rows 0 .. n_rows-1 (at most 16) against the prepared head q (and q1 when two heads): scores[j]
// and scores[stride + j], the 16 rows read as a base and a stride (kv_rows16: fewer are copied,
// the last one repeated; its lanes are computed, never stored).
AVX512_TARGET static void dots16_q8_avx512(float *scores, int stride, const KVQ8Query *q, const int32_t *qsum,
                                           const KVQ8Query *q1, const int32_t *qsum1, int n_rows, const void *rows,
                                           size_t row_bytes, int n) {
    const int blocks = n / QK8_0;
    rows = kv_rows16(rows, &row_bytes, n_rows, (size_t)blocks * sizeof(BlockQ8_0));
    const size_t rows4 = 4 * row_bytes;
    const char *r0 = rows, *r1 = r0 + row_bytes, *r2 = r1 + row_bytes, *r3 = r2 + row_bytes;
    const char *r8 = r0 + 2 * rows4, *r9 = r8 + row_bytes, *r10 = r9 + row_bytes, *r11 = r10 + row_bytes;
    __m512 acc = _mm512_setzero_ps(), acc1 = acc, dk[4];
    for (int b = 0; b < blocks; b++) {
        if (b % 4 == 0) kv_scales16x4_avx512(dk, rows, row_bytes, LANES, b);
        const size_t qs = 2 * (size_t)blocks + 32 * (size_t)b;   // where a row keeps block b's quants (kv_q8.h)
        // Registers [r | r+4] for r = 0..3 and 8..11: after the transpose within 128-bit lanes
        // (t: rows 0-7, u: rows 8-15), one shuffle of lanes puts row r in lane r.
        const __m512i z0 = two_rows(r0 + qs, r0 + rows4 + qs), z1 = two_rows(r1 + qs, r1 + rows4 + qs),
                      z2 = two_rows(r2 + qs, r2 + rows4 + qs), z3 = two_rows(r3 + qs, r3 + rows4 + qs),
                      z4 = two_rows(r8 + qs, r8 + rows4 + qs), z5 = two_rows(r9 + qs, r9 + rows4 + qs),
                      z6 = two_rows(r10 + qs, r10 + rows4 + qs), z7 = two_rows(r11 + qs, r11 + rows4 + qs);
        // Per 128-bit lane a 4 x 4 transpose of int32: t_i's lanes hold quad i (lanes 0, 2) and
        // quad 4+i (lanes 1, 3) of rows 0-3 and 4-7; u_i the same of rows 8-11 and 12-15.
        const __m512i a0 = _mm512_unpacklo_epi32(z0, z1), a1 = _mm512_unpackhi_epi32(z0, z1),
                      a2 = _mm512_unpacklo_epi32(z2, z3), a3 = _mm512_unpackhi_epi32(z2, z3);
        const __m512i b0 = _mm512_unpacklo_epi32(z4, z5), b1 = _mm512_unpackhi_epi32(z4, z5),
                      b2 = _mm512_unpacklo_epi32(z6, z7), b3 = _mm512_unpackhi_epi32(z6, z7);
        const __m512i t0 = _mm512_unpacklo_epi64(a0, a2), t1 = _mm512_unpackhi_epi64(a0, a2),
                      t2 = _mm512_unpacklo_epi64(a1, a3), t3 = _mm512_unpackhi_epi64(a1, a3);
        const __m512i u0 = _mm512_unpacklo_epi64(b0, b2), u1 = _mm512_unpackhi_epi64(b0, b2),
                      u2 = _mm512_unpacklo_epi64(b1, b3), u3 = _mm512_unpackhi_epi64(b1, b3);
        enum { low = _MM_SHUFFLE(2, 0, 2, 0), high = _MM_SHUFFLE(3, 1, 3, 1) };   // constants, as vshufi32x4 wants
        const __m512i c0 = _mm512_shuffle_i32x4(t0, u0, low), c4 = _mm512_shuffle_i32x4(t0, u0, high),
                      c1 = _mm512_shuffle_i32x4(t1, u1, low), c5 = _mm512_shuffle_i32x4(t1, u1, high),
                      c2 = _mm512_shuffle_i32x4(t2, u2, low), c6 = _mm512_shuffle_i32x4(t2, u2, high),
                      c3 = _mm512_shuffle_i32x4(t3, u3, low), c7 = _mm512_shuffle_i32x4(t3, u3, high);
        acc = add_block_terms(acc, &q[b], qsum[b], dk[b % 4], c0, c1, c2, c3, c4, c5, c6, c7);
        if (q1) acc1 = add_block_terms(acc1, &q1[b], qsum1[b], dk[b % 4], c0, c1, c2, c3, c4, c5, c6, c7);
    }
    const __mmask16 stored = (__mmask16)((1u << n_rows) - 1);
    _mm512_mask_storeu_ps(scores, stored, acc);
    if (q1) _mm512_mask_storeu_ps(scores + stride, stored, acc1);
}

// 16 rows at a time, two heads at a time (a last odd head alone).
AVX512_TARGET static void dots_q8_avx512(float *scores, int stride, const float *q, int n_q, int n_rows, const void *rows,
                                         size_t row_bytes, int n) {
    kv_q8_dots_by_lanes_x86(dots16_q8_avx512, LANES, scores, stride, q, n_q, n_rows, rows, row_bytes, n);
}

AVX512_TARGET static float dot_q8_avx512(const float *q, const void *row, int n) {
    float score;
    dots_q8_avx512(&score, 1, q, 1, 1, row, 0, n);
    return score;
}

// ---- values ----

// 16 int8 as 16 floats.
AVX512_INLINE __m512 widen16(const int8_t *p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)));
}

// A block's scale in all 16 lanes, exactly the value q_f16_at gives (every half is a float): the
// half broadcast, then widened, so that weight x scale is one multiply for 16 lanes (a scalar
// multiply and a broadcast per head before: values 4.5 -> 4.15 ns a row in a quiet hour).
AVX512_INLINE __m512 scale16(const uint8_t *d) {
    uint16_t h;
    memcpy(&h, d, sizeof h);   // little-endian, as x86 is
    return _mm512_cvtph_ps(_mm256_set1_epi16((short)h));
}

// Blocks b and b+1 (`pair`; else b alone) of the outputs of one head (two when `two`: out1, w1)
// over rows 0 .. n_rows-1 in order: per row, each block's 32 values widened once and multiplied-
// added for each head with the weight times the block's scale. Two blocks at a time: every
// multiply-add adds to its output's running sum, so the sums of one block (4 registers for two
// heads) would wait on the latency of the last; 8 sums in flight keep the FMA units busy.
AVX512_INLINE void add_blocks(float *out, float *out1, const float *w, const float *w1, bool two, bool pair, int n_rows,
                              const void *rows, size_t row_bytes, int n, int b) {
    __m512 a0 = _mm512_loadu_ps(out), a1 = _mm512_loadu_ps(out + 16), a2 = a0, a3 = a1;
    __m512 b0 = a0, b1 = a1, b2 = a0, b3 = a1;
    if (pair) a2 = _mm512_loadu_ps(out + 32), a3 = _mm512_loadu_ps(out + 48);
    if (two) b0 = _mm512_loadu_ps(out1), b1 = _mm512_loadu_ps(out1 + 16);
    if (two && pair) b2 = _mm512_loadu_ps(out1 + 32), b3 = _mm512_loadu_ps(out1 + 48);
    for (int j = 0; j < n_rows; j++) {
        const uint8_t *s = kv_q8_scale_at(ROW(j), b);   // block b's scale, block b+1's 2 bytes on
        const int8_t *v = kv_q8_quants_at(ROW(j), n, b);   // its quants, block b+1's 32 bytes on
        const __m512 d = scale16(s);
        const __m512 x0 = widen16(v), x1 = widen16(v + 16);
        const __m512 wa = _mm512_mul_ps(_mm512_set1_ps(w[j]), d);
        a0 = _mm512_fmadd_ps(wa, x0, a0), a1 = _mm512_fmadd_ps(wa, x1, a1);
        if (two) {
            const __m512 wb = _mm512_mul_ps(_mm512_set1_ps(w1[j]), d);
            b0 = _mm512_fmadd_ps(wb, x0, b0), b1 = _mm512_fmadd_ps(wb, x1, b1);
        }
        if (pair) {
            const __m512 d1 = scale16(s + 2);
            const __m512 y0 = widen16(v + 32), y1 = widen16(v + 48);
            const __m512 wa1 = _mm512_mul_ps(_mm512_set1_ps(w[j]), d1);
            a2 = _mm512_fmadd_ps(wa1, y0, a2), a3 = _mm512_fmadd_ps(wa1, y1, a3);
            if (two) {
                const __m512 wb1 = _mm512_mul_ps(_mm512_set1_ps(w1[j]), d1);
                b2 = _mm512_fmadd_ps(wb1, y0, b2), b3 = _mm512_fmadd_ps(wb1, y1, b3);
            }
        }
    }
    _mm512_storeu_ps(out, a0), _mm512_storeu_ps(out + 16, a1);
    if (pair) _mm512_storeu_ps(out + 32, a2), _mm512_storeu_ps(out + 48, a3);
    if (two) _mm512_storeu_ps(out1, b0), _mm512_storeu_ps(out1 + 16, b1);
    if (two && pair) _mm512_storeu_ps(out1 + 32, b2), _mm512_storeu_ps(out1 + 48, b3);
}

AVX512_TARGET static void add2_q8_avx512(float *out, const float *w, int stride, int n_rows, const void *rows,
                                         size_t row_bytes, int n) {
    const int blocks = n / QK8_0;
    int b = 0;
    for (; b + 2 <= blocks; b += 2)
        add_blocks(out + b * QK8_0, out + n + b * QK8_0, w, w + stride, true, true, n_rows, rows, row_bytes, n, b);
    if (b < blocks)
        add_blocks(out + b * QK8_0, out + n + b * QK8_0, w, w + stride, true, false, n_rows, rows, row_bytes, n, b);
}
AVX512_TARGET static void add1_q8_avx512(float *out, const float *w, int n_rows, const void *rows, size_t row_bytes,
                                         int n) {
    const int blocks = n / QK8_0;
    int b = 0;
    for (; b + 2 <= blocks; b += 2)
        add_blocks(out + b * QK8_0, NULL, w, NULL, false, true, n_rows, rows, row_bytes, n, b);
    if (b < blocks) add_blocks(out + b * QK8_0, NULL, w, NULL, false, false, n_rows, rows, row_bytes, n, b);
}

// The query heads of a group two at a time, a last odd one alone.
AVX512_TARGET static void add_q8_avx512(float *out, const float *w, int stride, int n_q, int n_rows, const void *rows,
                                        size_t row_bytes, int n) {
    int h = 0;
    for (; h + 2 <= n_q; h += 2)
        add2_q8_avx512(out + (size_t)h * n, w + (size_t)h * stride, stride, n_rows, rows, row_bytes, n);
    if (h < n_q) add1_q8_avx512(out + (size_t)h * n, w + (size_t)h * stride, n_rows, rows, row_bytes, n);
}

const KVRowKernels kv_q8_kernels_avx512 = {"avx512", dot_q8_avx512, dots_q8_avx512, add_q8_avx512};
#endif
