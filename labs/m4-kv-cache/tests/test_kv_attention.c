// M4 tests of the engine's attention over the cache (kv_attention.h) and of the f16 cache: both
// add in another order than M2's attention, so they are held to Hugging Face's logits
// (golden/m2/MODEL.psg) and greedy runs (golden/m3), and to M2's attention() on random data;
// an f16 cache must take half the memory and round like IEEE (F16C and NEON give the same bits);
// the table of cache formats takes a new one (kv_kernels.h) and refuses what does not fit.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "generate.h"
#include "harness.h"
#include "kv_attention.h"
#include "kv_greedy.h"
#include "kvcache.h"
#include "model.h"
#include "thread_pool.h"

static const char *MODELS[] = {"tiny", "tiny-mha-f32", "tiny-gqa2-bf16", "small-gqa4-bf16", "small-tiedcopy-f32"};
#define N_MODELS (sizeof MODELS / sizeof MODELS[0])

#define TOL_F32 1e-4   // as M2's test: f32 against f32, only the order of the sums differs
#define TOL_F16 3e-2   // keys and values with 11 significant bits: measured up to ~1e-2 on these models

// The golden sequence of `name` through a cache of this type, in three ways (a prefill, a second
// prefill at an offset, then one token at a time), every position's logits against transformers'.
// Returns the largest difference; 0 tested when the model is missing.
static double logits_against_hf(const char *name, KVType type, double tol, int *tested) {
    const char *dir = ps_model_try(name);
    if (!dir) return 0;
    char path[256];
    snprintf(path, sizeof path, "golden/m2/%s.psg", name);
    PsGolden *g = ps_golden_open(path);
    Model m;
    PS_CHECK(model_load(&m, dir, PS_MAP_READ) == 0, "cannot load %s", dir);
    const PsTensor *ids_t = ps_golden_get(g, "ids"), *want_t = ps_golden_get(g, "logits");
    const int n = (int)ids_t->count;
    const int32_t *ids = ids_t->data;
    const float *want = want_t->data;
    const size_t vocab = (size_t)m.cfg.vocab_size;
    float *got = malloc((size_t)n * vocab * sizeof *got);
    KVCache kc;
    PS_CHECK(kv_cache_init_as(&kc, &m, 64, 0, type) == 0, "kv_cache_init_as(ctx 64) failed");
    const int chunk1 = n / 2, chunk2 = n / 2 + 3 < n ? n / 2 + 3 : n;
    PS_CHECK(kv_cache_forward(&kc, ids, chunk1, got, true) == 0, "prefill failed");
    PS_CHECK(kv_cache_forward(&kc, ids + chunk1, chunk2 - chunk1, got + chunk1 * vocab, true) == 0, "second prefill");
    for (int t = chunk2; t < n; t++)
        PS_CHECK(kv_cache_forward(&kc, ids + t, 1, got + t * vocab, true) == 0, "decode at %d failed", t);
    double worst = 0;
    for (size_t i = 0; i < (size_t)n * vocab; i++) {
        const double err = fabs((double)got[i] - want[i]);
        PS_CHECK(err <= tol + tol * fabs(want[i]), "%s (%s cache): logit %zu of position %zu is %.6g, transformers %.6g",
                 name, type == KV_F16 ? "f16" : "f32", i % vocab, i / vocab, got[i], want[i]);
        worst = err > worst ? err : worst;
    }
    kv_cache_free(&kc);
    free(got);
    ps_golden_close(g);
    model_free(&m);
    (*tested)++;
    return worst;
}

// Greedy runs of golden/m3 through a cache of this type: the ids Hugging Face generated.
static int greedy_against_hf(const char *name, KVType type) {
    const char *dir = ps_model_try(name);
    if (!dir) return 0;
    char path[256];
    snprintf(path, sizeof path, "golden/m3/greedy-%s%s.psg", strcmp(name, "tiny") ? "synth-" : "", name);
    PsGolden *g = ps_golden_open(path);
    Model m;
    PS_CHECK(model_load(&m, dir, PS_MAP_READ) == 0, "cannot load %s", dir);
    KVCache kc;
    PS_CHECK(kv_cache_init_as(&kc, &m, KV_GREEDY_CAP, 0, type) == 0, "kv_cache_init_as(ctx %d) failed", KV_GREEDY_CAP);
    char label[300];
    snprintf(label, sizeof label, "%s (%s cache)", path, type == KV_F16 ? "f16" : "f32");
    int compared = kv_greedy_runs(&kc, g, label);
    kv_cache_free(&kc);
    ps_golden_close(g);
    model_free(&m);
    return compared;
}

