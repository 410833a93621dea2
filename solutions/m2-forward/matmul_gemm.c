// matmul's SIMD products as tiles: R rows of W times T tokens at once. A prefill multiplies every
// weight by every token of the prompt; computing one (row, token) dot product after another (as
// the plain loop does) loads two vectors from cache for every multiply-add, a weight and a token
// value, and the core can load only about as many vectors per cycle as it can multiply. A tile
// keeps R x T sums in registers: each step loads R weight vectors and T token vectors and does
// R x T multiply-adds with them (4 x 3 with AVX2: 7 loads for 12; 4 x 6 with AVX-512: 10 for 24).
// Then the multiply-add units, not the loads, set the pace.
//
// Cache blocking: the rows are taken in blocks (about half the L2 cache of weights: the
// blocking's defaults below), which stay in L2 while every tile of tokens passes over them, so
// each weight comes from memory once per product however many tokens there are. For a prompt, a
// block's rows are first packed (pack_rows) so that a tile reads its R rows as one stream of
// consecutive vectors. A tile's tokens should stay in L1 while the block's rows pass: a long row
// (w_down's 3072 columns: 36 KiB for 3 tokens, 72 KiB for 6) does not fit, so the columns are
// taken in chunks. Between chunks a tile's sums wait in memory as the vectors they are (not added
// up), so each lane still adds its products in the same order: blocks, packing and chunks change
// the speed, not the bits (matmul_gemm.h lets tools/bench_gemm try other sizes).
//
// The order of the additions is fixed per (row, token) pair, whatever the tile holding it: one
// vector of V sums (lane l adds the products of the columns c = l mod V, for c below cols rounded
// down to V), the V lanes added together in a fixed order, then the last cols mod V products one by
// one. So a token computed alone (a decode, tiles of R x 1) gets the same bits as the same token
// inside a prompt, and the thread count changes nothing either (ops.matmul-simd checks both).
//
// The same kernels read bf16 weights (matmul_bf16.c): a bf16 number is the top half of an f32, so
// widening is a shift (exact), done in registers for a decode and while packing for a prompt, and
// the products are those of the f32 kernel on the widened matrix, bit for bit, at half the bytes
// per weight.
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "matmul_gemm.h"
#include "scratch.h"

// Prefetching: a product's weights come from DRAM once (a layer's are far larger than the caches),
// and a core waiting for them computes nothing. So a prompt's tiles ask for the next block's rows,
// a few lines after each tile (all at once, the requests would queue); a decode's tiles ask for
// each row's weights a few lines ahead, on into the next tile's rows (the hardware's prefetchers
// stop at a page's end, and an f32 row of 1024 columns is one 4 KiB page). No arithmetic changes.
// ASK_FOR asks for the line at p, into L2: x86 PREFETCHT1, arm64 PRFM PLDL2KEEP.
#define ASK_FOR(p) __builtin_prefetch((p), 0, 2)
#define LINE_BYTES 64

// Rows per tile of a prompt, in every instruction set: the height of a packed panel.
#define GEMM_R_MAX 4
// Room for the sums kept between chunks, per row of a block: T_MAX tokens x V floats, at most 6 x 16.
#define GEMM_KEEP_PER_ROW (6 * 16)

typedef struct {
    float *out;       // out[t * rows + r]
    const void *W;    // rows [row0, ...) of the matrix [rows × cols]: f32, or bf16 (uint16_t)
    const float *x;   // [n_tokens × cols]
    float *keep;      // the block's sums between column chunks, T_MAX x V floats per row of the block
    int rows, cols;
    int row0;         // the first row W holds
    int chunk_cols;   // columns per chunk of a prompt's tiles, a multiple of every V
    const float *panel;   // NULL, or a prompt's rows from panel_row0 on packed for its R_MAX x T tiles
    int panel_row0;
    const char *next;     // a prompt: the next block's rows as stored (next_bytes), next_lines of their
    size_t next_bytes;    // cache lines asked for after each tile
    int next_lines;
    int ahead_cols, ahead_end;   // a decode: weights asked for ahead_cols columns ahead, below row ahead_end
} Gemm;

