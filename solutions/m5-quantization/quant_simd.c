// The quantized products again, with SIMD intrinsics: AVX2 on x86-64 (quant_avx2.c), NEON on
// arm64 (quant_neon.c), and the choice between them and the lane kernels of quant_avx512.c and
// quant_neon.c, made at run time (quant_simd_enabled); PS_SIMD=0 in the environment runs the plain
// C of quant_dot.c. This file holds that choice, the float half and the loops over rows.
//
// Why a second version: the plain kernels are what the lab teaches, and compilers vectorise them
// only with the baseline SIMD of the target (SSE2 on x86-64 unless built with -march), which
// leaves the quantized products compute-bound: they unpack and multiply slower than memory
// delivers the bytes (book/m5-quantization.md, "Measured speed").
//
// The kernels of this file give the same bits as the plain kernels (quant_avx512.c and
// quant_neon.c trade that for speed). Each product has an integer half and a float half:
//   - the integer half (SIMD: quant_avx2.c, quant_neon.c) computes, per block of 32 weights, the exact int32 sum
//     sum_j q_w[j] * q_x[j]. Integer sums are exact, so any order of additions gives the value
//     of the plain loop. It also computes the block's scales (products of floats are rounded
//     the same one at a time or eight at a time);
//   - the float half (finish_* below) is the plain kernel's own `sum += ...` expression, in plain
//     C in a function without target attributes, so it is compiled with exactly the flags of
//     quant_dot.c: whatever the compiler decides about fusing it into a multiply-add there
//     (clang does on arm64, nobody does on baseline x86-64), it decides here too. The additions
//     run in the plain kernel's order, block after block.
// A prompt takes another route: tiles of weight rows x tokens, each (row, token) sum in a vector
// lane of its own, still your expression in your order, so still your bits. On a CPU with AVX-512
// VNNI (and PS_SIMD not avx2) a product of 12 tokens or more takes quant_vnni.c's tiles of 16
// tokens (vpdpbusd), whichever kernels decode takes: the AVX-512 lane kernels by default, the AVX2
// ones in exact mode. On AVX2 alone, 4 tokens or more take quant_avx2_gemm's tiles of 8 tokens.
// So on such a CPU a prompt gives your bits even where a decode step, through the lane kernels,
// rounds differently (quant_simd_prompt_exact says which).
// labs/m5-quantization/tests/test_quant_simd.c checks this on random blocks against your kernels.
#include "quant_simd.h"
#include "scratch.h"
#include "simd.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

// The AVX2 loops ask for the weights this many rows ahead of the ones they multiply: with the
// hardware prefetcher alone, a core spends part of its time waiting for DRAM (measured: up to
// 1.7x slower on one thread of a Xeon VM).
#define PREFETCH_ROWS 4

// ---- the float half: the plain kernels' expressions, block by block, in their order ----

// These loops must stay scalar, like the plain kernels' loops. clang contracts `sum += a * b` into
// a multiply-add that it may fuse or not (llvm.fmuladd): scalar code fuses it on arm64, but the
// loop vectoriser turns it into a vector multiply and separate, unfused adds (clang 14, arm64:
// 1 ulp off the plain kernel; tools/check-arm64.sh).
#if defined(__clang__)
#define SCALAR_LOOP _Pragma("clang loop vectorize(disable) interleave(disable)")
#else
#define SCALAR_LOOP
#endif

// Q8_0 and Q4_0: the plain kernel's `sum += d_w * d_x * isum`, with d_w * d_x computed ahead
// (it is rounded on its own in the plain expression too).
static float finish_symmetric(float sum, const Chunk *c, int n) {
    SCALAR_LOOP
    for (int k = 0; k < n; k++) sum += c->scale[k] * c->isum[k];
    return sum;
}

// Q4A: the plain kernel's `sum += d_x * (scale * isum + bias * sum_x)`, term for term.
static float finish_q4a(float sum, const Chunk *c, const QuantAct *x, int n) {
    SCALAR_LOOP
    for (int k = 0; k < n; k++) sum += x[k].d * (c->scale[k] * c->isum[k] + c->bias[k] * (float)x[k].sum);
    return sum;
}

