// M5 tests, part 5: the q4_0 KV cache (kv_q4.h). Its rows are your Q4_0 blocks, each row's scales
// first and then their nibbles, so a row must hold exactly the scales and nibbles your
// quantize_row_q4_0 writes and read back as your dequantize_row_q4_0 gives them; the SIMD row
// kernels must agree with the plain C ones (key dots bit for bit on x86-64, values within float
// rounding); attention over such rows must equal M2's attention() over the same values read back as
// f32, with the query rounded to 8 bits as the dot products round it (kv_q8_query); and the whole
// engine with a q4_0 cache is held to Hugging Face's logits and greedy runs (the goldens of the
// q8_0 cache's test, golden/m2 and golden/m3), within the error that 4 bits per value cost
// (measured: tolerance()).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kv_q4.h"
#include "kv_quant_check.h"
#include "kvcache.h"
#include "model.h"
#include "quant.h"
#include "quant_model.h"

static const char *MODELS[] = {"tiny", "tiny-mha-f32", "tiny-gqa2-bf16", "small-gqa4-bf16", "small-tiedcopy-f32"};
#define N_MODELS (sizeof MODELS / sizeof MODELS[0])

// The logits' error a q4_0 cache may add, per model: |got - transformers'| <= tol x (1 + |logit|).
// A 4-bit cache is coarse, and this says so. Measured (the largest err / (1 + |logit|) over every
// logit of the golden sequence; plain C, AVX2 and AVX-512 alike): models/tiny 0.56 (0.70
// absolute; a q8_0 cache 0.036, f16 0.0016), tiny-gqa2-bf16 3.0 (3.7 absolute, logits up to 17.7;
// q8_0 0.25). A block's step is its largest magnitude / 8 where q8_0's is / 127: 16 times
// coarser, and the errors are 12-16 times q8_0's. tiny-gqa2-bf16 (random weights, head_dim 32)
// has one scale per head row. Limits about twice the measured, as for q8_0: they catch a wrong
// nibble, scale or offset (errors of the logits' own size and more), not the rounding itself,
// and the greedy check that follows from them (a parting allowed where transformers' top two are
// within twice the limit) is as loose: the row and kernel tests above carry the exactness. The
// other models' head_dim (16, 24, 48) is not a multiple of 32: they must be refused.
static double tolerance(const char *model) { return !strcmp(model, "tiny") ? 1.0 : 6.0; }

// Rows as a cache holds them: n values (a multiple of 32) per row, stored by the format, with a
// block of zeros (all-zero blocks get d = 0) and ties for the largest magnitude (the first wins).
static void random_rows(float *x, void *rows, int n_rows, int n, uint32_t *seed) {
    for (size_t i = 0; i < (size_t)n_rows * n; i++) x[i] = kvc_uniform(seed, -3.0f, 3.0f);
    x[5] = 0.0f;
    if (n_rows * n >= 96) {
        for (int i = 32; i < 64; i++) x[i] = 0.0f;
        x[70] = 4.0f, x[80] = -4.0f;   // block 2: +4 comes first, so d = -0.5 and -4 clamps to 7 x 0.5
    }
    kvc_store_rows(KV_Q4_0, rows, x, n_rows, n);
}