// Random q, K, V: kv_attention against M2's attention(), which sums in the order of the definition.
// K and V are made exact in f16, so the f16 cache must give the f32 result up to rounding too.
static void against_m2(int n_heads, int n_kv_heads, int head_dim, int n_keys, double tol) {
    const int q_dim = n_heads * head_dim, kv_dim = n_kv_heads * head_dim;
    const size_t cache = (size_t)n_keys * kv_dim;
    float *q = malloc(q_dim * sizeof *q), *k = malloc(cache * sizeof *k), *v = malloc(cache * sizeof *v);
    uint16_t *k16 = malloc(cache * sizeof *k16), *v16 = malloc(cache * sizeof *v16);
    float *want = malloc(q_dim * sizeof *want), *got = malloc(q_dim * sizeof *got), *scores = malloc(n_keys * sizeof *scores);
    uint64_t state = 0x9e3779b97f4a7c15ull ^ (uint64_t)(n_keys * 131 + head_dim);
    for (size_t i = 0; i < cache + q_dim; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        const float r = (float)((state >> 40) & 0xffff) / 65536.0f * 6.0f - 3.0f;   // a peaked softmax too
        if (i < cache) k[i] = kv_float_from_half(kv_half_from_float(r)), v[i] = kv_float_from_half(kv_half_from_float(-r * 0.5f));
        else q[i - cache] = r;
    }
    kv_f32_to_f16(k16, k, cache);
    kv_f32_to_f16(v16, v, cache);
    attention(want, q, k, v, n_keys, kv_dim, n_heads, n_kv_heads, head_dim, scores);
    for (int type = 0; type < 2; type++) {
        const KVLayerView view = kv_view_by_position(type ? (const void *)k16 : k, type ? (const void *)v16 : v,
                                                     type ? KV_F16 : KV_F32, n_heads, n_kv_heads, head_dim);
        char what[128];
        snprintf(what, sizeof what, "%d heads / %d kv heads x %d, %d keys, %s", n_heads, n_kv_heads, head_dim, n_keys,
                 type ? "f16" : "f32");
        kv_attention(got, q, 1, n_keys - 1, &view);   // one query at position n_keys - 1
        PS_CHECK_CLOSE(what, got, want, q_dim, tol, tol);
    }
    // The f16 rows again, each head's positions together (the cache's layout for every format but
    // f32), with room for 3 more positions per head: the same rows, so the same bits.
    const int ctx = n_keys + 3;
    uint16_t *k_heads = calloc((size_t)ctx * kv_dim, sizeof *k_heads), *v_heads = calloc((size_t)ctx * kv_dim, sizeof *v_heads);
    float *by_head = malloc(q_dim * sizeof *by_head);
    for (int p = 0; p < n_keys; p++)
        for (int g = 0; g < n_kv_heads; g++) {
            memcpy(k_heads + ((size_t)g * ctx + p) * head_dim, k16 + (size_t)p * kv_dim + (size_t)g * head_dim, head_dim * 2);
            memcpy(v_heads + ((size_t)g * ctx + p) * head_dim, v16 + (size_t)p * kv_dim + (size_t)g * head_dim, head_dim * 2);
        }
    const KVLayerView heads = kv_view_by_head(k_heads, v_heads, KV_F16, n_heads, n_kv_heads, head_dim, ctx);
    kv_attention(by_head, q, 1, n_keys - 1, &heads);
    PS_CHECK(memcmp(by_head, got, q_dim * sizeof *got) == 0,
             "%d heads / %d kv heads x %d, %d keys, f16: each head's rows together must give the bits of a position's heads together",
             n_heads, n_kv_heads, head_dim, n_keys);
    free(k_heads), free(v_heads), free(by_head);
    free(q), free(k), free(v), free(k16), free(v16), free(want), free(got), free(scores);
}