// A prompt: the next g->next_lines lines of the next block, from byte *asked on.
static inline void ask_next_block(const Gemm *g, size_t *asked) {
    for (int k = 0; k < g->next_lines && *asked < g->next_bytes; k++, *asked += LINE_BYTES) ASK_FOR(g->next + *asked);
}

// A decode's tile of rows r.. r+R-1 at column c, where a line starts: column c + g->ahead_cols of
// each row, or past its end, of the next tile's row (r + R + i).
static inline __attribute__((always_inline)) void ask_rows_ahead(const Gemm *g, int r, size_t w0, int R, int c, bool bf16) {
    const size_t size = bf16 ? 2 : 4;
    const int cols = g->cols, to = c + g->ahead_cols;
    if ((size_t)c * size % LINE_BYTES || r + 2 * R > g->ahead_end) return;
    const char *p = (const char *)g->W + (w0 + (to < cols ? (size_t)to : (size_t)R * cols + (size_t)(to - cols))) * size;
    for (int i = 0; i < R; i++) ASK_FOR(p + (size_t)i * cols * size);
}

// One weight as f32, for the columns after the last full vector.
static inline float weight_at(const void *W, size_t i, bool bf16) {
    if (!bf16) return ((const float *)W)[i];
    const uint32_t bits = (uint32_t)((const uint16_t *)W)[i] << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

// Rows [r0, r1) of a block times tokens [t0, t1): the tiles in a fixed walk. TILE(r, t, R, T, c0,
// c1, keep) is the instruction set's tile: it adds columns [c0, c1) (c0 = 0: its sums start at
// zero; c1 = cols: it is finished and written) and leaves its sums between chunks in keep, its
// rows' place in g->keep (rows counted from r0, the block's first). R_MAX x T_MAX is its prompt
// shape (the last tokens of a prompt go in pairs: R_MAX x 2), R_ONE x 1 its shape for a token
// alone, which takes whole rows; V its vector width.
// Constant R and T let the compiler keep the sums in registers, so each shape is its own call.
#define TILE_WALK(TILE, R_MAX, T_MAX, R_ONE, V)                                                        \
    do {                                                                                              \
        int t = t0;                                                                                   \
        size_t asked = 0;   /* bytes of the next block asked for (TILE_ROWS) */                        \
        for (; t1 - t >= (T_MAX); t += (T_MAX)) TILE_ROWS(TILE, R_MAX, T_MAX, T_MAX, V);              \
        for (; t1 - t >= 2; t += 2) TILE_ROWS(TILE, R_MAX, 2, T_MAX, V);   /* the rest in pairs */    \
        for (; t < t1; t++) {   /* the last token, or a decode's one, alone: whole rows */            \
            int r = r0;                                                                               \
            for (; r + (R_ONE) <= r1; r += (R_ONE)) TILE(r, t, R_ONE, 1, 0, g->cols, g->keep);        \
            for (; r < r1; r++) TILE(r, t, 1, 1, 0, g->cols, g->keep);   /* whole rows: keep unused */ \
        }                                                                                             \
    } while (0)
// Tokens t .. t+T-1 times every row of the block, chunk after chunk of columns.
#define TILE_ROWS(TILE, R_MAX, T, T_MAX, V)                                                           \
    do {                                                                                              \
        const int cols = g->cols, vec_end = cols & ~((V) - 1);                                        \
        for (int c0 = 0, c1; c0 < cols; c0 = c1) {                                                    \
            c1 = vec_end - c0 > g->chunk_cols ? c0 + g->chunk_cols : cols;                            \
            int r = r0;                                                                               \
            for (; r + (R_MAX) <= r1; r += (R_MAX), ask_next_block(g, &asked))                        \
                TILE(r, t, R_MAX, T, c0, c1, g->keep + (size_t)(r - r0) * (T_MAX) * (V));             \
            for (; r < r1; r++) TILE(r, t, 1, T, c0, c1, g->keep + (size_t)(r - r0) * (T_MAX) * (V)); \
        }                                                                                             \
    } while (0)

// The tile FN reading its rows from the packed panel (a prompt's R_MAX-row tiles, when there is
// one) or where they are; FN's `packed` argument a constant either way, for the compiler.
#define TILE_EITHER(FN, r, t, R, T, bf16, c0, c1, keep)                                               \
    ((R) == GEMM_R_MAX && g->panel ? FN(g, r, t, R, T, bf16, true, c0, c1, keep)                      \
                                   : FN(g, r, t, R, T, bf16, false, c0, c1, keep))

typedef void (*BlockFn)(const Gemm *g, int r0, int r1, int t0, int t1);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_X86 1

#define INLINE_AVX2 static inline __attribute__((always_inline, target("avx2,fma")))
#define INLINE_AVX512 static inline __attribute__((always_inline, target("avx512f")))

INLINE_AVX2 __m256 load8(const void *W, size_t i, bool bf16) {
    if (!bf16) return _mm256_loadu_ps((const float *)W + i);
    const __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)W + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

INLINE_AVX2 float sum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// The last steps of sum8 (and sum16) for 4 vectors at once: each of a, b, c, d holds one sum's 4
// lanes left after the halves were added; lanes 0+2 and 1+3, then those two, as sum8 adds them.
// The same 4 floats as 4 separate sums, from about half the instructions, in SSE (which an AVX2
// or AVX-512 function can inline).
static inline __attribute__((always_inline)) __m128 sum4x4(__m128 a, __m128 b, __m128 c, __m128 d) {
    const __m128 ab = _mm_add_ps(_mm_movelh_ps(a, b), _mm_movehl_ps(b, a)),   // a0+a2 a1+a3 b0+b2 b1+b3
        cd = _mm_add_ps(_mm_movelh_ps(c, d), _mm_movehl_ps(d, c));
    return _mm_add_ps(_mm_shuffle_ps(ab, cd, _MM_SHUFFLE(2, 0, 2, 0)), _mm_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 1, 3, 1)));
}