static void t_row(void) {
    const KVFormat *f = kv_format(KV_Q4_0);
    PS_CHECK(f && !strcmp(f->name, "q4_0") && kv_format_named("q4_0") == f, "quant_register() registers q4_0");
    PS_CHECK(f->block == QK4_0 && f->block_bytes == sizeof(BlockQ4_0), "a block is 18 bytes, as a BlockQ4_0");
    enum { N = 128, ROWS = 3 };
    float x[N * ROWS], back[N * ROWS], want_back[N * ROWS];
    BlockQ4_0 want[N * ROWS / QK4_0];
    uint8_t rows[N * ROWS / QK4_0 * sizeof(BlockQ4_0)];
    uint32_t seed = 7;
    random_rows(x, rows, ROWS, N, &seed);
    quantize_row_q4_0(x, want, N * ROWS);   // your quantizer: the cache's bytes must be its bytes
    // The layout, by hand: a row of 128 values is its 4 scales (8 bytes), then 4 x 16 bytes of nibbles.
    PS_CHECK(kv_q4_scale_at(rows, 3) == rows + 6 && kv_q4_nibbles_at(rows, 128, 0) == rows + 8 &&
                 kv_q4_nibbles_at(rows, 128, 3) == rows + 56,
             "a row of 128 values: scales at bytes 0, 2, 4, 6; nibbles at 8, 24, 40, 56");
    int at = kvc_block_differs(KV_Q4_0, rows, ROWS, N, want);
    PS_CHECK(at < 0, "block %d of a q4_0 row: not the scale and nibbles quantize_row_q4_0 writes", at);
    const bool simd = quant_simd_enabled();   // the same bytes with the SIMD kernels off or on
    quant_set_simd(!simd);
    memset(rows, 0, sizeof rows);
    kvc_store_rows(KV_Q4_0, rows, x, ROWS, N);
    quant_set_simd(simd);
    at = kvc_block_differs(KV_Q4_0, rows, ROWS, N, want);
    PS_CHECK(at < 0, "with SIMD %s, block %d of a q4_0 row: not the scale and nibbles quantize_row_q4_0 writes",
             simd ? "off" : "on", at);
    for (int j = 0; j < ROWS; j++) f->load(back + j * N, rows + j * kv_row_bytes(KV_Q4_0, N), N);
    dequantize_row_q4_0(want, want_back, N * ROWS);
    PS_CHECK(memcmp(back, want_back, sizeof back) == 0, "a q4_0 row reads back as dequantize_row_q4_0 gives it");
    for (int i = 0; i < N * ROWS; i++) {
        const float d = fabsf(q_f16_at(kv_q4_scale_at(rows + i / N * kv_row_bytes(KV_Q4_0, N), i % N / QK4_0)));
        // Half a step, or a whole one for a value beyond 7.5 steps on the side opposite to the
        // block's largest magnitude (q - 8 stops at 7 there); plus what rounding d to f16 moves
        // the farthest level (8 steps) by.
        const float step = fabsf(x[i]) > 7.5f * d ? d : 0.5f * d;
        PS_CHECK(fabsf(back[i] - x[i]) <= step + 8.0f * d * 0x1p-11f, "value %d: %g came back as %g (step %g)", i, x[i],
                 back[i], d);
    }
    PS_CHECK(back[80] == -3.5f && back[70] == 4.0f, "the tie: 4 exact, -4 clamped to -3.5 (got %g, %g)", back[70], back[80]);
    // Many blocks of every scale (subnormal steps; values past 8 x 65504, whose d is an f16
    // infinity), with ties for the largest magnitude and blocks of zeros and -0: the same bytes
    // with the SIMD kernels on and off (their store has its own copy of the rounding).
    enum { MANY = 64 * 32 };
    static float many[MANY];
    static BlockQ4_0 ref[MANY / 32];
    static uint8_t got[MANY / 32 * sizeof(BlockQ4_0)];   // one row of MANY values
    for (int i = 0; i < MANY; i++) {
        const int block = i / 32;
        const float scale = ldexpf(1.0f, block % 64 - 40);   // 2^-40 .. 2^23
        many[i] = block % 7 == 3 ? (i % 2 ? -0.0f : 0.0f) : scale * kvc_uniform(&seed, -1.0f, 1.0f);
        if (block % 5 == 1 && i % 32 == 9) many[i] = -many[i - 4];   // a tie of opposite signs
        if (block % 5 == 2 && i % 32 == 31) many[i] = 1.5f * scale;   // the largest, last
    }
    quantize_row_q4_0(many, ref, MANY);
    for (int pass = 0; pass < 2; pass++) {
        quant_set_simd(pass == 1);
        memset(got, 0xa5, sizeof got);
        f->store(got, many, MANY);
        const int b = kvc_block_differs(KV_Q4_0, got, 1, MANY, ref);
        PS_CHECK(b < 0, "with SIMD %s, block %d (values up to 2^%d): not what quantize_row_q4_0 writes",
                 pass ? "on" : "off", b, b % 64 - 40);
    }
    quant_set_simd(simd);
    // A block with a value that is not finite comes back as NaN, without undefined conversions.
    x[40] = INFINITY;
    x[100] = NAN;
    f->store(rows, x, N);
    f->load(back, rows, N);
    PS_CHECK(isnan(back[33]) && isnan(back[127]) && back[0] == back[0] && back[64] == back[64],
             "blocks with an infinity or a NaN read back NaN, the others as they were");
    // Sizes: 18 bytes per 32 values; Qwen3-0.6B at 4096 positions needs 132 MB (q8_0: 250, f16: 470).
    Config c = {.dim = 1024, .ffn_dim = 3072, .n_layers = 28, .n_heads = 16, .n_kv_heads = 8,
                .head_dim = 128, .vocab_size = 151936, .max_seq_len = 40960};
    PS_CHECK(kv_row_bytes(KV_Q4_0, 128) == 72 && kv_cache_bytes_as(&c, 4096, KV_Q4_0) == 132120576u,
             "q4_0 cache of Qwen3-0.6B at ctx 4096: %zu bytes, want 2 x 28 x 8 x 72 x 4096 = 132120576",
             kv_cache_bytes_as(&c, 4096, KV_Q4_0));
}