// The softmax kernels (kv_kernels.h): the SIMD ones against the plain C ones, which are the loops
// kv_attention had. The scaling, the maximum and the rescale are exact; e^x within 4 ulp of expf
// (1 measured), exactly 0 below KV_EXP_LO; every length from 1 to 40 (the SIMD sets' tails).
// got[j] against want[j] = expf's e^x for j < n: exactly 0 where want is (below KV_EXP_LO), else
// the distance in want's ulps kept in *worst.
static void exps_near(const float *want, const float *got, int n, float *worst, const char *what, int which) {
    for (int j = 0; j < n; j++) {
        if (want[j] == 0.0f) {
            PS_CHECK(got[j] == 0.0f, "%s %d, value %d: e^x %g where expf's is 0 (below -87)", what, which, j, got[j]);
            continue;
        }
        const float ulp = fabsf(want[j] - got[j]) / (nextafterf(want[j], INFINITY) - want[j]);
        *worst = ulp > *worst ? ulp : *worst;
    }
}

static void softmax_kernels_match(void) {
    kv_attention_use(false);
    const KVSoftmaxKernels *plain = kv_softmax_kernels();
    kv_attention_use(true);
    const KVSoftmaxKernels *simd = kv_softmax_kernels();
    PS_CHECK(!strcmp(plain->name, "plain C"), "with the policy off, the plain C kernels; got %s", plain->name);
    printf("softmax kernels: %s against %s\n", simd->name, plain->name);
    float a[48], b[48], worst_ulp = 0;
    for (int n = 1; n <= 40; n++)
        for (int round = 0; round < 50; round++) {
            for (int j = 0; j < n; j++) a[j] = b[j] = sinf((float)(j * 37 + round * 101 + n)) * 60.0f;
            const float ma = plain->scale_max(a, n, 1.7f), mb = simd->scale_max(b, n, 1.7f);
            PS_CHECK(ma == mb && memcmp(a, b, (size_t)n * sizeof *a) == 0, "scale_max of %d: %g and %g", n, ma, mb);
            const float sa = plain->exp_sum(a, n, ma, 0.25f), sb = simd->exp_sum(b, n, mb, 0.25f);
            exps_near(a, b, n, &worst_ulp, "scores of length", n);
            PS_CHECK(fabsf(sa - sb) <= 1e-6f * sa, "n %d: sums %.9g and %.9g", n, sa, sb);
            memcpy(b, a, (size_t)n * sizeof *a);
            plain->rescale(a, n, 0.7f), simd->rescale(b, n, 0.7f);
            PS_CHECK(memcmp(a, b, (size_t)n * sizeof *a) == 0, "rescale of %d", n);
        }
    // Every argument from -88 to 0 in steps of 2^-12, 32 at a time: the whole range softmax uses.
    for (int i = 0; i < 88 * 4096; i += 32) {
        for (int j = 0; j < 32; j++) a[j] = b[j] = -(float)(i + j) / 4096.0f;
        plain->exp_sum(a, 32, 0.0f, 0.0f), simd->exp_sum(b, 32, 0.0f, 0.0f);
        exps_near(a, b, 32, &worst_ulp, "arguments from -x/4096, x =", i);
    }
    printf("e^x within %.0f ulp of expf\n", worst_ulp);
    PS_CHECK(worst_ulp <= 4, "e^x %.1f ulp from expf", worst_ulp);
}

static void t_scaled_attention(void) {
    int tested = 0;
    for (size_t i = 0; i < N_MODELS; i++) {
        const double worst = logits_against_hf(MODELS[i], KV_F32, TOL_F32, &tested);
        if (worst > 0) printf("%s, f32 cache: logits within %.2g of transformers'\n", MODELS[i], worst);
    }
    PS_CHECK(tested > 0, "no model found (models/tiny, or run make synth)");
    // Key counts around the block size and tile (256), the prefetch chunk (64) and the kernels' 16
    // and 32 rows, head sizes with SIMD tails; groups of 2 query heads (Qwen3), 1, 4, and 3 (pairs
    // and a last odd head).
    const int keys[] = {1, 3, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 256, 257, 1000, 4097};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        against_m2(16, 8, 128, keys[i], 1e-5);
        against_m2(4, 4, 24, keys[i], 1e-5);
        against_m2(8, 2, 36, keys[i], 1e-5);
        against_m2(6, 2, 40, keys[i], 1e-5);
    }
    // Past 64 blocks (16,384 keys) a block holds more than one tile: the running softmax rescales
    // what it has summed when a later tile has a larger maximum. (M2's loop, the reference, adds
    // 20,000 terms one after the other in f32: it drifts from the exact sum by ~2e-5 itself.)
    against_m2(4, 4, 24, 20000, 5e-5);
    against_m2(6, 2, 40, 20000, 5e-5);
    // The same numbers whatever the threads and however the tokens come (a prefill, long enough to
    // go in chunks, or one by one).
    const int n = 1100, pos0 = 20, hd = 40, heads = 4, kv_heads = 2, q_dim = heads * hd, kv_dim = kv_heads * hd;
    const size_t cache = (size_t)(pos0 + n) * kv_dim;
    float *q = malloc((size_t)n * q_dim * sizeof *q), *k = malloc(cache * sizeof *k), *v = malloc(cache * sizeof *v);
    float *all = malloc((size_t)n * q_dim * sizeof *all), *one = malloc((size_t)n * q_dim * sizeof *one);
    for (size_t j = 0; j < cache; j++) k[j] = sinf((float)j * 0.37f), v[j] = cosf((float)j * 0.11f);
    for (size_t j = 0; j < (size_t)n * q_dim; j++) q[j] = sinf((float)j * 0.05f) * 2.0f;
    const KVLayerView view = kv_view_by_position(k, v, KV_F32, heads, kv_heads, hd);
    pool_set_threads(1);
    kv_attention(all, q, n, pos0, &view);
    pool_set_threads(2);
    for (int t = 0; t < n; t++) kv_attention(one + (size_t)t * q_dim, q + (size_t)t * q_dim, 1, pos0 + t, &view);
    PS_CHECK(memcmp(all, one, (size_t)n * q_dim * sizeof *all) == 0,
             "a prefill on 1 thread and single tokens on 2 threads must give the same bits");
    free(q), free(k), free(v), free(all), free(one);
    softmax_kernels_match();
}

