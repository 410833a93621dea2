// M6 tests, part 3: attention of one decode query over a KV cache on the GPU (the emulator on
// Linux): several GQA ratios, head sizes that are not multiples of 32, positions from 1 to 2000,
// scores large enough to overflow a softmax without the max trick, and other fiber schedules of
// the emulator (a missing barrier changes the answer under one of them).
//
// References and tolerances: forward.h's attention() on the same inputs, atol 1e-5 + rtol 1e-4
// (sums in another order; exp differs in the last bits); transformers' layer-0 attention output
// (golden/m2/ops-MODEL.psg, every token t attending over positions 0..t), 1e-4 as in lab M2.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "gpu.h"
#include "harness.h"
#include "model.h"

#define ANCHOR(task) "book/m6-metal.md#" task

static void fill(float *x, size_t n, unsigned seed, float scale) {
    unsigned s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = ((float)(s >> 8) / 16777216.0f * 2.0f - 1.0f) * scale;
    }
}

typedef struct {
    int n_heads, n_kv_heads, head_dim, n_keys, pad;   // pad: extra floats per cache row
    float scale;                                       // of q: 30 makes scores of several hundred
} Case;

static void check_case(Gpu *g, Case c, unsigned seed) {
    int q_dim = c.n_heads * c.head_dim, stride = c.n_kv_heads * c.head_dim + c.pad;
    size_t kv = (size_t)c.n_keys * stride;
    float *q = malloc((size_t)q_dim * 4), *k = malloc(kv * 4), *v = malloc(kv * 4);
    float *want = malloc((size_t)q_dim * 4), *scores = malloc((size_t)c.n_keys * 4);
    fill(q, (size_t)q_dim, seed, c.scale);
    fill(k, kv, seed + 1, 1.0f);
    fill(v, kv, seed + 2, 1.0f);
    attention(want, q, k, v, c.n_keys, stride, c.n_heads, c.n_kv_heads, c.head_dim, scores);
    MtlBuffer *bq = gpu_upload(g, q, (size_t)q_dim * 4), *bk = gpu_upload(g, k, kv * 4), *bv = gpu_upload(g, v, kv * 4);
    MtlBuffer *out = gpu_alloc(g, (size_t)q_dim * 4);
    GpuBatch *b = gpu_begin(g);
    gpu_attention(b, GPU_REF(out, 0), GPU_REF(bq, 0), GPU_REF(bk, 0), GPU_REF(bv, 0), c.n_keys, stride,
                  c.n_heads, c.n_kv_heads, c.head_dim);
    PS_CHECK(gpu_run(b, NULL) == 0, "gpu_run: %s", gpu_error(g));
    char label[160];
    snprintf(label, sizeof label, "attention %d heads / %d kv heads, head_dim %d, %d keys, row stride %d, |q| %g",
             c.n_heads, c.n_kv_heads, c.head_dim, c.n_keys, stride, c.scale);
    PS_CHECK_CLOSE(label, (float *)mtl_buffer_ptr(out), want, (size_t)q_dim, 1e-5, 1e-4);
    gpu_release(g, bq), gpu_release(g, bk), gpu_release(g, bv), gpu_release(g, out);
    free(q), free(k), free(v), free(want), free(scores);
}

static const Case CASES[] = {
    {4, 4, 32, 1, 0, 1},        // MHA, one position: softmax of one score is 1
    {8, 2, 24, 17, 0, 1},       // GQA 4, head_dim not a multiple of 32
    {6, 3, 40, 33, 8, 1},       // GQA 2, ragged head_dim, cache rows with padding
    {16, 8, 128, 100, 0, 1},    // Qwen3-0.6B's heads
    {6, 1, 64, 300, 0, 1},      // GQA 6 (multi-query), more positions than threads
    {16, 8, 128, 2000, 0, 1},   // a long context
    {4, 2, 32, 50, 0, 30},      // scores ~ +-500: exp overflows without subtracting the max
};

static void run_cases(void) {
    Gpu *g = gpu_new();
    PS_CHECK(g != NULL, "gpu_new failed (message above)");
    for (size_t i = 0; i < PS_COUNT(CASES); i++) check_case(g, CASES[i], (unsigned)(10 * i));
    gpu_free(g);
}

static void t_attention(void) { run_cases(); }

// The emulator reads MSL_SCHEDULE when its workers start (the first dispatch of this test's
// process): threads of a threadgroup then run in reverse or random order between barriers. A
// real GPU ignores it.
static void t_attention_reverse(void) {
    setenv("MSL_SCHEDULE", "reverse", 1);
    run_cases();
}
static void t_attention_random(void) {
    setenv("MSL_SCHEDULE", "random:7", 1);
    run_cases();
}