// Four rows at once, each with its own sum in its own order: one row's additions depend on each
// other (a chain of float adds, ~3-4 cycles each), four independent chains keep the core busy.
static void finish_symmetric_4(float sum[4], const Chunk c[4], int n) {
    float s0 = sum[0], s1 = sum[1], s2 = sum[2], s3 = sum[3];
    SCALAR_LOOP
    for (int k = 0; k < n; k++) {
        s0 += c[0].scale[k] * c[0].isum[k];
        s1 += c[1].scale[k] * c[1].isum[k];
        s2 += c[2].scale[k] * c[2].isum[k];
        s3 += c[3].scale[k] * c[3].isum[k];
    }
    sum[0] = s0, sum[1] = s1, sum[2] = s2, sum[3] = s3;
}

static void finish_q4a_4(float sum[4], const Chunk c[4], const QuantAct *x, int n) {
    float s0 = sum[0], s1 = sum[1], s2 = sum[2], s3 = sum[3];
    SCALAR_LOOP
    for (int k = 0; k < n; k++) {
        const float xsum = (float)x[k].sum;
        s0 += x[k].d * (c[0].scale[k] * c[0].isum[k] + c[0].bias[k] * xsum);
        s1 += x[k].d * (c[1].scale[k] * c[1].isum[k] + c[1].bias[k] * xsum);
        s2 += x[k].d * (c[2].scale[k] * c[2].isum[k] + c[2].bias[k] * xsum);
        s3 += x[k].d * (c[3].scale[k] * c[3].isum[k] + c[3].bias[k] * xsum);
    }
    sum[0] = s0, sum[1] = s1, sum[2] = s2, sum[3] = s3;
}

// ---- which kernel ----

enum { SIMD_NONE = 0, SIMD_AVX2 = 1, SIMD_NEON = 2, SIMD_AVX512 = 3, SIMD_NEON_LANES = 4 };

// The best kernel this CPU runs; with only_exact, the best of those that give your kernels' bits.
// PS_SIMD=avx2 leaves out AVX-512 (make check runs the SIMD tests once more that way).
static int detect(bool only_exact) {
#if PS_SIMD_AVX2
    __builtin_cpu_init();
    if (!only_exact && quant_avx512_supported() && simd_avx512_allowed()) return SIMD_AVX512;
    return __builtin_cpu_supports("avx2") ? SIMD_AVX2 : SIMD_NONE;
#elif PS_SIMD_NEON
    return only_exact ? SIMD_NEON : SIMD_NEON_LANES;   // every arm64 CPU has NEON
#else
    (void)only_exact;
    return SIMD_NONE;
#endif
}

// What this CPU has, decided once (the CPU does not change); the policy (shared/simd.h) picks.
// vnni: may a prompt take quant_vnni.c's tiles (AVX-512 VNNI, and PS_SIMD is not avx2)?
static int best_exact, best_any;
static bool vnni;
static void detect_once(void) {
    best_exact = detect(true);
    best_any = detect(false);
#if PS_SIMD_AVX2
    vnni = quant_vnni_supported() && simd_avx512_allowed();
#endif
}

static int kind(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, detect_once);
    switch (simd_level(SIMD_QUANT)) {
    case SIMD_ON: return best_any;
    case SIMD_EXACT: return best_exact;
    default: return SIMD_NONE;
    }
}

void quant_set_simd(bool on) { simd_set_level(SIMD_QUANT, on ? SIMD_ON : SIMD_OFF); }

bool quant_set_simd_exact(void) {
    simd_set_level(SIMD_QUANT, SIMD_EXACT);
    return kind() != SIMD_NONE;
}

bool quant_simd_enabled(void) { return kind() != SIMD_NONE; }
bool quant_simd_exact(void) { return kind() != SIMD_AVX512 && kind() != SIMD_NEON_LANES; }