static void t_f16_cache(void) {
    // Half the memory: Qwen3-0.6B at 4096 positions, 448 MiB instead of 896.
    Config c = {.dim = 1024, .ffn_dim = 3072, .n_layers = 28, .n_heads = 16, .n_kv_heads = 8,
                .head_dim = 128, .vocab_size = 151936, .max_seq_len = 40960};
    PS_CHECK(kv_cache_bytes_as(&c, 4096, KV_F16) == 469762048u && kv_cache_bytes_as(&c, 4096, KV_F32) == 939524096u,
             "f16 cache of Qwen3-0.6B at ctx 4096: %zu bytes, want 469762048", kv_cache_bytes_as(&c, 4096, KV_F16));
    // Every half survives the trip through float; rounding is to nearest, ties to even.
    for (uint32_t h = 0; h < 0x10000u; h++) {
        const float f = kv_float_from_half((uint16_t)h);
        if (f != f) continue;   // NaN: any NaN will do
        PS_CHECK(kv_half_from_float(f) == h, "half 0x%04x -> %g -> 0x%04x", h, f, kv_half_from_float(f));
    }
    static uint16_t halves[0x10000];
    static float widened[0x10000];
    for (uint32_t h = 0; h < 0x10000u; h++) halves[h] = (uint16_t)h;
    kv_f16_to_f32(widened, halves, 0x10000);   // SIMD where the CPU has it: the same values
    for (uint32_t h = 0; h < 0x10000u; h++) {
        const float want = kv_float_from_half((uint16_t)h);
        PS_CHECK(want != want || memcmp(&widened[h], &want, sizeof want) == 0, "half 0x%04x widened to %a, want %a", h,
                 widened[h], want);
    }
    PS_CHECK(kv_half_from_float(1.0f + 0x1p-11f) == 0x3c00 && kv_half_from_float(1.0f + 3 * 0x1p-11f) == 0x3c02,
             "ties round to even");
    PS_CHECK(kv_half_from_float(65519.0f) == 0x7bff && kv_half_from_float(65520.0f) == 0x7c00 &&
             kv_half_from_float(0x1p-25f) == 0 && kv_half_from_float(0x1.8p-25f) == 1,
             "the largest half, overflow to infinity, the smallest subnormals");
    // The SIMD conversion (F16C, NEON) gives the plain one's bits: a sweep of all float exponents.
    enum { N = 1 << 16 };
    static float src[N];
    static uint16_t simd[N];
    for (uint32_t step = 0; step < 1u << 16; step++) {
        for (uint32_t i = 0; i < N; i++) {
            const uint32_t bits = step * 0x10000u + i;
            memcpy(&src[i], &bits, sizeof bits);
        }
        kv_f32_to_f16(simd, src, N);
        for (uint32_t i = 0; i < N; i++)
            if (src[i] == src[i])
                PS_CHECK(simd[i] == kv_half_from_float(src[i]), "%a: SIMD 0x%04x, plain 0x%04x", src[i], simd[i],
                         kv_half_from_float(src[i]));
        step += 255;   // every 256th block of 65536 floats: 16 M values, every exponent
    }
    // The engine with an f16 cache: logits near transformers', and its greedy runs.
    int tested = 0, compared = 0;
    for (size_t i = 0; i < N_MODELS; i++) {
        const double worst = logits_against_hf(MODELS[i], KV_F16, TOL_F16, &tested);
        if (worst > 0) printf("%s, f16 cache: logits within %.2g of transformers'\n", MODELS[i], worst);
        compared += greedy_against_hf(MODELS[i], KV_F16);
    }
    printf("%d ids generated with an f16 cache equal Hugging Face's\n", compared);
    PS_CHECK(tested > 0 && compared >= 200, "only %d ids compared (models/tiny, or run make synth)", compared);
}