// |a - b| within rounding of sums whose terms have absolute values adding up to `mass`: each of
// the plain loop and the SIMD one is within (terms + 16) x 2^-24 x mass of the exact sum.
static bool close_sums(float a, float b, int terms, double mass) {
    return fabs((double)a - b) <= 2.0 * (terms + 16) * 0x1p-24 * mass + 1e-30;
}

static const void *row_at(const void *rows, size_t row_bytes, int j) { return (const char *)rows + j * row_bytes; }
// Value i of block b of a row of n values, as q - 8; and that block's scale.
static int nibble(const void *row, int n, int b, int i) {
    const uint8_t *qs = kv_q4_nibbles_at(row, n, b);
    return i < 16 ? (qs[i] & 0x0f) - 8 : (qs[i - 16] >> 4) - 8;
}
static float scale(const void *row, int b) { return q_f16_at(kv_q4_scale_at(row, b)); }

// One SIMD set against the plain C.
static void simd_against_plain(const KVRowKernels *simd, const float *x, uint32_t seed) {
    const KVRowKernels *plain = kv_q4_kernels_plain();
    enum { MAX_N = 160, MAX_ROWS = 37, MAX_Q = 3 };
    static float q[MAX_Q * MAX_N], w[MAX_Q * 40], out_p[MAX_Q * MAX_N], out_s[MAX_Q * MAX_N];
    static float sc_p[MAX_Q * 40], sc_s[MAX_Q * 40];
    static KVQ8Query qp[MAX_Q * MAX_N / QK8_0];
    printf("q4_0 cache kernels: %s against plain C\n", simd->name);
    enum { SIZES = 4 };
    const int sizes[SIZES] = {32, 96, 128, 160};   // 1, 3, 4 and 5 blocks: the AVX-512 values take 4 at a time
    int checked = 0;
    // Rows one after the other, and further apart (as a cache's rows of one head may lie, a row
    // of every head apart): every load, the last rows' too, must follow row_bytes.
    for (int layout = 0; layout < 2 * SIZES; layout++) {
        const int n = sizes[layout % SIZES], apart = layout / SIZES;
        const size_t row_bytes = kv_row_bytes(KV_Q4_0, apart ? MAX_N + 32 : n);
        static uint8_t packed[MAX_ROWS * (MAX_N + 32) / QK4_0 * sizeof(BlockQ4_0)];
        for (int j = 0; j < MAX_ROWS; j++) kv_format(KV_Q4_0)->store((char *)packed + j * row_bytes, x + j * n, (size_t)n);
        for (int n_q = 1; n_q <= MAX_Q; n_q++)
            for (int n_rows = 1; n_rows <= MAX_ROWS; n_rows += 4) {
                for (int i = 0; i < n_q * n; i++) q[i] = kvc_uniform(&seed, -2.0f, 2.0f);
                for (int i = 0; i < n_q * 40; i++) w[i] = kvc_uniform(&seed, 0.0f, 1.0f);
                for (int i = 0; i < n_q * n; i++) out_p[i] = out_s[i] = kvc_uniform(&seed, -1.0f, 1.0f);
                plain->dot_rows(sc_p, 40, q, n_q, n_rows, packed, row_bytes, n);
                simd->dot_rows(sc_s, 40, q, n_q, n_rows, packed, row_bytes, n);
                plain->add_rows(out_p, w, 40, n_q, n_rows, packed, row_bytes, n);
                simd->add_rows(out_s, w, 40, n_q, n_rows, packed, row_bytes, n);
                kv_q8_query(qp, q, n_q * n, false);   // the query as the dot products see it
                for (int h = 0; h < n_q; h++) {
                    for (int j = 0; j < n_rows; j++) {
                        const void *k = row_at(packed, row_bytes, j);
                        const KVQ8Query *qh = qp + h * (n / QK8_0);
                        double mass = 0, exact = 0;   // per block, its scales times an exact integer sum
                        for (int b = 0; b < n / QK4_0; b++) {
                            long isum = 0;
                            for (int i = 0; i < QK4_0; i++) isum += qh[b].qs[i] * nibble(k, n, b, i);
                            const double term = (double)qh[b].d * scale(k, b) * (double)isum;
                            mass += fabs(term), exact += term;
                        }
                        const float p = sc_p[h * 40 + j], s = sc_s[h * 40 + j], one = simd->dot(q + h * n, k, n);
#if defined(__x86_64__)   // the plain C's terms in its order, and x86-64 compilers do not fuse them here
                        PS_CHECK(memcmp(&p, &s, sizeof p) == 0 && memcmp(&p, &one, sizeof p) == 0,
                                 "n %d, %d heads, row %d: dot plain %.9g, SIMD %.9g and %.9g: not the same bits", n,
                                 n_q, j, p, s, one);
#endif
                        PS_CHECK(close_sums(p, (float)exact, n, mass) && close_sums(p, s, n, mass) &&
                                     close_sums(p, one, n, mass),
                                 "n %d, %d heads, row %d of %d, head %d: dot exact %.9g, plain %.9g, SIMD %.9g and %.9g",
                                 n, n_q, j, n_rows, h, exact, p, s, one);
                    }
                    for (int i = 0; i < n; i++) {   // the mass of output i: where it started, and every row's term
                        double mass = fabs(out_p[h * n + i]);
                        for (int j = 0; j < n_rows; j++) {
                            const void *v = row_at(packed, row_bytes, j);
                            mass += fabs(w[h * 40 + j] * scale(v, i / 32) * nibble(v, n, i / 32, i % 32));
                        }
                        PS_CHECK(close_sums(out_p[h * n + i], out_s[h * n + i], n_rows, mass),
                                 "n %d, %d heads, %d rows: output %d of head %d, plain %.9g, SIMD %.9g", n, n_q, n_rows,
                                 i, h, out_p[h * n + i], out_s[h * n + i]);
                    }
                }
                checked++;
            }
    }
    PS_CHECK(checked == 2 * SIZES * MAX_Q * 10, "%s: %d cases checked", simd->name, checked);
    // The same query buffer with new values (the kernels keep the last query's blocks): new
    // scores; and a query block with a value that is not finite: NaN scores, from both.
    enum { N = 128 };
    const size_t row_bytes = kv_row_bytes(KV_Q4_0, N);
    static uint8_t rows[5 * N / QK4_0 * sizeof(BlockQ4_0)];
    kvc_store_rows(KV_Q4_0, rows, x, 5, N);
    const KVRowKernels *both[2] = {plain, simd};
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N; i++) q[i] = round == 2 && i == 70 ? NAN : kvc_uniform(&seed, -2.0f, 2.0f);
        if (round == 1) q[70] = INFINITY;
        for (int k = 0; k < 2; k++) {
            both[k]->dot_rows(k ? sc_s : sc_p, 40, q, 1, 5, rows, row_bytes, N);
            both[k]->dot_rows(k ? sc_s : sc_p, 40, q, 1, 5, rows, row_bytes, N);   // again, the same
        }
        for (int j = 0; j < 5; j++) {
            const float one = simd->dot(q, row_at(rows, row_bytes, j), N);
            const float by_plain = plain->dot(q, row_at(rows, row_bytes, j), N);
            // finite: |q| <= 2 and |k| <= 3 (plus a step) bound the mass of the 128 terms by 1024
            const bool ok = round == 1 || round == 2
                                ? isnan(sc_p[j]) && isnan(sc_s[j]) && isnan(one) && isnan(by_plain)
                                : sc_p[j] == sc_p[j] && sc_p[j] == by_plain && close_sums(sc_p[j], sc_s[j], N, 1024) &&
                                      close_sums(sc_p[j], one, N, 1024);
            PS_CHECK(ok, "round %d (%s), row %d: plain %.9g and %.9g, SIMD %.9g and %.9g", round,
                     round == 1 ? "an infinity" : round == 2 ? "a NaN" : "finite", j, sc_p[j], by_plain, sc_s[j], one);
        }
    }
}