// Against transformers: q after RoPE, keys after RoPE, values, for tokens 0..t at positions 0..t.
static void t_attention_hf(void) {
    const char *models[] = {"tiny-gqa2-bf16", "small-gqa4-bf16"};
    for (size_t mi = 0; mi < PS_COUNT(models); mi++) {
        char path[300];
        const char *dir = ps_model(models[mi]);
        Model m;
        PS_CHECK(model_load(&m, dir, PS_MAP_MMAP) == 0, "model_load(%s) failed (lab M1)", dir);
        snprintf(path, sizeof path, "golden/m2/ops-%s.psg", models[mi]);
        PsGolden *gd = ps_golden_open(path);
        const PsTensor *q = ps_golden_get(gd, "q_rope"), *k = ps_golden_get(gd, "k_rope");
        const PsTensor *v = ps_golden_get(gd, "v_proj"), *want = ps_golden_get(gd, "attn_out");
        const Config *c = &m.cfg;
        int n = (int)q->dims[0], q_dim = c->n_heads * c->head_dim, kv_dim = c->n_kv_heads * c->head_dim;
        Gpu *g = gpu_new();
        PS_CHECK(g != NULL, "gpu_new failed (message above)");
        MtlBuffer *bq = gpu_upload(g, q->data, q->count * 4), *bk = gpu_upload(g, k->data, k->count * 4);
        MtlBuffer *bv = gpu_upload(g, v->data, v->count * 4), *out = gpu_alloc(g, want->count * 4);
        GpuBatch *b = gpu_begin(g);
        for (int t = 0; t < n; t++)   // the cache holds positions 0..t: the causal mask
            gpu_attention(b, GPU_REF(out, (size_t)t * q_dim * 4), GPU_REF(bq, (size_t)t * q_dim * 4), GPU_REF(bk, 0),
                          GPU_REF(bv, 0), t + 1, kv_dim, c->n_heads, c->n_kv_heads, c->head_dim);
        PS_CHECK(gpu_run(b, NULL) == 0, "gpu_run: %s", gpu_error(g));
        char label[120];
        snprintf(label, sizeof label, "%s: attention of every token over its prefix (vs transformers' attn_out)", models[mi]);
        PS_CHECK_CLOSE(label, (float *)mtl_buffer_ptr(out), (const float *)want->data, want->count, 1e-4, 1e-4);
        gpu_free(g);
        ps_golden_close(gd);
        model_free(&m);
    }
}

// Threadgroup memory holds the scores: more positions than fit are refused, not overrun.
static void t_attention_limits(void) {
    Gpu *g = gpu_new();
    PS_CHECK(g != NULL, "gpu_new failed (message above)");
    int n_keys = GPU_ATTENTION_MAX_KEYS + 1;
    MtlBuffer *q = gpu_alloc(g, 64 * 4), *kv = gpu_alloc(g, (size_t)n_keys * 64 * 4), *out = gpu_alloc(g, 64 * 4);
    GpuBatch *b = gpu_begin(g);
    gpu_attention(b, GPU_REF(out, 0), GPU_REF(q, 0), GPU_REF(kv, 0), GPU_REF(kv, 0), n_keys, 64, 1, 1, 64);
    PS_CHECK(gpu_run(b, NULL) == -1 && strstr(gpu_error(g), "attention"), "%d keys were accepted", n_keys);
    b = gpu_begin(g);   // 3 heads over 2 kv heads is no GQA
    gpu_attention(b, GPU_REF(out, 0), GPU_REF(q, 0), GPU_REF(kv, 0), GPU_REF(kv, 0), 4, 40, 3, 2, 20);
    PS_CHECK(gpu_run(b, NULL) == -1, "3 query heads over 2 kv heads were accepted");
    gpu_free(g);
    // the largest allowed context works
    Case big = {2, 1, 32, GPU_ATTENTION_MAX_KEYS, 0, 1};
    g = gpu_new();
    check_case(g, big, 99);
    gpu_free(g);
}

static const PsTest TESTS[] = {
    {"gpu.attention", t_attention, ANCHOR("attention-kernel"), 60},
    {"gpu.attention_reverse", t_attention_reverse, ANCHOR("attention-kernel"), 60},
    {"gpu.attention_random", t_attention_random, ANCHOR("attention-kernel"), 60},
    {"gpu.attention_hf", t_attention_hf, ANCHOR("attention-kernel"), 60},
    {"gpu.attention_limits", t_attention_limits, ANCHOR("attention-dispatch"), 60},
};

int main(int argc, char **argv) { return ps_main("M6", TESTS, PS_COUNT(TESTS), argc, argv); }
