// The q4_0 cache's row kernels for x86-64 with AVX2, FMA and F16C (kv_q4.h); kv_q4.c chooses
// them by the CPU. Compiled on every machine: elsewhere the file is empty.
//
// A block's 16 bytes of nibbles (kv_q4.h: after the row's scales) hold values 0..15 in their low
// nibbles and 16..31 in their high ones, so one 16-byte load, a shift and a mask give all 32 as
// unsigned bytes 0..15 in value order.
//
// Keys: 8 rows in the 8 lanes of a register, as the AVX-512 set's 16 (kv_q4_avx512.c): per
// block the rows' bytes are transposed (lane r of register k: bytes 4k .. 4k+3 of row r), and
// vpmaddubsw multiplies the unsigned nibbles by the head's 4 matching query bytes broadcast (the
// q8_0 kernels need vpsignb to make one side unsigned; a nibble already is). The offset of 8
// comes off as 8 x the query block's sum (kv_q8_prepared_x86): the same integer as
// sum(q8 x (k4 - 8)). A lane's terms (dq x dk) x sum are one row's, added in the plain C's order:
// its bits. Measured (28 layers, 4,096 positions, one thread, keys alone): 10.6 ms a token with
// 4 rows at a time, each row's 8 lanes added across by vphaddd after its products; 8.4 so.
//
// Values: a block's nibbles less 8 are widened to f32, 8 at a time (vpmovsxbd, vcvtdq2ps), and
// multiplied-added with the weight times the block's scale, two query heads at a time, each block
// widened once for both (as the q8_0 kernels): within float rounding of the plain C, not bit for
// bit (fused multiply-adds).
#include "kv_q4.h"

#if KV_Q4_X86
#include <immintrin.h>
#include <string.h>

#include "kv_values_avx2.h"
#include "quant.h"

#define X86_TARGET __attribute__((target("avx2,fma,f16c")))
#define ROW(j) ((const void *)((const char *)rows + (j) * row_bytes))

// ---- keys ----

#define LANES 8   // rows of one key register, one per lane

// Block b's 16 bytes of nibbles of rows r and r+4 (rows of n values), one row per 128-bit half.
X86_TARGET static inline __m256i two_rows(const void *const *row, int r, int n, int b) {
    const __m256i z = _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)kv_q4_nibbles_at(row[r], n, b)));
    return _mm256_inserti128_si256(z, _mm_loadu_si128((const __m128i *)kv_q4_nibbles_at(row[r + 4], n, b)), 1);
}

// A row's 8 bytes from its block b's scale on: the scales of blocks b .. b+3 (kv_q4.h; past the
// row's last block, its first nibbles, read but never used).
X86_TARGET static inline __m128i four_scales(const void *row, int b) {
    return _mm_loadl_epi64((const __m128i *)kv_q4_scale_at(row, b));
}

// Blocks b .. b+3's scales of the 8 rows as 4 vectors of 8 floats (q_f16_at's values exactly):
// lane r of d[k] is row r's block b+k. Each row's four scales in one 8-byte load, then a
// transpose of 16-bit words (12 unpacks for 4 blocks). It had been 8 two-byte stores into a
// buffer read back as one vector, per block: a load that spans several stores waits until they
// reach the L1 cache (no single store holds all its bytes to forward), and perf put a third of
// the key kernel's samples there.
X86_TARGET static inline void scales8x4(__m256 d[4], const void *const *row, int b) {
    const __m128i r01 = _mm_unpacklo_epi16(four_scales(row[0], b), four_scales(row[1], b)),
                  r23 = _mm_unpacklo_epi16(four_scales(row[2], b), four_scales(row[3], b)),
                  r45 = _mm_unpacklo_epi16(four_scales(row[4], b), four_scales(row[5], b)),
                  r67 = _mm_unpacklo_epi16(four_scales(row[6], b), four_scales(row[7], b));
    // rows 0-3's scales of blocks b, b+1 (low) and b+2, b+3 (high); the same for rows 4-7
    const __m128i a01 = _mm_unpacklo_epi32(r01, r23), a23 = _mm_unpackhi_epi32(r01, r23),
                  c01 = _mm_unpacklo_epi32(r45, r67), c23 = _mm_unpackhi_epi32(r45, r67);
    d[0] = _mm256_cvtph_ps(_mm_unpacklo_epi64(a01, c01)), d[1] = _mm256_cvtph_ps(_mm_unpackhi_epi64(a01, c01));
    d[2] = _mm256_cvtph_ps(_mm_unpacklo_epi64(a23, c23)), d[3] = _mm256_cvtph_ps(_mm_unpackhi_epi64(a23, c23));
}

// Query bytes i .. i+3 of a block, broadcast.
X86_TARGET static inline __m256i quad(const KVQ8Query *q, int i) {
    int32_t v;
    memcpy(&v, q->qs + i, sizeof v);
    return _mm256_set1_epi32(v);
}