// Every SIMD set this CPU has (the AVX2 one on an AVX-512 machine too), against the plain C.
static void t_simd(void) {
    enum { MAX_N = 160, MAX_ROWS = 37 };   // simd_against_plain's largest rows
    static float x[MAX_ROWS * MAX_N];
    static uint8_t rows[MAX_ROWS * MAX_N / QK4_0 * sizeof(BlockQ4_0)];
    static BlockQ4_0 blocks[MAX_ROWS * MAX_N / QK4_0];
    static KVQ8Query qp[MAX_N / QK8_0];
    uint32_t seed = 11;
    random_rows(x, rows, MAX_ROWS, MAX_N, &seed);
    quantize_row_q4_0(x, blocks, MAX_ROWS * MAX_N);   // your quantizer (and quantize_act): a TODO stops here
    kv_q8_query(qp, x, MAX_N, false);
    const char *names[] = {"avx2", "avx512", "neon"};
    int sets = 0;
    for (int i = 0; i < 3; i++) {
        const KVRowKernels *simd = kv_q4_kernels_cpu(names[i]);
        if (simd) simd_against_plain(simd, x, seed), sets++;
    }
    if (!sets) PS_SKIP("no SIMD kernels for the q4_0 cache on this CPU");
    PS_CHECK(kv_q4_kernels_simd() != NULL, "the cache has SIMD kernels to choose");
}

