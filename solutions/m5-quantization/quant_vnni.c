// A prompt's quantized products with AVX-512 VNNI (x86-64): tiles of weight rows x 16 tokens that
// give your plain kernels' bits, chosen by quant_simd.c when a product has enough tokens.
//
// The idea is the AVX2 tiles' (quant_avx2.c, quant_avx2_gemm), twice as wide: tokens in lanes.
// A 64-byte register holds 4 quants of each of 16 tokens (TokenBlock16, quant_simd.h); 4 weights
// of a row are broadcast to all 16 lanes, and one vpdpbusd multiplies them by every token's 4
// quants and adds the 4 products into that token's own 32-bit lane. After a block's 8 (Q8_0) or
// 2 x 4 (4-bit) vpdpbusd, lane t holds the exact integer sum of (row, token t) for that block: no
// horizontal sum, and each lane then runs the plain kernel's float expression, block after block,
// with separate multiplies and adds (no FMA), as quant_dot.c computes it. The lanes add in
// parallel, the blocks of one lane never do: so the sums are your kernels' bits, not just close.
//
// vpdpbusd multiplies unsigned bytes by signed ones. The 4-bit weights are unsigned already (0..15)
// and the activations signed; Q4_0's stored q + 8 is taken back by starting each lane at
// -8 * sum_x (the token's, prepared once). Q8_0's weights and activations are both signed, so the
// activations are prepared as q_x + 128 (1..255) and the signed weights take the other side:
// sum (q_x + 128) q_w = sum q_x q_w + 128 sum q_w, and each lane starts at -128 * sum q_w (the
// row's, computed once per panel of rows). Integer sums are exact, so the order does not matter.
//
// Why 16 tokens in one register, not two TokenBlock8 groups side by side: one 64-byte load gives
// the 16 tokens' quants, where two 32-byte halves need a shuffle to join (and Intel cores have one
// port for shuffles, which the broadcasts of the weights would share).
#include "quant_simd.h"
#include "scratch.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

// The tiles' sizes, measured on the 16-core Xeon (book/m5-quantization.md, "VNNI tiles"); -D
// on the compiler's command line overrides them, which is how the candidates were timed.
#ifndef VNNI_ROWS
#define VNNI_ROWS 4            // R: weight rows of a register tile
#endif
#ifndef VNNI_GROUPS
#define VNNI_GROUPS 2          // G: groups of 16 tokens of a register tile
#endif
#ifndef VNNI_PANEL_BYTES
#define VNNI_PANEL_BYTES (256 * 1024)   // rows whose bytes stay in L2 while every token passes over them
#endif
#ifndef VNNI_TOKEN_BYTES
#define VNNI_TOKEN_BYTES (32 * 1024)    // TokenBlock16s that stay in L1 while every row of a panel passes
#endif
#ifndef VNNI_CHUNK_BLOCKS
#define VNNI_CHUNK_BLOCKS 16   // blocks of a row per pass over the tokens (0: the whole row)
#endif

// ---- the activations: prepared once per product, token by token, then interleaved per thread ----
//
// quant_matmul's threads prepare a prompt's tokens in parallel, each thread a run of tokens. If
// each wrote its tokens straight into their lanes of the TokenBlock16s, two threads would write
// into the same 64-byte lines (16 tokens share each one) and the lines would bounce between their
// caches: measured, 16 threads were no faster than one on 16 tokens. So a token is prepared
// into records of its own (TokenStage, the quants already as vpdpbusd wants them), and each
// thread that multiplies interleaves them into its own TokenBlock16s with gathers: a few
// microseconds per product, a few percent of its time, against the bouncing of every line.
typedef struct {
    uint8_t q[32];   // the block's quants in the order of the weights (Q4A: even, then odd), int8 bits; Q8_0: + 128
    float d;
    int32_t start;   // Q4_0: -8 * sum_x; otherwise 0
    float sum;       // (float)sum_x
} TokenStage;

