// M5 tests, part 4: the q8_0 KV cache (kv_q8.h). Its rows are your Q8_0 blocks, each row's scales
// first and then their quants, so a row must hold exactly the scales and quants your
// quantize_row_q8_0 writes and come back within half a step; the SIMD row kernels must agree with
// the plain C ones within float rounding; attention over such rows must equal M2's attention() over
// the same values read back as f32, with the query rounded to 8 bits as the dot products round it
// (kv_q8_query); and the whole engine with a q8_0 cache is held to Hugging Face's logits and greedy
// runs (the goldens of the f16 cache's test, golden/m2 and golden/m3), within the error that 8 bits
// per value cost (measured: tolerance()).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kv_q8.h"
#include "kv_quant_check.h"
#include "kvcache.h"
#include "model.h"
#include "quant.h"
#include "quant_model.h"

static const char *MODELS[] = {"tiny", "tiny-mha-f32", "tiny-gqa2-bf16", "small-gqa4-bf16", "small-tiedcopy-f32"};
#define N_MODELS (sizeof MODELS / sizeof MODELS[0])

// The logits' error a q8_0 cache may add, per model: |got - transformers'| <= tol x (1 + |logit|).
// Measured (the largest err / (1 + |logit|) over every logit of the golden sequence): models/tiny
// 0.036 (0.047 absolute; an f16 cache: 0.0016, f32: 2e-5), tiny-gqa2-bf16 0.25 (0.35 absolute,
// logits up to 17.7; f16: 0.0094). Keys and values keep 8 bits where f16 keeps 11, and a block's
// step is set by its largest value, so most values lose more than 3 bits: 20-40x f16's error.
// The query is rounded to 8 bits per block too, for the integer dot products (kv_q8.h): before
// that, 0.024 and 0.19. tiny-gqa2-bf16 (random weights, head_dim 32) has a single scale per head
// row. About twice the measured. The other models' head_dim (16, 24, 48) is not a multiple of 32:
// they must be refused.
static double tolerance(const char *model) { return !strcmp(model, "tiny") ? 7.5e-2 : 5e-1; }

// Rows as a cache holds them: n values (a multiple of 32) per row, stored by the format.
static void random_rows(float *x, void *rows, int n_rows, int n, uint32_t *seed) {
    for (size_t i = 0; i < (size_t)n_rows * n; i++) x[i] = kvc_uniform(seed, -3.0f, 3.0f);
    x[5] = 0.0f;   // and a block of zeros (all-zero blocks get d = 0)
    if (n_rows * n >= 64)
        for (int i = 32; i < 64; i++) x[i] = 0.0f;
    kvc_store_rows(KV_Q8_0, rows, x, n_rows, n);
}