INLINE_AVX2 __m128 halves8(__m256 v) { return _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)); }

// sum8 of 4 vectors: [sum8(a), sum8(b), sum8(c), sum8(d)], bit for bit.
INLINE_AVX2 __m128 sum8x4(__m256 a, __m256 b, __m256 c, __m256 d) {
    return sum4x4(halves8(a), halves8(b), halves8(c), halves8(d));
}

// Rows r .. r+R-1 times tokens t .. t+T-1 (R <= 8, T <= 3), columns [c0, c1), AVX2: 12 sums, 3
// token vectors and a row vector fill the 16 registers. keep: 3 x 8 floats per row.
INLINE_AVX2 void tile_avx2(const Gemm *g, int r, int t, const int R, const int T, const bool bf16, const bool packed,
                           int c0, int c1, float *keep) {
    const int cols = g->cols, vec_end = cols & ~7, c_end = c1 < vec_end ? c1 : vec_end;
    const size_t w0 = (size_t)(r - g->row0) * cols;
    const float *x = g->x + (size_t)t * cols;
    const float *panel = packed ? g->panel + (size_t)(r - g->panel_row0) * vec_end : NULL;   // R = R_MAX rows
    __m256 acc[8][3];
    _Pragma("GCC unroll 8") for (int i = 0; i < R; i++)
        _Pragma("GCC unroll 3") for (int j = 0; j < T; j++)
            acc[i][j] = c0 ? _mm256_loadu_ps(keep + (i * 3 + j) * 8) : _mm256_setzero_ps();
    for (int c = c0; c < c_end; c += 8) {
        if (!packed && g->ahead_end) ask_rows_ahead(g, r, w0, R, c, bf16);   // a decode
        __m256 xv[3];
        _Pragma("GCC unroll 3") for (int j = 0; j < T; j++) xv[j] = _mm256_loadu_ps(x + (size_t)j * cols + c);
        _Pragma("GCC unroll 8") for (int i = 0; i < R; i++) {
            const __m256 w = packed ? _mm256_loadu_ps(panel + (size_t)c * R + i * 8)
                                    : load8(g->W, w0 + (size_t)i * cols + c, bf16);
            _Pragma("GCC unroll 3") for (int j = 0; j < T; j++) acc[i][j] = _mm256_fmadd_ps(w, xv[j], acc[i][j]);
        }
    }
    if (c1 < cols) {   // more chunks to come: the sums wait as they are
        _Pragma("GCC unroll 8") for (int i = 0; i < R; i++)
            _Pragma("GCC unroll 3") for (int j = 0; j < T; j++) _mm256_storeu_ps(keep + (i * 3 + j) * 8, acc[i][j]);
        return;
    }
    if (R == 4 && vec_end == cols) {   // 4 rows' sums for each token, next to each other in out
        _Pragma("GCC unroll 3") for (int j = 0; j < T; j++)
            _mm_storeu_ps(g->out + (size_t)(t + j) * g->rows + r, sum8x4(acc[0][j], acc[1][j], acc[2][j], acc[3][j]));
        return;
    }
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) {
            float s = sum8(acc[i][j]);
            for (int c = vec_end; c < cols; c++) s += weight_at(g->W, w0 + (size_t)i * cols + c, bf16) * x[(size_t)j * cols + c];
            g->out[(size_t)(t + j) * g->rows + r + i] = s;
        }
}