size_t quant_vnni_bytes(int cols, int n_tokens) { return (size_t)n_tokens * (size_t)(cols / 32) * sizeof(TokenStage); }

// Token t's blocks into its TokenStage records (plain C: once per token and product).
void quant_vnni_prepare(DType type, const QuantAct *x, int cols, int t, int n_tokens, void *prepared) {
    (void)n_tokens;
    const int blocks = cols / 32;
    TokenStage *st = (TokenStage *)prepared + (size_t)t * blocks;
    for (int k = 0; k < blocks; k++) {
        for (int j = 0; j < 32; j++) {
            const int from = type == DT_Q4A ? (j < 16 ? 2 * j : 2 * (j - 16) + 1) : j;
            const int v = x[k].qs[from], narrow = v > 127 ? 127 : v < -128 ? -128 : v;   // as the AVX2 tiles
            st[k].q[j] = (uint8_t)(type == DT_Q8_0 ? narrow + 128 : narrow);
        }
        st[k].d = x[k].d;
        st[k].start = type == DT_Q4_0 ? -8 * x[k].sum : 0;
        st[k].sum = (float)x[k].sum;
    }
}

#if PS_SIMD_AVX2   // x86-64 with gcc or clang; run only where quant_vnni_supported()
#include <immintrin.h>

// Nothing more than quant_avx512_supported() checks. For clang this target includes FMA, but the
// float half below must not be fused into multiply-adds: gcc in ISO C mode (-std=c11) never
// contracts; clang contracts only within one expression, and each intrinsic is its own, but say
// so anyway (objdump -d of this file's object shows no vfmadd from either compiler).
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define VNNI_INLINE VNNI __attribute__((always_inline)) static inline
#if defined(__clang__)
#pragma clang fp contract(off)
#define UNROLL _Pragma("unroll")
#else
#define UNROLL _Pragma("GCC unroll 8")
#endif

bool quant_vnni_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

static inline int dword_at(const uint8_t *p) {
    int v;
    memcpy(&v, p, sizeof v);
    return v;
}

// Sixteen halves -> floats, exactly as q_f16_to_f32 (quant.h) computes them: the 15 bits of
// exponent and mantissa moved to a float's place, times 2^112, the sign put back; infinities and
// NaN kept as they are (vcvtph2ps would quiet a signalling NaN). quant_avx2.c's f16x8_avx2 is its
// 8-lane twin: intrinsics name their vector width, so the two cannot share one body.
VNNI_INLINE __m512 f16x16(__m256i halves) {
    const __m512i h = _mm512_cvtepu16_epi32(halves);
    const __m512i sign = _mm512_slli_epi32(_mm512_and_si512(h, _mm512_set1_epi32(0x8000)), 16);
    const __m512i rest = _mm512_and_si512(h, _mm512_set1_epi32(0x7fff));
    __m512 f = _mm512_mul_ps(_mm512_castsi512_ps(_mm512_slli_epi32(rest, 13)), _mm512_set1_ps(0x1p112f));
    const __mmask16 special = _mm512_cmpgt_epi32_mask(rest, _mm512_set1_epi32(0x7bff));   // infinity or NaN
    const __m512i inf_nan = _mm512_or_si512(_mm512_set1_epi32(0x7f800000),
                                            _mm512_slli_epi32(_mm512_and_si512(rest, _mm512_set1_epi32(0x3ff)), 13));
    f = _mm512_mask_mov_ps(f, special, _mm512_castsi512_ps(inf_nan));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(f), sign));   // f >= 0: -f is f with the sign bit
}