const char *quant_simd_name(void) {
    switch (kind()) {
    case SIMD_AVX512: return vnni ? "avx512 (prompts: vnni tiles)" : "avx512";
    case SIMD_AVX2: return vnni ? "avx2 (prompts: vnni tiles)" : "avx2";
#if defined(__ARM_FEATURE_DOTPROD)
    case SIMD_NEON: return "neon+dotprod";
    case SIMD_NEON_LANES: return "neon+dotprod lanes";
#else
    case SIMD_NEON: return "neon";
    case SIMD_NEON_LANES: return "neon lanes";
#endif
    default: return "plain C";
    }
}
// ---- the products ----

// ahead: prefetch the bytes that far after the ones read (0: none).
static void chunk(DType type, const uint8_t *w, const ActBlocks *a, int k0, int n, Chunk *c, size_t ahead) {
#if PS_SIMD_AVX2
    quant_avx2_chunk(type, w, a, k0, n, c, ahead);
#elif PS_SIMD_NEON
    quant_neon_chunk(type, w, a, k0, n, c, ahead);
#else
    (void)type, (void)w, (void)a, (void)k0, (void)n, (void)c, (void)ahead;
    abort();   // unreachable: quant_simd_enabled() is false without a SIMD kernel
#endif
}

// ActBlocks for n activation blocks (all the tokens' blocks, one after another), in this thread's
// scratch (the pool's threads each prepare their own copy; grown once, reused every token).
static void prepare(DType type, const QuantAct *x, size_t n, ActBlocks *a) {
    *a = (ActBlocks){.x = x};
#if PS_SIMD_AVX2
    static _Thread_local Scratch scratch;
    uint8_t *mem = scratch_reserve(&scratch, n * (32 + sizeof(int32_t) + sizeof(float)) + 1);
    int8_t *q8 = (int8_t *)mem;
    int32_t *sum = (int32_t *)(mem + 32 * n);
    float *d = (float *)(mem + 36 * n);
    quant_avx2_narrow(x, q8, (int)n, type == DT_Q4A);
    for (size_t k = 0; k < n; k++) sum[k] = x[k].sum, d[k] = x[k].d;
    *a = (ActBlocks){x, q8, sum, d};
#else
    (void)type, (void)n;
#endif
}

// The ActBlocks of the blocks from `first` on.
static ActBlocks acts_from(const ActBlocks *a, size_t first) {
    return (ActBlocks){a->x + first, a->q8 ? a->q8 + 32 * first : NULL, a->sum ? a->sum + first : NULL,
                  a->d ? a->d + first : NULL};
}

// One row times one token (n_act_blocks blocks of 32), chunk by chunk; the float sum carries over
// from chunk to chunk, so the additions happen in the plain kernel's order.
static float dot_row(DType type, const uint8_t *w, const ActBlocks *a, int n_act_blocks) {
    Chunk c;
    float sum = 0.0f;
    for (int k0 = 0; k0 < n_act_blocks; k0 += CHUNK) {
        const int n = n_act_blocks - k0 < CHUNK ? n_act_blocks - k0 : CHUNK;
        chunk(type, w, a, k0, n, &c, 0);
        sum = type == DT_Q4A ? finish_q4a(sum, &c, a->x + k0, n) : finish_symmetric(sum, &c, n);
    }
    return sum;
}

// Rows r .. r + 3 times one token, like dot_row.
static void dot_4_rows(float out[4], DType type, const uint8_t *w, size_t row_bytes, const ActBlocks *a,
                       int n_act_blocks) {
    Chunk c[4];
    out[0] = out[1] = out[2] = out[3] = 0.0f;
    for (int k0 = 0; k0 < n_act_blocks; k0 += CHUNK) {
        const int n = n_act_blocks - k0 < CHUNK ? n_act_blocks - k0 : CHUNK;
        for (int i = 0; i < 4; i++) chunk(type, w + i * row_bytes, a, k0, n, &c[i], PREFETCH_ROWS * row_bytes);
        if (type == DT_Q4A) finish_q4a_4(out, c, a->x + k0, n);
        else finish_symmetric_4(out, c, n);
    }
}

void quant_simd_act(const float *x, QuantAct *y, int n) {
#if PS_SIMD_AVX2
    if (kind() == SIMD_AVX2 || kind() == SIMD_AVX512) {
        quant_avx2_act(x, y, n);
        return;
    }
#endif
    quantize_act(x, y, n);   // NEON: the plain loop vectorises well enough (and it is a small cost)
}