// A format a later lab could register: f32 values in blocks of 32 (128 bytes), written through
// `store` (not in place like KV_F32) and read by f32's own row kernels. A cache of it must give an
// f32 cache's logits bit for bit: only the route of the new keys and values differs.
static void store_copy(void *row, const float *x, size_t n) { memcpy(row, x, n * sizeof *x); }
static void load_copy(float *x, const void *row, size_t n) { memcpy(x, row, n * sizeof *x); }
static const KVRowKernels *f32_row_kernels(void) { return kv_row_kernels(KV_F32); }
static const KVFormat BLOCKED_F32 = {KV_EXTENSION + 1, "f32x32", 32, 128, store_copy, load_copy, f32_row_kernels};

// One refused registration: -1, and a message naming the format.
static void refused(const KVFormat *f, const char *why) {
    PsCapture cap;
    ps_capture_begin(&cap, 2);
    const int status = kv_format_register(f);
    char *said = ps_capture_end(&cap);
    PS_CHECK(status == -1 && strstr(said, f->name), "registering '%s' (%s) must fail with a message; it said: %s",
             f->name, why, said);
    free(said);
}

static void t_formats(void) {
    kv_attention_use(true);   // both caches through kv_attention, whatever PS_SIMD says
    // The sizes go through the formats' rows: f32 is your cache-size, f16 half of it.
    Config c = {.dim = 1024, .ffn_dim = 3072, .n_layers = 28, .n_heads = 16, .n_kv_heads = 8,
                .head_dim = 128, .vocab_size = 151936, .max_seq_len = 40960};
    PS_CHECK(kv_cache_bytes_as(&c, 4096, KV_F32) == kv_cache_bytes(&c, 4096), "an f32 cache's bytes");
    PS_CHECK(kv_row_bytes(KV_F32, 128) == 512 && kv_row_bytes(KV_F16, 128) == 256, "rows of 128 values: %zu and %zu bytes",
             kv_row_bytes(KV_F32, 128), kv_row_bytes(KV_F16, 128));
    PS_CHECK(kv_format(KV_F16) && !strcmp(kv_format(KV_F16)->name, "f16") && kv_format_named("f32") == kv_format(KV_F32),
             "this lab's formats are registered by id and name");
    PS_CHECK(!kv_format_named("f64") && !kv_format(KV_MAX_FORMATS) && !kv_format(-1) && !kv_format(KV_EXTENSION + 1),
             "no format under other names and ids");
    char names[64];
    kv_format_names(names, sizeof names);
    PS_CHECK(!strcmp(names, "f32, f16"), "the names for messages: '%s'", names);
    PS_CHECK(kv_cache_bytes_as(&c, 4096, KV_EXTENSION + 1) == 0, "an unregistered format has no size");

    // Registering: once, again (no change), and the refusals.
    PS_CHECK(kv_format_register(&BLOCKED_F32) == 0 && kv_format_register(&BLOCKED_F32) == 0, "registering twice");
    PS_CHECK(kv_format_named("f32x32") == &BLOCKED_F32 && kv_row_bytes(KV_EXTENSION + 1, 96) == 384 &&
                 kv_row_bytes(KV_EXTENSION + 1, 100) == 0,
             "the new format by name, and its rows");
    kv_format_names(names, sizeof names);
    PS_CHECK(!strcmp(names, "f32, f16, f32x32"), "the names now: '%s'", names);
    KVFormat clash = BLOCKED_F32;
    clash.name = "other";
    refused(&clash, "its id is taken");
    clash = BLOCKED_F32, clash.type = KV_EXTENSION;
    refused(&clash, "its name is taken");
    clash.name = "low", clash.type = KV_F16;
    refused(&clash, "an id of this lab's");
    clash.name = "high", clash.type = KV_MAX_FORMATS;
    refused(&clash, "beyond the table");

    // A cache of it: f32's logits, bit for bit, on a model whose head_dim (96) is 3 blocks; a model
    // whose head_dim (16) is not a multiple of 32 is refused with a message, as is an unknown id.
    int tested = 0;
    for (size_t i = 0; i < N_MODELS; i++) {
        const char *dir = ps_model_try(MODELS[i]);
        if (!dir) continue;
        Model m;
        PS_CHECK(model_load(&m, dir, PS_MAP_READ) == 0, "cannot load %s", dir);
        KVCache kc;
        if (m.cfg.head_dim % 32) {
            PsCapture cap;
            ps_capture_begin(&cap, 2);
            const int status = kv_cache_init_as(&kc, &m, 16, 0, KV_EXTENSION + 1);
            char *said = ps_capture_end(&cap);
            PS_CHECK(status == -1 && strstr(said, "head_dim") && strstr(said, "f32x32"),
                     "%s: head_dim %d in blocks of 32 must be refused with a message; it said: %s", MODELS[i],
                     m.cfg.head_dim, said);
            free(said);
            model_free(&m);
            continue;
        }
        const size_t vocab = (size_t)m.cfg.vocab_size;
        int32_t ids[24];
        for (int t = 0; t < 24; t++) ids[t] = (int32_t)((t * 7919 + 13) % m.cfg.vocab_size);
        float *want = malloc(24 * vocab * sizeof *want), *got = malloc(24 * vocab * sizeof *got);
        for (int way = 0; way < 2; way++) {
            PS_CHECK(kv_cache_init_as(&kc, &m, 32, 0, way ? KV_EXTENSION + 1 : KV_F32) == 0, "kv_cache_init_as failed");
            float *out = way ? got : want;
            PS_CHECK(kv_cache_forward(&kc, ids, 16, out, true) == 0, "prefill failed");
            for (int t = 16; t < 24; t++)
                PS_CHECK(kv_cache_forward(&kc, ids + t, 1, out + t * vocab, true) == 0, "decode at %d failed", t);
            // Where a row lies: f32 keeps a position's heads together, any other format a head's
            // positions (32 here). Layer 1, position 5, the last kv head:
            const size_t row = (size_t)m.cfg.head_dim * 4, g = (size_t)m.cfg.n_kv_heads - 1;
            const size_t layer = 32 * g * row + 32 * row, at = kv_cache_offset(&kc, 1, 5, (int)g);
            const size_t want_at = way ? layer + (g * 32 + 5) * row : layer + (5 * (g + 1) + g) * row;
            PS_CHECK(at == want_at, "%s, %s cache: layer 1, position 5, kv head %zu at byte %zu, want %zu", MODELS[i],
                     way ? "f32x32" : "f32", g, at, want_at);
            kv_cache_free(&kc);
        }
        PS_CHECK(memcmp(want, got, 24 * vocab * sizeof *got) == 0, "%s: a cache of f32x32 must give the f32 cache's bits",
                 MODELS[i]);
        free(want), free(got);
        model_free(&m);
        tested++;
    }
    PS_CHECK(tested > 0, "no model with head_dim a multiple of 32 (models/tiny)");
    Model m;
    PS_CHECK(model_load(&m, ps_model("tiny"), PS_MAP_READ) == 0, "cannot load models/tiny");
    KVCache kc;
    PsCapture cap;
    ps_capture_begin(&cap, 2);
    const int status = kv_cache_init_as(&kc, &m, 16, 0, KV_EXTENSION + 2);
    char *said = ps_capture_end(&cap);
    PS_CHECK(status == -1 && strstr(said, "no cache format"), "an unknown format must be refused; it said: %s", said);
    free(said);
    model_free(&m);
}

static const PsTest TESTS[] = {
    {"kvcache.scaled-attention", t_scaled_attention, "book/m4-kv-cache.md#scaling", 60},
    {"kvcache.f16-cache", t_f16_cache, "book/m4-kv-cache.md#f16-cache", 120},
    {"kvcache.formats", t_formats, "book/m4-kv-cache.md#cache-formats", 60},
};

int main(int argc, char **argv) { return ps_main("M4", TESTS, PS_COUNT(TESTS), argc, argv); }
