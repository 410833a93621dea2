// The q4_0 cache's row kernels for x86-64 with AVX-512 F, BW, VL and VNNI (and F16C), chosen by
// kv_q4.c where the CPU has them and PS_SIMD is not avx2 (then kv_q4_x86.c's AVX2 set runs).
// Their contract is the AVX2 set's: the key dots give the plain C's bits, the value sums are
// within float rounding of it. Compiled on every machine: elsewhere the file is empty.
//
// Keys: 16 rows in the 16 lanes of a register, so that a lane's integer sums and float terms are
// one row's, in the plain C's order, with no horizontal adds (a first AVX2 set reduced 8 lanes
// per row, block and head, and that reduction was most of its time: 11 ms of keys a token where
// this takes 5, at 4,096 positions, one thread). Per block, the 16 rows' 16 bytes are loaded 4
// rows to a register and transposed within 128-bit lanes (8 unpacks), so that lane r of register k holds
// bytes 4k .. 4k+3 of row r: values 4k .. 4k+3 in their low nibbles, 16+4k .. 16+4k+3 in their
// high ones. A mask (and a shift) gives them as unsigned bytes; per head 8 vpdpbusd, each with
// the head's 4 matching query bytes broadcast, add the 16 rows' exact sums of k4 x q8 to lanes
// that start at -8 x the head's block sum (kv_q8_prepared_x86): sum(q8 x (k4 - 8)), as the
// plain C's.
//
// Values: vpermps looks a float up in a register of 16 by the low 4 bits of each index lane, so a
// table of q - 8 for q = 0..15 turns 16 nibbles widened to int32 (vpmovzxbd) into 16 floats in one
// instruction: the low nibbles as they are (vpermps ignores the bits above), the high ones after a
// shift. Per block and two heads: 2 lookups and 4 multiply-adds of 16 lanes, where AVX2 takes 8
// conversions and 8 multiply-adds of 8 lanes (9.6 -> 5.0 ms a token, as above). The weight x scale
// of each row and block is made 16 rows and 4 blocks at a time (the scales by kv_scales16x4_avx512)
// and the multiply-adds broadcast it from memory; 4 blocks' sums of two heads stay in 16 registers
// over the rows. On Intel the lookups, the widening and register broadcasts all take the one
// shuffle port, and the scalar path to each weight x scale (load, convert, multiply, broadcast) had
// taken it about as often as the lookups: per key, 16 threads each on its own block in L1 (Xeon
// VM), 12.7-14.1 -> 10.1-11.1 ns.
#include "kv_q4.h"

#if KV_Q4_X86
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
#define X512_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define X512_INLINE X512_TARGET __attribute__((always_inline)) static inline

#define LANES 16   // rows of one key register, one per lane
#define ROW(j) ((const char *)rows + (size_t)(j) * row_bytes)

// ---- keys ----

// 16 bytes at `at`, at + rows4, at + 2 x rows4 and at + 3 x rows4, one per 128-bit lane: a block's
// nibbles of rows r, r+4, r+8 and r+12 when rows4 is 4 rows' bytes.
X512_INLINE __m512i four_rows(const char *at, size_t rows4) {
    __m512i z = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)at));
    z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(at + rows4)), 1);
    z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(at + 2 * rows4)), 2);
    return _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(at + 3 * rows4)), 3);
}

// Query bytes i .. i+3 of a block, broadcast.
X512_INLINE __m512i quad(const KVQ8Query *q, int i) {
    int32_t v;
    memcpy(&v, q->qs + i, sizeof v);
    return _mm512_set1_epi32(v);
}

// The 16 rows' term of one block for one head, added to their running sums as the plain C adds
// it: (dq x dk) x the exact sum, two products rounded in turn, then the add. lo[k] and hi[k] are
// the rows' nibbles of values 4k .. 4k+3 and 16+4k .. 16+4k+3. Two chains of 4 vpdpbusd, so that
// they overlap (integers: any order is exact).
X512_INLINE __m512 add_block_terms(__m512 acc, const KVQ8Query *q, int32_t qsum, __m512 dk, __m512i lo0, __m512i lo1,
                                   __m512i lo2, __m512i lo3, __m512i hi0, __m512i hi1, __m512i hi2, __m512i hi3) {
    __m512i low = _mm512_set1_epi32(-8 * qsum), high = _mm512_setzero_si512();
    low = _mm512_dpbusd_epi32(low, lo0, quad(q, 0)), high = _mm512_dpbusd_epi32(high, hi0, quad(q, 16));
    low = _mm512_dpbusd_epi32(low, lo1, quad(q, 4)), high = _mm512_dpbusd_epi32(high, hi1, quad(q, 20));
    low = _mm512_dpbusd_epi32(low, lo2, quad(q, 8)), high = _mm512_dpbusd_epi32(high, hi2, quad(q, 24));
    low = _mm512_dpbusd_epi32(low, lo3, quad(q, 12)), high = _mm512_dpbusd_epi32(high, hi3, quad(q, 28));
    const __m512 d = _mm512_mul_ps(_mm512_set1_ps(q->d), dk);
    const __m512 term = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_add_epi32(low, high)));
    return _mm512_add_ps(acc, term);
}