// The TokenBlock16s of n_tokens tokens from their TokenStage records: group g's block k (tiles +
// g * blocks + k) gathers dword s of the 16 tokens' records into q[s], and so on. The lanes after
// the last token are zeros (padding: computed, never stored).
VNNI static void interleave(const TokenStage *stage, int blocks, int n_tokens, TokenBlock16 *tiles) {
    const __m512i lane_offset = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                                   _mm512_set1_epi32(blocks * (int)sizeof(TokenStage)));
    const __m512i zero = _mm512_setzero_si512();
    for (int g = 0; g * VNNI_TOKENS < n_tokens; g++) {
        const int present = n_tokens - g * VNNI_TOKENS < VNNI_TOKENS ? n_tokens - g * VNNI_TOKENS : VNNI_TOKENS;
        const __mmask16 m = (__mmask16)((1u << present) - 1);
        for (int k = 0; k < blocks; k++) {
            const uint8_t *first = (const uint8_t *)(stage + ((size_t)g * VNNI_TOKENS * blocks + k));
            TokenBlock16 *b = &tiles[(size_t)g * blocks + k];
            UNROLL for (int s = 0; s < 8; s++)
                _mm512_storeu_si512(b->q[s], _mm512_mask_i32gather_epi32(zero, m, lane_offset, first + 4 * s, 1));
            _mm512_storeu_si512(b->d, _mm512_mask_i32gather_epi32(zero, m, lane_offset, first + offsetof(TokenStage, d), 1));
            _mm512_storeu_si512(b->start, _mm512_mask_i32gather_epi32(zero, m, lane_offset, first + offsetof(TokenStage, start), 1));
            _mm512_storeu_si512(b->sum, _mm512_mask_i32gather_epi32(zero, m, lane_offset, first + offsetof(TokenStage, sum), 1));
        }
    }
}