static void t_row(void) {
    const KVFormat *f = kv_format(KV_Q8_0);
    PS_CHECK(f && !strcmp(f->name, "q8_0") && kv_format_named("q8_0") == f, "quant_register() registers q8_0");
    PS_CHECK(f->block == QK8_0 && f->block_bytes == sizeof(BlockQ8_0), "a block is 34 bytes, as a BlockQ8_0");
    enum { N = 128, ROWS = 3 };
    float x[N * ROWS], back[N * ROWS];
    BlockQ8_0 want[N * ROWS / QK8_0];
    uint8_t rows[N * ROWS / QK8_0 * sizeof(BlockQ8_0)];
    uint32_t seed = 7;
    random_rows(x, rows, ROWS, N, &seed);
    quantize_row_q8_0(x, want, N * ROWS);   // your quantizer: the cache's bytes must be its bytes
    // The layout, by hand: a row of 128 values is its 4 scales (8 bytes), then 4 x 32 quants.
    PS_CHECK(kv_q8_scale_at(rows, 3) == rows + 6 && kv_q8_quants_at(rows, 128, 0) == (const int8_t *)rows + 8 &&
                 kv_q8_quants_at(rows, 128, 3) == (const int8_t *)rows + 104,
             "a row of 128 values: scales at bytes 0, 2, 4, 6; quants at 8, 40, 72, 104");
    int at = kvc_block_differs(KV_Q8_0, rows, ROWS, N, want);
    PS_CHECK(at < 0, "block %d of a q8_0 row: not the scale and quants quantize_row_q8_0 writes", at);
    // with the SIMD kernels off too (the cache then quantizes through quantize_row_q8_0 itself;
    // with them, through the SIMD rounding of the activations: the same bytes)
    const bool simd = quant_simd_enabled();
    quant_set_simd(!simd);
    memset(rows, 0, sizeof rows);
    kvc_store_rows(KV_Q8_0, rows, x, ROWS, N);
    quant_set_simd(simd);
    at = kvc_block_differs(KV_Q8_0, rows, ROWS, N, want);
    PS_CHECK(at < 0, "with SIMD %s, block %d of a q8_0 row: not the scale and quants quantize_row_q8_0 writes",
             simd ? "off" : "on", at);
    for (int j = 0; j < ROWS; j++) f->load(back + j * N, rows + j * kv_row_bytes(KV_Q8_0, N), N);
    for (int i = 0; i < N * ROWS; i++) {
        const float d = q_f16_at(kv_q8_scale_at(rows + i / N * kv_row_bytes(KV_Q8_0, N), i % N / QK8_0));
        // Half a step of rounding, plus what rounding d to f16 moves the largest |q| = 127 by.
        PS_CHECK(fabsf(back[i] - x[i]) <= 0.5f * d + 127.0f * d * 0x1p-11f, "value %d: %g came back as %g (step %g)", i,
                 x[i], back[i], d);
    }
    // A block with a value that is not finite comes back as NaN, without undefined conversions.
    x[40] = INFINITY;
    f->store(rows, x, N);
    f->load(back, rows, N);
    PS_CHECK(isnan(back[33]) && back[0] == back[0], "a block with infinity reads back NaN, the others as they were");
    // Sizes: 34 bytes per 32 values; Qwen3-0.6B at 4096 positions needs 0.25 GB (f16: 0.47).
    Config c = {.dim = 1024, .ffn_dim = 3072, .n_layers = 28, .n_heads = 16, .n_kv_heads = 8,
                .head_dim = 128, .vocab_size = 151936, .max_seq_len = 40960};
    PS_CHECK(kv_row_bytes(KV_Q8_0, 128) == 136 && kv_cache_bytes_as(&c, 4096, KV_Q8_0) == 249561088u,
             "q8_0 cache of Qwen3-0.6B at ctx 4096: %zu bytes, want 2 x 28 x 8 x 136 x 4096 = 249561088",
             kv_cache_bytes_as(&c, 4096, KV_Q8_0));
}

// |a - b| within rounding of sums whose terms have absolute values adding up to `mass`: each of
// the plain loop and the SIMD one is within (terms + 16) x 2^-24 x mass of the exact sum.
static bool close_sums(float a, float b, int terms, double mass) {
    return fabs((double)a - b) <= 2.0 * (terms + 16) * 0x1p-24 * mass + 1e-30;
}

// The SIMD sets of the q8_0 cache, each held to the plain C by the same checks (check_set): its
// name for kv_q8_kernels_cpu, and what a CPU that cannot run it lacks.
typedef struct {
    const char *name, *needs;
} KVQ8Set;
static const KVQ8Set SETS[] = {
#if defined(__x86_64__)
    {"avx2", "AVX2, FMA and F16C"},
    {"avx512", "AVX-512 VNNI"},
#elif defined(__aarch64__)
    {"neon", "NEON"},
#else
    {"none", "SIMD kernels for the q8_0 cache"},
#endif
};