// Rows 0 .. n_rows-1 (at most 16) against the prepared head q (and q1 when two heads): scores[j]
// and scores[stride + j], the 16 rows read as a base and a stride (kv_rows16: fewer are copied,
// the last one repeated; its lanes are computed, never stored).
X512_TARGET static void dots16_q4_avx512(float *scores, int stride, const KVQ8Query *q, const int32_t *qsum,
                                         const KVQ8Query *q1, const int32_t *qsum1, int n_rows, const void *rows,
                                         size_t row_bytes, int n) {
    const int blocks = n / QK4_0;
    rows = kv_rows16(rows, &row_bytes, n_rows, (size_t)blocks * sizeof(BlockQ4_0));
    const size_t rows4 = 4 * row_bytes;
    const char *r0 = rows, *r1 = r0 + row_bytes, *r2 = r1 + row_bytes, *r3 = r2 + row_bytes;
    const __m512i low_nibbles = _mm512_set1_epi8(0x0f);
    __m512 acc = _mm512_setzero_ps(), acc1 = acc, dk[4];
    for (int b = 0; b < blocks; b++) {
        if (b % 4 == 0) kv_scales16x4_avx512(dk, rows, row_bytes, LANES, b);
        const size_t qs = 2 * (size_t)blocks + 16 * (size_t)b;   // where a row keeps block b's nibbles (kv_q4.h)
        const __m512i z0 = four_rows(r0 + qs, rows4), z1 = four_rows(r1 + qs, rows4), z2 = four_rows(r2 + qs, rows4),
                      z3 = four_rows(r3 + qs, rows4);
        // A 4 x 4 transpose of int32 per 128-bit lane: c_k's lane r holds bytes 4k .. 4k+3 of row r.
        const __m512i a0 = _mm512_unpacklo_epi32(z0, z1), a1 = _mm512_unpackhi_epi32(z0, z1),
                      a2 = _mm512_unpacklo_epi32(z2, z3), a3 = _mm512_unpackhi_epi32(z2, z3);
        const __m512i c0 = _mm512_unpacklo_epi64(a0, a2), c1 = _mm512_unpackhi_epi64(a0, a2),
                      c2 = _mm512_unpacklo_epi64(a1, a3), c3 = _mm512_unpackhi_epi64(a1, a3);
        const __m512i lo0 = _mm512_and_si512(c0, low_nibbles), hi0 = _mm512_and_si512(_mm512_srli_epi32(c0, 4), low_nibbles);
        const __m512i lo1 = _mm512_and_si512(c1, low_nibbles), hi1 = _mm512_and_si512(_mm512_srli_epi32(c1, 4), low_nibbles);
        const __m512i lo2 = _mm512_and_si512(c2, low_nibbles), hi2 = _mm512_and_si512(_mm512_srli_epi32(c2, 4), low_nibbles);
        const __m512i lo3 = _mm512_and_si512(c3, low_nibbles), hi3 = _mm512_and_si512(_mm512_srli_epi32(c3, 4), low_nibbles);
        acc = add_block_terms(acc, &q[b], qsum[b], dk[b % 4], lo0, lo1, lo2, lo3, hi0, hi1, hi2, hi3);
        if (q1) acc1 = add_block_terms(acc1, &q1[b], qsum1[b], dk[b % 4], lo0, lo1, lo2, lo3, hi0, hi1, hi2, hi3);
    }
    const __mmask16 stored = (__mmask16)((1u << n_rows) - 1);
    _mm512_mask_storeu_ps(scores, stored, acc);
    if (q1) _mm512_mask_storeu_ps(scores + stride, stored, acc1);
}