// The 8 rows' term of one block for one head, added to their running sums as the plain C adds
// it: (dq x dk) x the exact sum, two products rounded in turn, then the add. lo[k] and hi[k] are
// the rows' nibbles of values 4k .. 4k+3 and 16+4k .. 16+4k+3. vpmaddubsw gives each lane two
// int16 sums of two products (at most 2 x 15 x 127 = 3,810); the 8 registers' sums add in int16
// (at most 8 x 3,810 = 30,480: no overflow), and one vpmaddwd by ones makes each lane's int32.
X86_TARGET static inline __m256 add_block_terms(__m256 acc, const KVQ8Query *q, int32_t qsum, __m256 dk, __m256i lo0,
                                                __m256i lo1, __m256i lo2, __m256i lo3, __m256i hi0, __m256i hi1,
                                                __m256i hi2, __m256i hi3) {
    __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo0, quad(q, 0)), _mm256_maddubs_epi16(hi0, quad(q, 16)));
    p = _mm256_add_epi16(p, _mm256_add_epi16(_mm256_maddubs_epi16(lo1, quad(q, 4)), _mm256_maddubs_epi16(hi1, quad(q, 20))));
    p = _mm256_add_epi16(p, _mm256_add_epi16(_mm256_maddubs_epi16(lo2, quad(q, 8)), _mm256_maddubs_epi16(hi2, quad(q, 24))));
    p = _mm256_add_epi16(p, _mm256_add_epi16(_mm256_maddubs_epi16(lo3, quad(q, 12)), _mm256_maddubs_epi16(hi3, quad(q, 28))));
    const __m256i sum = _mm256_sub_epi32(_mm256_madd_epi16(p, _mm256_set1_epi16(1)), _mm256_set1_epi32(8 * qsum));
    const __m256 d = _mm256_mul_ps(_mm256_set1_ps(q->d), dk);
    const __m256 term = _mm256_mul_ps(d, _mm256_cvtepi32_ps(sum));
    return _mm256_add_ps(acc, term);
}

// Rows 0 .. n_rows-1 (at most 8) against the prepared head q (and q1 when two heads): scores[j]
// and scores[stride + j]. Lanes past n_rows repeat the last row (read, never stored), so the
// loads stay inside the rows given.
X86_TARGET static void dots8_q4_avx2(float *scores, int stride, const KVQ8Query *q, const int32_t *qsum,
                                     const KVQ8Query *q1, const int32_t *qsum1, int n_rows, const void *rows,
                                     size_t row_bytes, int n) {
    const void *row[LANES];
    for (int r = 0; r < LANES; r++) row[r] = ROW(r < n_rows ? r : n_rows - 1);
    const __m256i low_nibbles = _mm256_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps(), acc1 = acc, dk[4];
    for (int b = 0; b < n / QK4_0; b++) {
        if (b % 4 == 0) scales8x4(dk, row, b);
        const __m256i z0 = two_rows(row, 0, n, b), z1 = two_rows(row, 1, n, b), z2 = two_rows(row, 2, n, b),
                      z3 = two_rows(row, 3, n, b);
        // A 4 x 4 transpose of int32 per 128-bit half: c_k's lane r holds bytes 4k .. 4k+3 of row r.
        const __m256i a0 = _mm256_unpacklo_epi32(z0, z1), a1 = _mm256_unpackhi_epi32(z0, z1),
                      a2 = _mm256_unpacklo_epi32(z2, z3), a3 = _mm256_unpackhi_epi32(z2, z3);
        const __m256i c0 = _mm256_unpacklo_epi64(a0, a2), c1 = _mm256_unpackhi_epi64(a0, a2),
                      c2 = _mm256_unpacklo_epi64(a1, a3), c3 = _mm256_unpackhi_epi64(a1, a3);
        const __m256i lo0 = _mm256_and_si256(c0, low_nibbles), hi0 = _mm256_and_si256(_mm256_srli_epi32(c0, 4), low_nibbles);
        const __m256i lo1 = _mm256_and_si256(c1, low_nibbles), hi1 = _mm256_and_si256(_mm256_srli_epi32(c1, 4), low_nibbles);
        const __m256i lo2 = _mm256_and_si256(c2, low_nibbles), hi2 = _mm256_and_si256(_mm256_srli_epi32(c2, 4), low_nibbles);
        const __m256i lo3 = _mm256_and_si256(c3, low_nibbles), hi3 = _mm256_and_si256(_mm256_srli_epi32(c3, 4), low_nibbles);
        acc = add_block_terms(acc, &q[b], qsum[b], dk[b % 4], lo0, lo1, lo2, lo3, hi0, hi1, hi2, hi3);
        if (q1) acc1 = add_block_terms(acc1, &q1[b], qsum1[b], dk[b % 4], lo0, lo1, lo2, lo3, hi0, hi1, hi2, hi3);
    }
    float out[LANES], out1[LANES];
    _mm256_storeu_ps(out, acc), _mm256_storeu_ps(out1, acc1);
    memcpy(scores, out, (size_t)n_rows * sizeof *out);
    if (q1) memcpy(scores + stride, out1, (size_t)n_rows * sizeof *out1);
}