static void check_set(size_t which) {
    const KVRowKernels *plain = kv_q8_kernels_plain(), *simd = NULL;
    enum { MAX_N = 128, MAX_ROWS = 37, MAX_Q = 3 };
    static float x[MAX_ROWS * MAX_N], q[MAX_Q * MAX_N], w[MAX_Q * 40], out_p[MAX_Q * MAX_N], out_s[MAX_Q * MAX_N];
    static float sc_p[MAX_Q * 40], sc_s[MAX_Q * 40];
    static uint8_t rows[MAX_ROWS * MAX_N / QK8_0 * sizeof(BlockQ8_0)];
    static KVQ8Query qp[MAX_Q * MAX_N / QK8_0];
    uint32_t seed = 11;
    random_rows(x, rows, MAX_ROWS, MAX_N, &seed);   // your quantizers (or quantize_act, below): a TODO stops here
    if (which < PS_COUNT(SETS)) simd = kv_q8_kernels_cpu(SETS[which].name);
    if (!simd) PS_SKIP("no %s", which < PS_COUNT(SETS) ? SETS[which].needs : "such set on this CPU");
    printf("q8_0 cache kernels: %s against plain C\n", simd->name);
    const int sizes[] = {32, 96, 128};
    int checked = 0;
    // Rows one after the other, and further apart (as a cache's rows of one head may lie, a row
    // of every head apart): every load, the last rows' too, must follow row_bytes.
    for (int layout = 0; layout < 2 * 3; layout++) {
        const int n = sizes[layout % 3], apart = layout / 3;
        const size_t row_bytes = kv_row_bytes(KV_Q8_0, apart ? MAX_N + 32 : n);
        static uint8_t packed[MAX_ROWS * (MAX_N + 32) / QK8_0 * sizeof(BlockQ8_0)];
        for (int j = 0; j < MAX_ROWS; j++) kv_format(KV_Q8_0)->store((char *)packed + j * row_bytes, x + j * n, (size_t)n);
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
                        const void *k = (const char *)packed + j * row_bytes;
                        const KVQ8Query *qh = qp + h * (n / QK8_0);
                        double mass = 0;   // the terms: per block, its scales times an exact integer sum
                        for (int b = 0; b < n / QK8_0; b++) {
                            long isum = 0;
                            for (int i = 0; i < QK8_0; i++) isum += qh[b].qs[i] * kv_q8_quants_at(k, n, b)[i];
                            mass += fabs((double)qh[b].d * q_f16_at(kv_q8_scale_at(k, b)) * (double)isum);
                        }
                        const float one = simd->dot(q + h * n, k, n);
#if defined(__x86_64__)   // the plain C's terms in its order, and x86-64 compilers do not fuse them here
                        PS_CHECK(memcmp(&sc_p[h * 40 + j], &sc_s[h * 40 + j], sizeof(float)) == 0,
                                 "n %d (rows %zu bytes apart), %d heads, row %d: dot plain %.9g, SIMD %.9g: not the same bits", n,
                                 row_bytes, n_q, j, sc_p[h * 40 + j], sc_s[h * 40 + j]);
#endif
                        PS_CHECK(close_sums(sc_p[h * 40 + j], sc_s[h * 40 + j], n, mass) && close_sums(sc_p[h * 40 + j], one, n, mass),
                                 "n %d (rows %zu bytes apart), %d heads, row %d of %d, head %d: dot plain %.9g, SIMD %.9g and %.9g", n,
                                 row_bytes, n_q, j, n_rows, h, sc_p[h * 40 + j], sc_s[h * 40 + j], one);
                    }
                    for (int i = 0; i < n; i++) {   // the mass of output i: where it started, and every row's term
                        double mass = fabs(out_p[h * n + i]);
                        for (int j = 0; j < n_rows; j++) {
                            const void *v = (const char *)packed + j * row_bytes;
                            mass += fabs(w[h * 40 + j] * q_f16_at(kv_q8_scale_at(v, i / 32)) *
                                         kv_q8_quants_at(v, n, i / 32)[i % 32]);
                        }
                        PS_CHECK(close_sums(out_p[h * n + i], out_s[h * n + i], n_rows, mass),
                                 "n %d (rows %zu bytes apart), %d heads, %d rows: output %d of head %d, plain %.9g, SIMD %.9g", n,
                                 row_bytes, n_q, n_rows, i, h, out_p[h * n + i], out_s[h * n + i]);
                    }
                }
                checked++;
            }
    }
    PS_CHECK(checked == 3 * 2 * MAX_Q * 10, "%d cases checked", checked);
    // The same query buffer with new values (the SIMD kernels keep the last query's blocks): new
    // scores; and a query block with a value that is not finite: NaN scores, from both (17 rows:
    // the AVX-512 set's group of 16 and one more).
    const size_t row_bytes = kv_row_bytes(KV_Q8_0, MAX_N);
    const KVRowKernels *both[2] = {plain, simd};
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < MAX_N; i++) q[i] = round == 2 && i == 70 ? NAN : kvc_uniform(&seed, -2.0f, 2.0f);
        if (round == 1) q[70] = INFINITY;
        for (int k = 0; k < 2; k++) {
            both[k]->dot_rows(k ? sc_s : sc_p, 40, q, 1, 17, rows, row_bytes, MAX_N);
            both[k]->dot_rows(k ? sc_s : sc_p, 40, q, 1, 17, rows, row_bytes, MAX_N);   // again, the same
        }
        for (int j = 0; j < 17; j++) {
            const float one = simd->dot(q, (const char *)rows + j * row_bytes, MAX_N);
            // finite: |q| <= 2 and |k| <= 3 bound the mass of the 128 terms by 768
            const bool ok = round > 0 ? isnan(sc_p[j]) && isnan(sc_s[j]) && isnan(one)
                                      : sc_p[j] == sc_p[j] && close_sums(sc_p[j], sc_s[j], MAX_N, 768) &&
                                            close_sums(sc_p[j], one, MAX_N, 768);
            PS_CHECK(ok,
                     "round %d (%s), row %d: plain %.9g, SIMD %.9g and %.9g", round,
                     round == 0 ? "finite" : round == 1 ? "an infinity" : "a NaN", j, sc_p[j], sc_s[j], one);
        }
    }
}