// 16 rows at a time, two heads at a time (a last odd head alone).
X512_TARGET static void dots_q4_avx512(float *scores, int stride, const float *q, int n_q, int n_rows, const void *rows,
                                       size_t row_bytes, int n) {
    kv_q8_dots_by_lanes_x86(dots16_q4_avx512, LANES, scores, stride, q, n_q, n_rows, rows, row_bytes, n);
}

X512_TARGET static float dot_q4_avx512(const float *q, const void *row, int n) {
    float score;
    dots_q4_avx512(&score, 1, q, 1, 1, row, 0, n);
    return score;
}

// ---- values ----

// A block's 32 values (its 16 bytes of nibbles at v) as q - 8 in two registers of 16 floats
// (values 0..15, 16..31).
X512_INLINE void lookup(const uint8_t *v, __m512 levels, __m512 *x0, __m512 *x1) {
    const __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)v));
    *x0 = _mm512_permutexvar_ps(idx, levels);
    *x1 = _mm512_permutexvar_ps(_mm512_srli_epi32(idx, 4), levels);
}

#define QUAD 4   // blocks of a row whose sums stay in registers together: 128 values

// Rows j0 .. j0+15 (the lanes past n_rows repeat the last row): blocks b .. b+nb-1's scales times
// each row's weight for head h (and h+1 when `two`), into wd[k][0][r] and wd[k][1][r] for rows r <
// 16, block b+k.
X512_INLINE void weight_scales(float wd[QUAD][2][LANES], const float *w, int stride, bool two, int nb, int j0,
                               int n_rows, const void *rows, size_t row_bytes, int b) {
    __m512 d[QUAD];
    kv_scales16x4_avx512(d, ROW(j0), row_bytes, n_rows - j0, b);
    const __mmask16 in = n_rows - j0 >= LANES ? 0xffff : (__mmask16)((1u << (n_rows - j0)) - 1);
    const __m512 w0 = _mm512_maskz_loadu_ps(in, w + j0), w1 = two ? _mm512_maskz_loadu_ps(in, w + stride + j0) : w0;
    for (int k = 0; k < nb; k++) {
        _mm512_storeu_ps(wd[k][0], _mm512_mul_ps(w0, d[k]));
        if (two) _mm512_storeu_ps(wd[k][1], _mm512_mul_ps(w1, d[k]));
    }
}

// Block k of a quad, in the row loop below: looked up once, multiplied-added for each head with
// the weight x scale taken from memory. Written out per block (and the sums as named registers)
// because arrays of sums indexed in loops were kept in memory by gcc -O2.
#define QUAD_BLOCK(k, a0, a1, b0, b1)                                                   \
    if (nb > k) {                                                                       \
        __m512 x0, x1;                                                                  \
        lookup(v + 16 * k, levels, &x0, &x1);                                           \
        const __m512 sa = _mm512_set1_ps(wd[k][0][r]);                                  \
        a0 = _mm512_fmadd_ps(sa, x0, a0), a1 = _mm512_fmadd_ps(sa, x1, a1);             \
        if (two) {                                                                      \
            const __m512 sb = _mm512_set1_ps(wd[k][1][r]);                              \
            b0 = _mm512_fmadd_ps(sb, x0, b0), b1 = _mm512_fmadd_ps(sb, x1, b1);         \
        }                                                                               \
    }