static inline uint16_t half_at(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

// What a panel of rows needs besides its quants, per (row, block), once per panel: the scale as
// q_f16_at gives it (so exactly your kernel's), Q4A's bias, and Q8_0's lane start -128 * sum q_w.
// Vector code: in plain C this took a sixth of a Q8_0 prompt's time.
VNNI static void panel_rows(DType type, const uint8_t *w, size_t row_bytes, int n, int blocks, float *scale,
                            float *bias, int32_t *start) {
    for (int r = 0; r < n; r++, w += row_bytes, scale += blocks, bias += blocks, start += blocks) {
        for (int k0 = 0; k0 < blocks; k0 += 16) {   // 16 blocks' halves at a time
            const int m = blocks - k0 < 16 ? blocks - k0 : 16;
            const __mmask16 valid = (__mmask16)((1u << m) - 1);
            uint16_t hs[16] = {0}, hb[16] = {0};
            for (int i = 0; i < m; i++) {
                const int k = k0 + i;
                if (type == DT_Q4A) hs[i] = half_at(((const BlockQ4A *)w + k / 2)->scale), hb[i] = half_at(((const BlockQ4A *)w + k / 2)->bias);
                else hs[i] = half_at(w + (size_t)k * quant_block_bytes(type));
            }
            _mm512_mask_storeu_ps(scale + k0, valid, f16x16(_mm256_loadu_si256((const __m256i *)hs)));
            if (type == DT_Q4A) _mm512_mask_storeu_ps(bias + k0, valid, f16x16(_mm256_loadu_si256((const __m256i *)hb)));
        }
        if (type == DT_Q8_0)
            for (int k = 0; k < blocks; k++) {   // sum q_w = sum (q_w + 128) - 32 * 128, by sums of absolute differences from 0
                const __m256i q = _mm256_loadu_si256((const __m256i *)((const BlockQ8_0 *)w + k)->qs);
                const __m256i sums = _mm256_sad_epu8(_mm256_xor_si256(q, _mm256_set1_epi8((char)0x80)), _mm256_setzero_si256());
                __m128i t = _mm_add_epi64(_mm256_castsi256_si128(sums), _mm256_extracti128_si256(sums, 1));
                t = _mm_add_epi64(t, _mm_unpackhi_epi64(t, t));
                start[k] = -128 * (_mm_cvtsi128_si32(t) - 32 * 128);
            }
    }
}

// One register tile: R rows from w times G groups of 16 tokens, blocks [k0, k0 + n) of the rows.
typedef struct {
    const uint8_t *w;            // the tile's first row (block 0)
    size_t row_bytes;
    const float *scale, *bias;   // per (row, block) from panel_rows, the tile's first row; row stride `blocks`
    const int32_t *start;
    const TokenBlock16 *x;       // the tile's first group (block 0); group stride `blocks`
    int blocks, k0, n;
    float *acc;                  // the running sums: (row i, group j) at acc + i * acc_stride + 16 j
    size_t acc_stride;
} Tile;

VNNI_INLINE void tile_vnni(DType type, const Tile *p, const int R, const int G) {
    const __m512i low_nibbles = _mm512_set1_epi8(0x0f);
    __m512 acc[VNNI_ROWS][VNNI_GROUPS];
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int g = 0; g < G; g++)
        acc[r][g] = _mm512_loadu_ps(p->acc + r * p->acc_stride + 16 * g);
    for (int k = p->k0; k < p->k0 + p->n; k++) {
        const TokenBlock16 *xb[VNNI_GROUPS];
        UNROLL for (int g = 0; g < G; g++) xb[g] = p->x + (size_t)g * p->blocks + k;
        __m512i isum[VNNI_ROWS][VNNI_GROUPS];   // each lane starts at its integer correction
        UNROLL for (int r = 0; r < R; r++) UNROLL for (int g = 0; g < G; g++)
            isum[r][g] = type == DT_Q8_0   ? _mm512_set1_epi32(p->start[(size_t)r * p->blocks + k])
                         : type == DT_Q4_0 ? _mm512_loadu_si512(xb[g]->start)
                                           : _mm512_setzero_si512();
        if (type == DT_Q8_0) {   // (q_x + 128) times q_w: 4 weights of a row, broadcast, per step
            UNROLL for (int s = 0; s < 8; s++) {
                __m512i wq[VNNI_ROWS];
                UNROLL for (int r = 0; r < R; r++)
                    wq[r] = _mm512_set1_epi32(dword_at(p->w + r * p->row_bytes + (size_t)k * sizeof(BlockQ8_0) + 2 + 4 * s));
                UNROLL for (int g = 0; g < G; g++) {
                    const __m512i x = _mm512_loadu_si512(xb[g]->q[s]);
                    UNROLL for (int r = 0; r < R; r++) isum[r][g] = _mm512_dpbusd_epi32(isum[r][g], x, wq[r]);
                }
            }
        } else {   // nibbles times q_x: 4 bytes of the block = weights 4m.. (low) and 16 + 4m.. (high)
            UNROLL for (int m = 0; m < 4; m++) {
                __m512i lo[VNNI_ROWS], hi[VNNI_ROWS];
                UNROLL for (int r = 0; r < R; r++) {
                    const uint8_t *row = p->w + r * p->row_bytes;
                    const uint8_t *qs = type == DT_Q4_0 ? ((const BlockQ4_0 *)row + k)->qs
                                                        : ((const BlockQ4A *)row + k / 2)->qs + 16 * (k % 2);
                    const __m512i v = _mm512_set1_epi32(dword_at(qs + 4 * m));
                    lo[r] = _mm512_and_si512(v, low_nibbles);
                    hi[r] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low_nibbles);
                }
                UNROLL for (int g = 0; g < G; g++) {
                    const __m512i x_lo = _mm512_loadu_si512(xb[g]->q[m]), x_hi = _mm512_loadu_si512(xb[g]->q[m + 4]);
                    UNROLL for (int r = 0; r < R; r++)
                        isum[r][g] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(isum[r][g], lo[r], x_lo), hi[r], x_hi);
                }
            }
        }
        // The float half, in lanes: the plain kernels' expressions term for term.
        UNROLL for (int g = 0; g < G; g++) {
            const __m512 dx = _mm512_loadu_ps(xb[g]->d);
            UNROLL for (int r = 0; r < R; r++) {
                const __m512 s = _mm512_set1_ps(p->scale[(size_t)r * p->blocks + k]);
                if (type == DT_Q4A) {   // sum += d_x * (scale * isum + bias * sum_x)
                    const __m512 b = _mm512_set1_ps(p->bias[(size_t)r * p->blocks + k]);
                    const __m512 inner = _mm512_add_ps(_mm512_mul_ps(s, _mm512_cvtepi32_ps(isum[r][g])),
                                                       _mm512_mul_ps(b, _mm512_loadu_ps(xb[g]->sum)));
                    acc[r][g] = _mm512_add_ps(acc[r][g], _mm512_mul_ps(dx, inner));
                } else {   // sum += d_w * d_x * isum
                    acc[r][g] = _mm512_add_ps(acc[r][g], _mm512_mul_ps(_mm512_mul_ps(s, dx), _mm512_cvtepi32_ps(isum[r][g])));
                }
            }
        }
    }
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int g = 0; g < G; g++)
        _mm512_storeu_ps(p->acc + r * p->acc_stride + 16 * g, acc[r][g]);
}

