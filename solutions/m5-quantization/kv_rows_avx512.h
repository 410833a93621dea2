// What the AVX-512 key and value kernels of the 8- and 4-bit caches share (kv_q8_avx512.c,
// kv_q4_avx512.c): 16 rows' scales of 4 blocks, and 16 rows at one stride. Both formats keep a
// row's f16 scales side by side at its start (kv_q8.h, kv_q4.h). For x86-64 with gcc or clang only.
#ifndef PS_KV_ROWS_AVX512_H
#define PS_KV_ROWS_AVX512_H

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "scratch.h"

#define KV_ROWS_AVX512_INLINE                                                                                    \
    __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"), always_inline)) static inline

// Blocks b .. b+3's scales of rows 0 .. 15 (row_bytes apart; those past n_rows repeat the last
// row), as 4 vectors of 16 floats, q_f16_at's values: lane r of d[k] is row r's block b+k. A row
// keeps its scales side by side (kv_q4.h, kv_q8.h), so one 8-byte lane of a gather brings four of
// a row's: two gathers of 8 rows each, then per two blocks one permute of words from the two. With
// the weights' layout, a scale per 18 (or 34) bytes, it took a gather of 16 lanes per block; on
// our AMD VM four of those cost 30 ns where this costs 7 (16 rows, in L1). Past a row's last block
// the 8 bytes are its first quants: read, never used, and still inside the row.
KV_ROWS_AVX512_INLINE void kv_scales16x4_avx512(__m512 d[4], const void *rows, size_t row_bytes, int n_rows, int b) {
    const __m512i last = _mm512_set1_epi64(n_rows - 1), bytes = _mm512_set1_epi64((long long)row_bytes);
    const __m512i first8 = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    const __m512i next8 = _mm512_add_epi64(first8, _mm512_set1_epi64(8));
    // row x row_bytes, both below 2^32: vpmuludq multiplies the low 32 bits of each 64-bit lane
    const __m512i at0 = _mm512_mul_epu32(_mm512_min_epi64(first8, last), bytes),
                  at1 = _mm512_mul_epu32(_mm512_min_epi64(next8, last), bytes);
    const char *base = (const char *)rows + 2 * b;
    const __m512i g0 = _mm512_i64gather_epi64(at0, base, 1), g1 = _mm512_i64gather_epi64(at1, base, 1);
    // Word r of `low` (r < 16): row r's first scale, word 4r of g0 for r < 8 and word 4(r - 8) of g1
    // (the permute's index 32 and up) after; words 16 .. 31, the rows' second scales. Then the
    // same 2 words further on for the third and fourth: two permutes, each two blocks' scales.
    const __m512i words = _mm512_setr_epi32(0x00040000, 0x000c0008, 0x00140010, 0x001c0018, 0x00240020, 0x002c0028,
                                            0x00340030, 0x003c0038, 0x00050001, 0x000d0009, 0x00150011, 0x001d0019,
                                            0x00250021, 0x002d0029, 0x00350031, 0x003d0039);
    const __m512i low = _mm512_permutex2var_epi16(g0, words, g1),
                  high = _mm512_permutex2var_epi16(g0, _mm512_add_epi16(words, _mm512_set1_epi16(2)), g1);
    d[0] = _mm512_cvtph_ps(_mm512_castsi512_si256(low)), d[1] = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(low, 1));
    d[2] = _mm512_cvtph_ps(_mm512_castsi512_si256(high)), d[3] = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(high, 1));
}

// 16 rows of `bytes` each, *row_bytes apart: `rows` as given when there are 16 (n_rows), else a
// copy (this thread's, until its next call) of the n_rows, the last repeated up to 16, and
// *row_bytes becomes `bytes`. So a key kernel reads its 16 rows as one base and one stride, each
// address inside its load instruction: with 16 row pointers gcc ran out of registers and moved
// them back from vector registers, on Intel through the port that runs every vpdpbusd.
static inline const void *kv_rows16(const void *rows, size_t *row_bytes, int n_rows, size_t bytes) {
    if (n_rows >= 16) return rows;
    static _Thread_local Scratch copy;
    char *c = scratch_reserve(&copy, 16 * bytes);
    for (int r = 0; r < 16; r++) {
        const int from = r < n_rows ? r : n_rows - 1;
        memcpy(c + (size_t)r * bytes, (const char *)rows + (size_t)from * *row_bytes, bytes);
    }
    *row_bytes = bytes;
    return c;
}
#endif

#endif