float quant_simd_dot(DType type, const void *w_row, const QuantAct *x, int n) {
    if (kind() == SIMD_AVX512 || kind() == SIMD_NEON_LANES) {
        float out;
        quant_simd_rows(&out, x, w_row, type, 1, n, 1, 0, 1);
        return out;
    }
    ActBlocks a;
    prepare(type, x, (size_t)n / 32, &a);
    return dot_row(type, w_row, &a, n / 32);
}

// ---- a prompt on AVX2: quant_avx2_gemm, tiles of rows x 8 tokens ----

// From this many tokens on, a product runs as tiles of 8 tokens (the last one padded): below it,
// the padding would cost more than the tiles save.
#define GEMM_MIN_TOKENS 4

// From this many tokens on, a product on a CPU with AVX-512 VNNI runs as quant_vnni.c's tiles of
// 16 tokens. Measured on the 16-core Xeon, the 7 products of a layer (book/m5-quantization.md,
// "VNNI tiles"): at 8 tokens the lane kernels of quant_avx512.c (4 tokens at a time) were faster
// on one thread and about even on 16 (half of each tile's lanes are padding); at 12 the tiles
// were 1.1-2x faster.
#ifndef VNNI_MIN_TOKENS   // (-D overrides it, to time the alternatives)
#define VNNI_MIN_TOKENS 12
#endif

// How a product of n_tokens tokens runs. The tiles' float half is vector code without FMA: the
// plain kernels' bits as long as quant_dot.c is compiled without FMA too (no -march; gcc in ISO C
// mode never fuses). A build that targets FMA, where clang may fuse your `sum += ...`, keeps the
// kernels above. The VNNI tiles are exact, so they serve the exact choice (quant_set_simd_exact)
// too; PS_SIMD=avx2 leaves them out with the rest of AVX-512.
enum Route { ROWS_EACH, AVX2_TILES, VNNI_TILES, AVX512_LANES };
static enum Route route(int n_tokens) {
    const int k = kind();
#if PS_SIMD_AVX2 && !defined(__FMA__)
    if ((k == SIMD_AVX2 || k == SIMD_AVX512) && vnni && n_tokens >= VNNI_MIN_TOKENS) return VNNI_TILES;
    if (k == SIMD_AVX2 && n_tokens >= GEMM_MIN_TOKENS) return AVX2_TILES;
#else
    (void)n_tokens;
#endif
    return k == SIMD_AVX512 ? AVX512_LANES : ROWS_EACH;
}

static size_t gemm_bytes(int cols, int n_tokens) {
    return (size_t)(n_tokens + GEMM_TOKENS - 1) / GEMM_TOKENS * (size_t)(cols / 32) * sizeof(TokenBlock8);
}

// Token t (of n_tokens) into its lane of its group's TokenBlock8s; the last token also zeroes the
// lanes after it (padding: computed, never stored).
static void gemm_prepare(DType type, const QuantAct *x, int cols, int t, int n_tokens, TokenBlock8 *tiles) {
    const int blocks = cols / 32, lane = t % GEMM_TOKENS;
    TokenBlock8 *group = tiles + (size_t)(t / GEMM_TOKENS) * blocks;
    for (int k = 0; k < blocks; k++) {
        int8_t q[32];
        for (int j = 0; j < 32; j++) {   // the order of the weights' nibbles for Q4A: even ones, then odd
            const int from = type == DT_Q4A ? (j < 16 ? 2 * j : 2 * (j - 16) + 1) : j;
            const int v = x[k].qs[from];
            q[j] = (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);   // as quant_avx2_narrow (vpacksswb)
        }
        for (int s = 0; s < 8; s++) memcpy(group[k].q[s][lane], q + 4 * s, 4);
        group[k].d[lane] = x[k].d;
        group[k].sum[lane] = x[k].sum;
        if (t == n_tokens - 1)
            for (int pad = lane + 1; pad < GEMM_TOKENS; pad++) {
                for (int s = 0; s < 8; s++) memset(group[k].q[s][pad], 0, 4);
                group[k].d[pad] = 0.0f;
                group[k].sum[pad] = 0;
            }
    }
}