#define TILE_AVX2_F32(r, t, R, T, c0, c1, keep) TILE_EITHER(tile_avx2, r, t, R, T, false, c0, c1, keep)
#define TILE_AVX2_BF16(r, t, R, T, c0, c1, keep) TILE_EITHER(tile_avx2, r, t, R, T, true, c0, c1, keep)
__attribute__((target("avx2,fma"))) static void block_avx2_f32(const Gemm *g, int r0, int r1, int t0, int t1) {
    TILE_WALK(TILE_AVX2_F32, GEMM_R_MAX, 3, 8, 8);
}
__attribute__((target("avx2,fma"))) static void block_avx2_bf16(const Gemm *g, int r0, int r1, int t0, int t1) {
    TILE_WALK(TILE_AVX2_BF16, GEMM_R_MAX, 3, 8, 8);
}

// pack_rows with AVX2, 8 weights per instruction (bf16 widened: the bits of weight_at's).
__attribute__((target("avx2,fma"))) static void pack_avx2(float *panel, const void *W, bool bf16, size_t w0,
                                                            int groups, int cols, int V) {
    const int vec_end = cols & ~(V - 1);
    for (int k = 0; k < groups; k++, w0 += (size_t)GEMM_R_MAX * cols)
        for (int c = 0; c < vec_end; c += V)
            for (int i = 0; i < GEMM_R_MAX; i++)
                for (int l = 0; l < V; l += 8, panel += 8)
                    _mm256_storeu_ps(panel, load8(W, w0 + (size_t)i * cols + c + l, bf16));
}

// bf16 rows widened into f32, 8 at a time (the bits of weight_at's, one at a time).
__attribute__((target("avx2,fma"))) static void widen_avx2(float *f, const uint16_t *h, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(f + i, load8(h, i, true));
    for (; i < n; i++) f[i] = weight_at(h, i, true);
}

INLINE_AVX512 __m512 load16(const void *W, size_t i, bool bf16) {
    if (!bf16) return _mm512_loadu_ps((const float *)W + i);
    const __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)W + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// The 16 lanes added in a fixed order (halves, then halves of those, down to one).
INLINE_AVX512 float sum16(__m512 v) {
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v),
                                   _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// sum16's halves, then quarters: the 4 lanes sum4x4 takes.
INLINE_AVX512 __m128 quarters16(__m512 v) {
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v),
                                   _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// sum16 of 4 vectors: [sum16(a), sum16(b), sum16(c), sum16(d)], bit for bit.