// One function per format and tile shape, so that both are constants inside: the full R x G
// tile, and the edges (the last rows of a panel one at a time, the last groups one at a time).
typedef void (*TileFn)(const Tile *p);
#define TILE_FN(name, type, R, G) \
    VNNI static void name(const Tile *p) { tile_vnni(type, p, R, G); }
TILE_FN(q8_0_full, DT_Q8_0, VNNI_ROWS, VNNI_GROUPS) TILE_FN(q8_0_rows, DT_Q8_0, VNNI_ROWS, 1)
TILE_FN(q8_0_groups, DT_Q8_0, 1, VNNI_GROUPS) TILE_FN(q8_0_one, DT_Q8_0, 1, 1)
TILE_FN(q4_0_full, DT_Q4_0, VNNI_ROWS, VNNI_GROUPS) TILE_FN(q4_0_rows, DT_Q4_0, VNNI_ROWS, 1)
TILE_FN(q4_0_groups, DT_Q4_0, 1, VNNI_GROUPS) TILE_FN(q4_0_one, DT_Q4_0, 1, 1)
TILE_FN(q4a_full, DT_Q4A, VNNI_ROWS, VNNI_GROUPS) TILE_FN(q4a_rows, DT_Q4A, VNNI_ROWS, 1)
TILE_FN(q4a_groups, DT_Q4A, 1, VNNI_GROUPS) TILE_FN(q4a_one, DT_Q4A, 1, 1)
#undef TILE_FN

// [format][whole R rows?][whole G groups?]
static const TileFn TILES[3][2][2] = {
    {{q8_0_one, q8_0_groups}, {q8_0_rows, q8_0_full}},
    {{q4_0_one, q4_0_groups}, {q4_0_rows, q4_0_full}},
    {{q4a_one, q4a_groups}, {q4a_rows, q4a_full}},
};

static int at_least(int v, int min) { return v < min ? min : v; }

