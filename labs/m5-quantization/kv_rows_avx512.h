// Your lab's contract, copied by tools/mkskel from solutions/m5-quantization/kv_rows_avx512.h (do not edit: make skeletons rewrites it).
// What the AVX-512 key and value kernels of the 8- and 4-bit caches share (kv_q8_avx512.c,
// kv_q4_avx512.c): 16 rows at one stride, and 16 rows' block scales as one vector for rows of
// BlockQ8_0, which begin each block with its f16 scale (quant_blocks.h; a 4-bit row keeps its
// scales together, kv_q4.h, and kv_q4_avx512.c reads them its own way). For x86-64 with gcc or
// clang only.
#ifndef PS_KV_ROWS_AVX512_H
#define PS_KV_ROWS_AVX512_H

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "scratch.h"

#define KV_ROWS_AVX512_INLINE                                                                                    \
    __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"), always_inline)) static inline

// Block b's scales (block_bytes apart, each the first 2 bytes of its block) of rows 0 .. 15, those
// past n_rows repeating the last row, as 16 floats (the plain q_f16_at's values). One gather, each
// lane reading 4 bytes at its row's block: the scale and 2 bytes of quants. Not 16 two-byte
// stores into a buffer read back as one vector: a load that spans several stores waits for them
// to reach the cache (no one store covers it, so none is forwarded to it), once per block; it was
// a third of the 4-bit key kernel's time.
KV_ROWS_AVX512_INLINE __m512 kv_scales16_avx512(const void *rows, size_t row_bytes, int n_rows, int b, int block_bytes) {
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i row = _mm512_min_epi32(lane, _mm512_set1_epi32(n_rows - 1));
    const __m512i at = _mm512_add_epi32(_mm512_mullo_epi32(row, _mm512_set1_epi32((int)row_bytes)),
                                        _mm512_set1_epi32(b * block_bytes));
    const __m512i raw = _mm512_i32gather_epi32(at, rows, 1);
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(raw));   // the low 16 bits: the scale
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