static void t_attention(void) {
    uint32_t seed = 5;
    // Key counts around the kernels' 16 and 32 rows and the block (256, also the tile); groups of 2
    // query heads, 1, and 3.
    const int keys[] = {1, 17, 32, 33, 255, 257, 1000};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        kvc_against_m2(KV_Q8_0, 16, 8, 128, keys[i], &seed);
        kvc_against_m2(KV_Q8_0, 4, 4, 96, keys[i], &seed);
        kvc_against_m2(KV_Q8_0, 6, 2, 64, keys[i], &seed);
    }
}

// Every model through a q8_0 cache, twice: with the plain C kernels (so your quantizers: the cache
// stores through quantize_row_q8_0 and rounds the query by quantize_act), then with this CPU's
// SIMD ones (their own copies of the same rounding), each held to the same tolerances.
static void t_cache(void) {
    const bool simd_was = quant_simd_enabled();
    int tested = 0, equal = 0, all = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && !kv_q8_kernels_simd()) break;
        quant_set_simd(pass == 1);
        printf("-- q8_0 cache kernels: %s\n", pass == 1 ? kv_q8_kernels_simd()->name : "plain C");
        for (size_t i = 0; i < N_MODELS; i++) {
            const char *dir = ps_model_try(MODELS[i]);
            if (!dir) continue;
            Model m;
            PS_CHECK(model_load(&m, dir, PS_MAP_READ) == 0, "cannot load %s", dir);
            if (m.cfg.head_dim % QK8_0) {   // refused, with a message that says why
                KVCache kc;
                PsCapture cap;
                ps_capture_begin(&cap, 2);
                const int status = kv_cache_init_as(&kc, &m, 16, 0, KV_Q8_0);
                char *said = ps_capture_end(&cap);
                PS_CHECK(status == -1 && strstr(said, "q8_0") && strstr(said, "head_dim"),
                         "%s: head_dim %d is not a multiple of 32: a q8_0 cache must be refused; it said: %s",
                         MODELS[i], m.cfg.head_dim, said);
                free(said);
            } else {
                double relative = 0;
                const double worst = kvc_logits_against_hf(KV_Q8_0, MODELS[i], &m, tolerance(MODELS[i]), &relative);
                printf("%s, q8_0 cache: logits within %.2g of transformers' (%.2g x (1 + |logit|))\n", MODELS[i],
                       worst, relative);
                int n_all = 0;
                const int n_equal = kvc_greedy_against_hf(KV_Q8_0, MODELS[i], &m, tolerance(MODELS[i]), 0, &n_all);
                printf("%s, q8_0 cache: %d of %d greedy ids equal Hugging Face's\n", MODELS[i], n_equal, n_all);
                equal += n_equal, all += n_all;
                tested++;
            }
            model_free(&m);
        }
    }
    quant_set_simd(simd_was);
    printf("%d of %d ids generated with a q8_0 cache equal Hugging Face's\n", equal, all);
    PS_CHECK(tested > 0 && all >= 200, "only %d ids compared (models/tiny, or run make synth)", all);
}

static void t_simd(void) { check_set(0); }          // AVX2 (x86-64), NEON (arm64)
#if defined(__x86_64__)
static void t_simd_avx512(void) { check_set(1); }   // x86-64 with AVX-512 VNNI
#endif

static const PsTest TESTS[] = {
    {"quant.kv-q8-row", t_row, "book/m5-quantization.md#kv-q8", 0},
    {"quant.kv-q8-simd", t_simd, "book/m5-quantization.md#kv-q8", 0},
#if defined(__x86_64__)
    {"quant.kv-q8-simd-avx512", t_simd_avx512, "book/m5-quantization.md#kv-q8", 0},
#endif
    {"quant.kv-q8-attention", t_attention, "book/m5-quantization.md#kv-q8", 30},
    {"quant.kv-q8-cache", t_cache, "book/m5-quantization.md#kv-q8", 120},
};

int main(int argc, char **argv) {
    if (quant_register() != 0) return 1;   // q8_0 joins M4's cache formats
    return ps_main("M5", TESTS, PS_COUNT(TESTS), argc, argv);
}