INLINE_AVX512 __m128 sum16x4(__m512 a, __m512 b, __m512 c, __m512 d) {
    return sum4x4(quarters16(a), quarters16(b), quarters16(c), quarters16(d));
}

// Rows r .. r+R-1 times tokens t .. t+T-1 (R <= 8, T <= 6), columns [c0, c1), AVX-512: 32
// registers hold 4 x 6 sums. keep: 6 x 16 floats per row (tile_avx2 says the rest).
INLINE_AVX512 void tile_avx512(const Gemm *g, int r, int t, const int R, const int T, const bool bf16,
                               const bool packed, int c0, int c1, float *keep) {
    const int cols = g->cols, vec_end = cols & ~15, c_end = c1 < vec_end ? c1 : vec_end;
    const size_t w0 = (size_t)(r - g->row0) * cols;
    const float *x = g->x + (size_t)t * cols;
    const float *panel = packed ? g->panel + (size_t)(r - g->panel_row0) * vec_end : NULL;   // R = R_MAX rows
    __m512 acc[8][6];
    _Pragma("GCC unroll 8") for (int i = 0; i < R; i++)
        _Pragma("GCC unroll 6") for (int j = 0; j < T; j++)
            acc[i][j] = c0 ? _mm512_loadu_ps(keep + (i * 6 + j) * 16) : _mm512_setzero_ps();
    for (int c = c0; c < c_end; c += 16) {
        if (!packed && g->ahead_end) ask_rows_ahead(g, r, w0, R, c, bf16);   // a decode
        __m512 xv[6];
        _Pragma("GCC unroll 6") for (int j = 0; j < T; j++) xv[j] = _mm512_loadu_ps(x + (size_t)j * cols + c);
        _Pragma("GCC unroll 8") for (int i = 0; i < R; i++) {
            const __m512 w = packed ? _mm512_loadu_ps(panel + (size_t)c * R + i * 16)
                                     : load16(g->W, w0 + (size_t)i * cols + c, bf16);
            _Pragma("GCC unroll 6") for (int j = 0; j < T; j++) acc[i][j] = _mm512_fmadd_ps(w, xv[j], acc[i][j]);
        }
    }
    if (c1 < cols) {
        _Pragma("GCC unroll 8") for (int i = 0; i < R; i++)
            _Pragma("GCC unroll 6") for (int j = 0; j < T; j++) _mm512_storeu_ps(keep + (i * 6 + j) * 16, acc[i][j]);
        return;
    }
    if (R == 4 && vec_end == cols) {   // 4 rows' sums for each token, next to each other in out
        _Pragma("GCC unroll 6") for (int j = 0; j < T; j++)
            _mm_storeu_ps(g->out + (size_t)(t + j) * g->rows + r, sum16x4(acc[0][j], acc[1][j], acc[2][j], acc[3][j]));
        return;
    }
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) {
            float s = sum16(acc[i][j]);
            for (int c = vec_end; c < cols; c++) s += weight_at(g->W, w0 + (size_t)i * cols + c, bf16) * x[(size_t)j * cols + c];
            g->out[(size_t)(t + j) * g->rows + r + i] = s;
        }
}

#define TILE_AVX512_F32(r, t, R, T, c0, c1, keep) TILE_EITHER(tile_avx512, r, t, R, T, false, c0, c1, keep)
#define TILE_AVX512_BF16(r, t, R, T, c0, c1, keep) TILE_EITHER(tile_avx512, r, t, R, T, true, c0, c1, keep)
__attribute__((target("avx512f"))) static void block_avx512_f32(const Gemm *g, int r0, int r1, int t0, int t1) {
    TILE_WALK(TILE_AVX512_F32, GEMM_R_MAX, 6, 8, 16);
}
__attribute__((target("avx512f"))) static void block_avx512_bf16(const Gemm *g, int r0, int r1, int t0, int t1) {
    TILE_WALK(TILE_AVX512_BF16, GEMM_R_MAX, 6, 8, 16);
}