static void t_attention(void) {
    uint32_t seed = 5;
    // Key counts around the kernels' 16 and 32 rows and the block (256, also the tile); groups of 2
    // query heads, 1, and 3; with the SIMD kernels off (your quantizer then stores the rows) and on.
    const int keys[] = {1, 17, 32, 33, 255, 257, 1000};
    const bool simd_was = quant_simd_enabled();
    for (int pass = 0; pass < 2; pass++) {
        quant_set_simd(pass == 1);
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            kvc_against_m2(KV_Q4_0, 16, 8, 128, keys[i], &seed);
            kvc_against_m2(KV_Q4_0, 4, 4, 96, keys[i], &seed);
            kvc_against_m2(KV_Q4_0, 6, 2, 64, keys[i], &seed);
        }
    }
    quant_set_simd(simd_was);
}

// Every model through a q4_0 cache, twice: with the plain C kernels (so your quantizers: the cache
// stores through quantize_row_q4_0 and rounds the query by quantize_act), then with this CPU's
// SIMD ones, each held to the same tolerances.
static void t_cache(void) {
    const bool simd_was = quant_simd_enabled();
    int tested = 0, equal = 0, all = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && !kv_q4_kernels_simd()) break;
        quant_set_simd(pass == 1);
        printf("-- q4_0 cache kernels: %s\n", pass == 1 ? kv_q4_kernels_simd()->name : "plain C");
        for (size_t i = 0; i < N_MODELS; i++) {
            const char *dir = ps_model_try(MODELS[i]);
            if (!dir) continue;
            Model m;
            PS_CHECK(model_load(&m, dir, PS_MAP_READ) == 0, "cannot load %s", dir);
            if (m.cfg.head_dim % QK4_0) {   // refused, with a message that says why
                KVCache kc;
                PsCapture cap;
                ps_capture_begin(&cap, 2);
                const int status = kv_cache_init_as(&kc, &m, 16, 0, KV_Q4_0);
                char *said = ps_capture_end(&cap);
                PS_CHECK(status == -1 && strstr(said, "q4_0") && strstr(said, "head_dim"),
                         "%s: head_dim %d is not a multiple of 32: a q4_0 cache must be refused; it said: %s",
                         MODELS[i], m.cfg.head_dim, said);
                free(said);
            } else {
                double relative = 0;
                const double worst = kvc_logits_against_hf(KV_Q4_0, MODELS[i], &m, tolerance(MODELS[i]), &relative);
                printf("%s, q4_0 cache: logits within %.2g of transformers' (%.2g x (1 + |logit|))\n", MODELS[i],
                       worst, relative);
                int n_all = 0;
                const int n_equal = kvc_greedy_against_hf(KV_Q4_0, MODELS[i], &m, tolerance(MODELS[i]), 0, &n_all);
                printf("%s, q4_0 cache: %d of %d greedy ids equal Hugging Face's\n", MODELS[i], n_equal, n_all);
                equal += n_equal, all += n_all;
                tested++;
            }
            model_free(&m);
        }
    }
    quant_set_simd(simd_was);
    printf("%d of %d ids generated with a q4_0 cache equal Hugging Face's\n", equal, all);
    PS_CHECK(tested > 0 && all >= 200, "only %d ids compared (models/tiny, or run make synth)", all);
}

static const PsTest TESTS[] = {
    {"quant.kv-q4-row", t_row, "book/m5-quantization.md#kv-q4", 0},
    {"quant.kv-q4-simd", t_simd, "book/m5-quantization.md#kv-q4", 0},
    {"quant.kv-q4-attention", t_attention, "book/m5-quantization.md#kv-q4", 30},
    {"quant.kv-q4-cache", t_cache, "book/m5-quantization.md#kv-q4", 120},
};

int main(int argc, char **argv) {
    if (quant_register() != 0) return 1;   // q4_0 joins M4's cache formats
    return ps_main("M5", TESTS, PS_COUNT(TESTS), argc, argv);
}