X86_TARGET static inline float scale_of(const uint8_t *d) {
    uint16_t h;
    memcpy(&h, d, sizeof h);   // little-endian, as x86 is
    return _cvtsh_ss(h);
}

// The heads prepared once (kv_q8_prepared_x86: kept while the next call brings the same values);
// 8 rows at a time, two heads at a time (a last odd head alone).
X86_TARGET static void dots_q4_avx2(float *scores, int stride, const float *q, int n_q, int n_rows, const void *rows,
                                    size_t row_bytes, int n) {
    kv_q8_dots_by_lanes_x86(dots8_q4_avx2, LANES, scores, stride, q, n_q, n_rows, rows, row_bytes, n);
}

X86_TARGET static float dot_q4_avx2(const float *q, const void *row, int n) {
    float score;
    dots_q4_avx2(&score, 1, q, 1, 1, row, 0, n);
    return score;
}

// ---- values ----

// A block's 32 values q - 8 (its 16 bytes of nibbles at B) as 4 registers of 8 floats (values 0..7,
// 8..15, 16..23, 24..31), in named variables: gcc -O2 kept arrays of registers in memory (a store
// and a load around every multiply-add, half the speed; the q8_0 kernels' finding).
#define WIDEN_Q4(B, X0, X1, X2, X3)                                                                      \
    const __m128i X0##_packed = _mm_loadu_si128((const __m128i *)(B));                                   \
    const __m128i X0##_lo = _mm_sub_epi8(_mm_and_si128(X0##_packed, _mm_set1_epi8(0x0f)), _mm_set1_epi8(8)); \
    const __m128i X0##_hi =                                                                              \
        _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(X0##_packed, 4), _mm_set1_epi8(0x0f)), _mm_set1_epi8(8)); \
    const __m256 X0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(X0##_lo));                                 \
    const __m256 X1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(X0##_lo, X0##_lo)));    \
    const __m256 X2 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(X0##_hi));                                 \
    const __m256 X3 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(X0##_hi, X0##_hi)))

#define KV_BLOCK(row, b) kv_q4_nibbles_at(row, n, b)
#define KV_SCALE(row, b) scale_of(kv_q4_scale_at(row, b))
KV_VALUES_AVX2(q4_avx2, WIDEN_Q4)

const KVRowKernels kv_q4_kernels_avx2 = {"avx2", dot_q4_avx2, dots_q4_avx2, add_q4_avx2};

// ---- the row store ----

// quantize_row_q4_0's block from 32 finite values, its steps in the same float operations: the
// first value of the largest magnitude (0 when all are zero) / -8 is d, and each q is
// (int)(x x (1 / d) + 8.5), at most 15. 112 -> 17 us per token of Qwen3-0.6B (store_q4 over 56
// rows of 1,024 values, best of 50, our AVX-512 VM), on the one thread that writes the cache.
X86_TARGET static void store_block_avx2(uint8_t *d_at, uint8_t *nibbles, const float *x) {
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
    memcpy(d_at, &h, sizeof h);   // little-endian, as x86 is
    const __m256 scale = _mm256_set1_ps(id), half = _mm256_set1_ps(8.5f);
    const __m256i fifteen = _mm256_set1_epi32(15);
#define Q_OF(V) _mm256_min_epi32(_mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(V, scale), half)), fifteen)
    // values j (low nibble) and j + 16 (high nibble) of byte j, as int32
    const __m256i c0 = _mm256_or_si256(Q_OF(v0), _mm256_slli_epi32(Q_OF(v2), 4)),
                  c1 = _mm256_or_si256(Q_OF(v1), _mm256_slli_epi32(Q_OF(v3), 4));
#undef Q_OF
    // int32 -> int16 (vpackssdw works within 128-bit halves: 0xd8 puts the quarters in order) -> bytes
    const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(c0, c1), 0xd8);
    _mm_storeu_si128((__m128i *)nibbles, _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1)));
}

X86_TARGET bool kv_q4_store_avx2(void *row, const float *x, int n) {
    const __m256 exponent = _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000));
    __m256 bad = _mm256_setzero_ps();   // lanes where a value's exponent bits are all ones
    for (int i = 0; i < n; i += 8)
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), exponent), exponent, _CMP_EQ_OQ));
    if (_mm256_movemask_ps(bad)) return false;
    for (int b = 0; b < n / QK4_0; b++)
        store_block_avx2((uint8_t *)kv_q4_scale_at(row, b), (uint8_t *)kv_q4_nibbles_at(row, n, b), x + b * QK4_0);
    return true;
}
#endif