#elif defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
#define HAVE_NEON 1

static inline __attribute__((always_inline)) float32x4_t load4(const void *W, size_t i, bool bf16) {
    if (!bf16) return vld1q_f32((const float *)W + i);
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)W + i), 16));
}

// Rows r .. r+R-1 times tokens t .. t+T-1 (R <= 8, T <= 4), columns [c0, c1), NEON: 32 registers
// hold 4 x 4 sums. keep: 4 x 4 floats per row (tile_avx2 says the rest).
static inline __attribute__((always_inline)) void tile_neon(const Gemm *g, int r, int t, const int R, const int T,
                                                            const bool bf16, const bool packed, int c0, int c1,
                                                            float *keep) {
    const int cols = g->cols, vec_end = cols & ~3, c_end = c1 < vec_end ? c1 : vec_end;
    const size_t w0 = (size_t)(r - g->row0) * cols;
    const float *x = g->x + (size_t)t * cols;
    const float *panel = packed ? g->panel + (size_t)(r - g->panel_row0) * vec_end : NULL;   // R = R_MAX rows
    float32x4_t acc[8][4];
    _Pragma("GCC unroll 8") for (int i = 0; i < R; i++)
        _Pragma("GCC unroll 4") for (int j = 0; j < T; j++)
            acc[i][j] = c0 ? vld1q_f32(keep + (i * 4 + j) * 4) : vdupq_n_f32(0.0f);
    for (int c = c0; c < c_end; c += 4) {
        if (!packed && g->ahead_end) ask_rows_ahead(g, r, w0, R, c, bf16);   // a decode
        float32x4_t xv[4];
        _Pragma("GCC unroll 4") for (int j = 0; j < T; j++) xv[j] = vld1q_f32(x + (size_t)j * cols + c);
        _Pragma("GCC unroll 8") for (int i = 0; i < R; i++) {
            const float32x4_t w = packed ? vld1q_f32(panel + (size_t)c * R + i * 4)
                                         : load4(g->W, w0 + (size_t)i * cols + c, bf16);
            _Pragma("GCC unroll 4") for (int j = 0; j < T; j++) acc[i][j] = vfmaq_f32(acc[i][j], w, xv[j]);
        }
    }
    if (c1 < cols) {
        _Pragma("GCC unroll 8") for (int i = 0; i < R; i++)
            _Pragma("GCC unroll 4") for (int j = 0; j < T; j++) vst1q_f32(keep + (i * 4 + j) * 4, acc[i][j]);
        return;
    }
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) {
            float s = vaddvq_f32(acc[i][j]);
            for (int c = vec_end; c < cols; c++) s += weight_at(g->W, w0 + (size_t)i * cols + c, bf16) * x[(size_t)j * cols + c];
            g->out[(size_t)(t + j) * g->rows + r + i] = s;
        }
}

#define TILE_NEON_F32(r, t, R, T, c0, c1, keep) TILE_EITHER(tile_neon, r, t, R, T, false, c0, c1, keep)
#define TILE_NEON_BF16(r, t, R, T, c0, c1, keep) TILE_EITHER(tile_neon, r, t, R, T, true, c0, c1, keep)
static void block_neon_f32(const Gemm *g, int r0, int r1, int t0, int t1) {
    TILE_WALK(TILE_NEON_F32, GEMM_R_MAX, 4, 8, 4);
}
static void block_neon_bf16(const Gemm *g, int r0, int r1, int t0, int t1) {
    TILE_WALK(TILE_NEON_BF16, GEMM_R_MAX, 4, 8, 4);
}
#endif

// The block kernels for `name` ("avx512", "avx2", "neon": matmul_simd_name()) and the weights'
// type; NULL when there are none.
static BlockFn block_kernel(const char *name, bool bf16) {
#if HAVE_X86
    if (strcmp(name, "avx512") == 0) return bf16 ? block_avx512_bf16 : block_avx512_f32;
    if (strcmp(name, "avx2") == 0) return bf16 ? block_avx2_bf16 : block_avx2_f32;
#elif HAVE_NEON
    if (strcmp(name, "neon") == 0) return bf16 ? block_neon_bf16 : block_neon_f32;
#endif
    (void)name, (void)bf16;
    return NULL;
}