// ---- activations prepared once per product (quant_dot.c), shared by its threads ----

size_t quant_simd_prep_bytes(DType type, int cols, int n_tokens) {
    switch (route(n_tokens)) {
    case VNNI_TILES: return quant_vnni_bytes(cols, n_tokens);
    case AVX2_TILES: return gemm_bytes(cols, n_tokens);
    case AVX512_LANES: return quant_avx512_prep_bytes(type, cols) * (size_t)n_tokens;
    default: return 0;
    }
}

void quant_simd_prepare(DType type, const QuantAct *x, int cols, int t, int n_tokens, void *prepared) {
    switch (route(n_tokens)) {
    case VNNI_TILES: quant_vnni_prepare(type, x, cols, t, n_tokens, prepared); break;
    case AVX512_LANES:
        quant_avx512_prepare(type, x, cols, (uint8_t *)prepared + quant_avx512_prep_bytes(type, cols) * (size_t)t);
        break;
    default: gemm_prepare(type, x, cols, t, n_tokens, prepared); break;
    }
}

void quant_simd_rows_prepared(float *out, const void *prepared, const void *w, DType type, int rows, int cols,
                              int n_tokens, int row_begin, int row_end) {
    switch (route(n_tokens)) {
    case VNNI_TILES: quant_vnni_gemm(type, w, rows, cols, prepared, n_tokens, row_begin, row_end, out); return;
    case AVX512_LANES:
        quant_avx512_rows_prepared(out, prepared, w, type, rows, cols, n_tokens, row_begin, row_end);
        return;
    default:
#if PS_SIMD_AVX2
        quant_avx2_gemm(type, w, rows, cols, prepared, n_tokens, row_begin, row_end, out);
#else
        abort();   // unreachable: nothing is prepared for other kernels
#endif
    }
}

bool quant_simd_prompt_exact(int n_tokens) {
    return quant_simd_exact() || route(n_tokens) == VNNI_TILES;
}

void quant_simd_rows(float *out, const QuantAct *x, const void *w, DType type, int rows, int cols,
                     int n_tokens, int row_begin, int row_end) {
    // A route that prepares its activations (the tiles, the AVX-512 lane kernels): prepared here
    // by this thread alone, as quant_dot.c's threads would have shared them.
    const size_t prep_bytes = quant_simd_prep_bytes(type, cols, n_tokens);
    if (prep_bytes) {
        static _Thread_local Scratch prepared;
        void *mem = scratch_reserve(&prepared, prep_bytes);
        for (int t = 0; t < n_tokens; t++) quant_simd_prepare(type, x + (size_t)t * (cols / 32), cols, t, n_tokens, mem);
        quant_simd_rows_prepared(out, mem, w, type, rows, cols, n_tokens, row_begin, row_end);
        return;
    }
    if (kind() == SIMD_NEON_LANES) {
        quant_neon_lanes_rows(out, x, w, type, rows, cols, n_tokens, row_begin, row_end);
        return;
    }
    const size_t row_bytes = quant_row_bytes(type, cols);
    const int blocks = cols / 32;
    ActBlocks all;
    prepare(type, x, (size_t)n_tokens * blocks, &all);
    int r = row_begin;
    for (; r + 4 <= row_end; r += 4) {
        const uint8_t *w_rows = (const uint8_t *)w + (size_t)r * row_bytes;
        for (int t = 0; t < n_tokens; t++) {
            const ActBlocks a = acts_from(&all, (size_t)t * blocks);
            float four[4];
            dot_4_rows(four, type, w_rows, row_bytes, &a, blocks);
            for (int i = 0; i < 4; i++) out[(size_t)t * rows + r + i] = four[i];
        }
    }
    for (; r < row_end; r++) {
        const uint8_t *w_row = (const uint8_t *)w + (size_t)r * row_bytes;
        for (int t = 0; t < n_tokens; t++) {
            const ActBlocks a = acts_from(&all, (size_t)t * blocks);
            out[(size_t)t * rows + r] = dot_row(type, w_row, &a, blocks);
        }
    }
}