// Blocks b .. b+nb-1 (nb <= QUAD) of the outputs of head h (and h+1 when `two`: out + n, w +
// stride) over all the rows, in order. Their 2 x nb (x 2 heads) running sums stay in registers
// over the rows, so a row's blocks are looked up once for both heads; the weight x scale of each
// (row, block, head) is made 16 rows at a time and the multiply-adds take it from memory, so the
// only shuffles left per block are the lookup's (AVX-512 has 32 registers: 16 sums fit). nb and
// two are constants where add_quad_of calls this, so each case compiles to its own loop.
X512_INLINE void add_quad(float *out, const float *w, int stride, bool two, int nb, int n_rows, const void *rows,
                          size_t row_bytes, int n, int b) {
    const __m512 levels = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
    float *o = out + b * QK4_0, *p = o + n;   // head h's blocks, head h+1's
    const __m512 zero = _mm512_setzero_ps();
    __m512 a0 = _mm512_loadu_ps(o), a1 = _mm512_loadu_ps(o + 16), a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero,
           a7 = zero, b0 = zero, b1 = zero, b2 = zero, b3 = zero, b4 = zero, b5 = zero, b6 = zero, b7 = zero;
    if (nb > 1) a2 = _mm512_loadu_ps(o + 32), a3 = _mm512_loadu_ps(o + 48);
    if (nb > 2) a4 = _mm512_loadu_ps(o + 64), a5 = _mm512_loadu_ps(o + 80);
    if (nb > 3) a6 = _mm512_loadu_ps(o + 96), a7 = _mm512_loadu_ps(o + 112);
    if (two) b0 = _mm512_loadu_ps(p), b1 = _mm512_loadu_ps(p + 16);
    if (two && nb > 1) b2 = _mm512_loadu_ps(p + 32), b3 = _mm512_loadu_ps(p + 48);
    if (two && nb > 2) b4 = _mm512_loadu_ps(p + 64), b5 = _mm512_loadu_ps(p + 80);
    if (two && nb > 3) b6 = _mm512_loadu_ps(p + 96), b7 = _mm512_loadu_ps(p + 112);
    float wd[QUAD][2][LANES];
    for (int j0 = 0; j0 < n_rows; j0 += LANES) {
        weight_scales(wd, w, stride, two, nb, j0, n_rows, rows, row_bytes, b);
        const int rows_here = n_rows - j0 < LANES ? n_rows - j0 : LANES;
        for (int r = 0; r < rows_here; r++) {
            const uint8_t *v = kv_q4_nibbles_at(ROW(j0 + r), n, b);   // block b+k's are 16 x k bytes on
            QUAD_BLOCK(0, a0, a1, b0, b1)
            QUAD_BLOCK(1, a2, a3, b2, b3)
            QUAD_BLOCK(2, a4, a5, b4, b5)
            QUAD_BLOCK(3, a6, a7, b6, b7)
        }
    }
    _mm512_storeu_ps(o, a0), _mm512_storeu_ps(o + 16, a1);
    if (nb > 1) _mm512_storeu_ps(o + 32, a2), _mm512_storeu_ps(o + 48, a3);
    if (nb > 2) _mm512_storeu_ps(o + 64, a4), _mm512_storeu_ps(o + 80, a5);
    if (nb > 3) _mm512_storeu_ps(o + 96, a6), _mm512_storeu_ps(o + 112, a7);
    if (two) _mm512_storeu_ps(p, b0), _mm512_storeu_ps(p + 16, b1);
    if (two && nb > 1) _mm512_storeu_ps(p + 32, b2), _mm512_storeu_ps(p + 48, b3);
    if (two && nb > 2) _mm512_storeu_ps(p + 64, b4), _mm512_storeu_ps(p + 80, b5);
    if (two && nb > 3) _mm512_storeu_ps(p + 96, b6), _mm512_storeu_ps(p + 112, b7);
}
#undef QUAD_BLOCK

// add_quad with nb a constant in each case: one loop per count of blocks.
X512_INLINE void add_quad_of(float *out, const float *w, int stride, bool two, int nb, int n_rows, const void *rows,
                             size_t row_bytes, int n, int b) {
    switch (nb) {
    case 4: add_quad(out, w, stride, two, 4, n_rows, rows, row_bytes, n, b); break;
    case 3: add_quad(out, w, stride, two, 3, n_rows, rows, row_bytes, n, b); break;
    case 2: add_quad(out, w, stride, two, 2, n_rows, rows, row_bytes, n, b); break;
    default: add_quad(out, w, stride, two, 1, n_rows, rows, row_bytes, n, b);
    }
}

// The query heads of a group two at a time (a last odd one alone), a row's blocks QUAD at a time.
X512_TARGET static void add_q4_avx512(float *out, const float *w, int stride, int n_q, int n_rows, const void *rows,
                                      size_t row_bytes, int n) {
    const int blocks = n / QK4_0;
    for (int h = 0; h < n_q; h += 2) {
        float *o = out + (size_t)h * n;
        const float *wh = w + (size_t)h * stride;
        for (int b = 0; b < blocks; b += QUAD) {
            const int nb = blocks - b < QUAD ? blocks - b : QUAD;
            if (h + 1 < n_q) add_quad_of(o, wh, stride, true, nb, n_rows, rows, row_bytes, n, b);   // a constant `two`
            else add_quad_of(o, wh, stride, false, nb, n_rows, rows, row_bytes, n, b);
        }
    }
}

const KVRowKernels kv_q4_kernels_avx512 = {"avx512", dot_q4_avx512, dots_q4_avx512, add_q4_avx512};
#endif