// A product's rows in equal parts, each starting at a multiple of 16 rows, as matmul's 16-row
// units fall (matmul.c). 16 f32 outputs are one 64-byte cache line: two threads never write the
// same line (each would take it from the other for every token), and the tiles (4 or 8 rows)
// rarely split. The engine deals units out in runs; this equal split serves tools/bench_gemm and
// the blocking test.
void matmul_gemm_part(int rows, int part, int n_parts, int *row_begin, int *row_end) {
    const int sixteenths = rows / 16;
    *row_begin = (int)((long long)sixteenths * part / n_parts) * 16;
    *row_end = part == n_parts - 1 ? rows : (int)((long long)sixteenths * (part + 1) / n_parts) * 16;
}

// n bf16 numbers widened into f32: exact, the same bits whichever way.
static void widen(float *f, const uint16_t *h, size_t n, const char *name) {
#if HAVE_X86
    if (strcmp(name, "avx512") == 0 || strcmp(name, "avx2") == 0) {   // an AVX-512 CPU has AVX2
        widen_avx2(f, h, n);
        return;
    }
#endif
    (void)name;
    for (size_t i = 0; i < n; i++) f[i] = weight_at(h, i, true);
}

// Lanes per vector of the kernels `name`: the columns of a panel's vectors.
static int lanes(const char *name) { return strcmp(name, "avx512") == 0 ? 16 : strcmp(name, "avx2") == 0 ? 8 : 4; }
// Tokens per prompt tile (T_MAX) of the kernels `name`.
static int tile_tokens(const char *name) { return strcmp(name, "avx512") == 0 ? 6 : strcmp(name, "avx2") == 0 ? 3 : 4; }

// What is asked for ahead (book/m2-forward.md#matmul-prefetch): a prompt's block asks for all the
// next block's rows over the first 1/next_pace of its tiles; a decode's tiles ask for each row's
// weights ahead_lines cache lines before they read them (<= 0: never). $PS_GEMM_NEXT_BLOCK and
// $PS_GEMM_AHEAD_LINES set them (read once), to measure another machine.
static long next_pace, ahead_lines;
static void read_prefetch_knobs(void) {
    const char *pace = getenv("PS_GEMM_NEXT_BLOCK"), *lines = getenv("PS_GEMM_AHEAD_LINES");
    next_pace = pace ? strtol(pace, NULL, 10) : 1, ahead_lines = lines ? strtol(lines, NULL, 10) : 8;
    next_pace = next_pace > 64 ? 64 : next_pace, ahead_lines = ahead_lines > 1024 ? 1024 : ahead_lines;
}

// A prompt's rows packed for its R_MAX x T tiles, once per block: `groups` groups of R_MAX rows
// from W[w0] on (w0 = first row x cols), each group as its vectors of V columns in the order the
// tile loads them (columns 0..V-1 of its 4 rows, then columns V..2V-1, ...) up to the last full
// vector. Each tile of tokens then reads its weights as one stream of consecutive addresses, not
// as 4 rows 4-12 KiB apart: 4 streams for the prefetchers, all in the same sets of the L1 cache
// as the token rows (which are as far apart). bf16 rows are widened here, exactly, so the tiles
// run the f32 kernel. The same values in the same order: the bits do not change.
static void pack_rows(float *panel, const void *W, bool bf16, size_t w0, int groups, int cols, const char *name) {
    const int V = lanes(name), vec_end = cols & ~(V - 1);
#if HAVE_X86
    if (strcmp(name, "avx512") == 0 || strcmp(name, "avx2") == 0) {   // an AVX-512 CPU has AVX2
        pack_avx2(panel, W, bf16, w0, groups, cols, V);
        return;
    }
#endif
    for (int k = 0; k < groups; k++, w0 += (size_t)GEMM_R_MAX * cols)
        for (int c = 0; c < vec_end; c += V)
            for (int i = 0; i < GEMM_R_MAX; i++)
                for (int l = 0; l < V; l++) *panel++ = weight_at(W, w0 + (size_t)i * cols + c + l, bf16);
}