// Cache blocking: a panel of rows stays in L2 while the prompt's tokens pass over it, in blocks of
// groups that each stay in L1 while every row of the panel passes over them (and, with
// VNNI_CHUNK_BLOCKS, a part of the rows at a time: the running sums wait in acc, in order). The
// weights come from DRAM once per product.
void quant_vnni_gemm(DType type, const uint8_t *w, int rows, int cols, const void *prepared, int n_tokens,
                     int row_begin, int row_end, float *out) {
    const int blocks = cols / 32, groups = (n_tokens + VNNI_TOKENS - 1) / VNNI_TOKENS;
    const int chunk = VNNI_CHUNK_BLOCKS > 0 && VNNI_CHUNK_BLOCKS < blocks ? VNNI_CHUNK_BLOCKS : blocks;
    const size_t row_bytes = quant_row_bytes(type, cols), acc_stride = (size_t)groups * VNNI_TOKENS;
    const int fmt = type == DT_Q8_0 ? 0 : type == DT_Q4_0 ? 1 : 2;
    const int panel = at_least((int)(VNNI_PANEL_BYTES / row_bytes) / VNNI_ROWS * VNNI_ROWS, VNNI_ROWS);
    const int group_block = at_least((int)(VNNI_TOKEN_BYTES / ((size_t)chunk * sizeof(TokenBlock16))) / VNNI_GROUPS * VNNI_GROUPS,
                                     VNNI_GROUPS);
    static _Thread_local Scratch tiles_scratch;   // this thread's TokenBlock16s, from a 64-byte boundary
    const size_t tiles_bytes = (size_t)groups * blocks * sizeof(TokenBlock16);
    TokenBlock16 *x = (TokenBlock16 *)(((uintptr_t)scratch_reserve(&tiles_scratch, tiles_bytes + 63) + 63) & ~(uintptr_t)63);
    interleave(prepared, blocks, n_tokens, x);
    static _Thread_local Scratch scratch;   // each thread's, grown once: a panel's scales and sums
    const size_t per_panel = (size_t)panel * blocks;
    float *scale = scratch_reserve(&scratch, per_panel * (3 * sizeof(float)) + (size_t)panel * acc_stride * sizeof(float));
    float *bias = scale + per_panel, *acc = bias + 2 * per_panel;
    int32_t *start = (int32_t *)(bias + per_panel);
    for (int p0 = row_begin; p0 < row_end; p0 += panel) {
        const int p1 = row_end - p0 < panel ? row_end : p0 + panel;
        panel_rows(type, w + (size_t)p0 * row_bytes, row_bytes, p1 - p0, blocks, scale, bias, start);
        memset(acc, 0, (size_t)(p1 - p0) * acc_stride * sizeof(float));
        for (int k0 = 0; k0 < blocks; k0 += chunk)
            for (int g0 = 0; g0 < groups; g0 += group_block) {
                const int g1 = groups - g0 < group_block ? groups : g0 + group_block;
                for (int r = p0; r < p1;) {
                    const bool whole_rows = p1 - r >= VNNI_ROWS;
                    const size_t first = (size_t)(r - p0) * blocks;
                    for (int g = g0; g < g1;) {
                        const bool whole_groups = g1 - g >= VNNI_GROUPS;
                        const Tile t = {w + (size_t)r * row_bytes, row_bytes, scale + first, bias + first, start + first,
                                        x + (size_t)g * blocks, blocks, k0, blocks - k0 < chunk ? blocks - k0 : chunk,
                                        acc + (size_t)(r - p0) * acc_stride + (size_t)g * VNNI_TOKENS, acc_stride};
                        TILES[fmt][whole_rows][whole_groups](&t);
                        g += whole_groups ? VNNI_GROUPS : 1;
                    }
                    r += whole_rows ? VNNI_ROWS : 1;
                }
            }
        for (int t = 0; t < n_tokens; t++)   // token by token, so that out is written in order (padding left behind)
            for (int r = p0; r < p1; r++) out[(size_t)t * rows + r] = acc[(size_t)(r - p0) * acc_stride + t];
    }
}

#else
bool quant_vnni_supported(void) { return false; }
void quant_vnni_gemm(DType type, const uint8_t *w, int rows, int cols, const void *prepared, int n_tokens,
                     int row_begin, int row_end, float *out) {
    (void)type, (void)w, (void)rows, (void)cols, (void)prepared, (void)n_tokens, (void)row_begin, (void)row_end, (void)out;
    abort();   // unreachable: never chosen where quant_vnni_supported() is false
}
#endif