bool matmul_gemm_rows(float *out, const float *x, const void *W, bool bf16, int rows, int cols, int n_tokens,
                      int row_begin, int row_end) {
    const char *name = matmul_simd_name();
    const BlockFn block = block_kernel(name, bf16);
    if (!block) return false;
    const GemmBlocking b = matmul_gemm_blocking();
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, read_prefetch_knobs);
    // A prompt's rows are packed (pack_rows), once per block; its tiles of tokens read them again
    // and again. A shorter prompt reads f32 rows where they are, and bf16 rows widened once per
    // block into f32 (exact) for the f32 kernel, rather than widened again for every tile.
    const bool pack = b.pack_min_tokens > 0 && n_tokens >= b.pack_min_tokens;
    const bool widen_first = !pack && bf16 && n_tokens >= 4;
    const int vec_end = cols & ~(lanes(name) - 1);
    const size_t row_bytes = (size_t)cols * (bf16 && !pack && !widen_first ? 2 : 4);
    int block_rows = (int)((size_t)b.block_bytes / (row_bytes ? row_bytes : 1)) & ~7;
    if (block_rows < 8) block_rows = 8;
    static _Thread_local Scratch copy, keep;
    float *sums = scratch_reserve(&keep, (size_t)block_rows * GEMM_KEEP_PER_ROW * sizeof *sums);
    const size_t stored = bf16 ? 2 : 4;   // bytes per weight as stored
    const int passes = (n_tokens + tile_tokens(name) - 1) / tile_tokens(name), chunks = (vec_end + b.chunk_cols - 1) / b.chunk_cols;
    for (int r = row_begin; r < row_end; r += block_rows) {
        const int end = row_end - r < block_rows ? row_end : r + block_rows, groups = (end - r) / GEMM_R_MAX;
        Gemm g = {.out = out, .W = W, .x = x, .keep = sums, .rows = rows, .cols = cols, .row0 = 0,
                  .chunk_cols = b.chunk_cols, .panel_row0 = r};
        if (n_tokens == 1 && ahead_lines > 0) {   // ahead_end > 0: on
            const int c_ahead = (int)ahead_lines * (int)(LINE_BYTES / stored);
            g.ahead_cols = c_ahead < cols ? c_ahead : cols, g.ahead_end = row_end;
        } else if (n_tokens > 1 && next_pace > 0 && end < row_end) {   // the next block's tiles' rows
            const int next_end = row_end - end < block_rows ? row_end : end + block_rows;
            const size_t tiles = (size_t)passes * ((end - r + GEMM_R_MAX - 1) / GEMM_R_MAX) * (chunks > 1 ? chunks : 1);
            g.next = (const char *)W + (size_t)end * cols * stored, g.next_bytes = (size_t)(next_end - end) * cols * stored;
            g.next_lines = (int)((g.next_bytes / LINE_BYTES * (size_t)next_pace + tiles) / tiles);   // rounded up
        }
        if (pack && groups > 0) {   // rows after the last group of R_MAX are read where they are
            float *panel = scratch_reserve(&copy, (size_t)groups * GEMM_R_MAX * vec_end * sizeof *panel);
            pack_rows(panel, W, bf16, (size_t)r * cols, groups, cols, name);
            g.panel = panel;
        } else if (widen_first) {
            float *f = scratch_reserve(&copy, (size_t)(end - r) * cols * sizeof *f);
            widen(f, (const uint16_t *)W + (size_t)r * cols, (size_t)(end - r) * cols, name);
            g.W = f, g.row0 = r;
            block_kernel(name, false)(&g, r, end, 0, n_tokens);
            continue;
        }
        block(&g, r, end, 0, n_tokens);
    }
    return true;
}
