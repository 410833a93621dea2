// bench_decode: the whole engine's decode speed per weight format (make bench).
//
//     build/tools/bench_decode [MODEL_DIR] [--tokens N] [--formats f32,bf16,q8_0,q4_0,q4a] [--threads 1,2]
//
// The synthetic model with Qwen3-0.6B's exact shapes (default build/models/qwen3-0.6b-shape),
// weights read into memory, decoded through the KV cache one token at a time after an 8-token
// prompt, 1 and 2 threads: as M1 holds it (f32), its bf16 matrices kept as they are
// (model_keep_bf16), then quantized in memory by M5 (Q8_0, Q4_0, Q4A). Where bench_quant times the matrix products alone, this is a generate loop's step:
// embedding, norms, RoPE, attention over the cache, the products and the logits. Prints the
// median ms per token, the weight bytes one token reads, the bandwidth that implies, and the
// speed-up over f32 with the same threads: bytes decide what the last column can reach, and the
// rounds of the thread pool one step posts (shared/thread_pool.h: each waits for its slowest thread).
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thread_pool.h"
#include "forward.h"
#include "kvcache.h"
#include "model.h"
#include "quant.h"
#include "quant_model.h"
#include "bench_util.h"
#include "timing.h"

#define PROMPT 8
#define MAX_TOKENS 64

static double row_bytes(const Mat *w) {
    if (w->dtype == DT_F32 || w->dtype == DT_BF16) return (w->dtype == DT_F32 ? 4.0 : 2.0) * w->cols;
    return (double)quant_row_bytes(w->dtype, w->cols);
}

// The bytes of weights one decode step reads: every matrix once (the embedding only one row).
static double weight_bytes(const Model *m) {
    double total = 0;
    const Mat *head = &m->lm_head;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const Layer *L = &m->layers[l];
        const Mat *mats[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (int k = 0; k < 7; k++) total += mats[k]->rows * row_bytes(mats[k]);
    }
    return total + head->rows * row_bytes(head);
}

// Median seconds per generated token over `tokens` steps after the prompt, on `threads` threads;
// the pool's rounds per step into *rounds.
static double decode(const Model *m, int threads, int tokens, float *logits, double *rounds) {
    pool_set_threads(threads);
    KVCache kc;
    if (kv_cache_init(&kc, m, PROMPT + tokens, 0) != 0) exit(1);
    int32_t ids[PROMPT + MAX_TOKENS];
    for (int i = 0; i < PROMPT + tokens; i++) ids[i] = (int32_t)((i * 7919 + 13) % m->cfg.vocab_size);
    if (kv_cache_forward(&kc, ids, PROMPT, logits, false) != 0) exit(1);
    double t[MAX_TOKENS];
    const unsigned rounds0 = pool_rounds();
    for (int i = 0; i < tokens; i++) {
        double start = ps_now();
        if (kv_cache_forward(&kc, ids + PROMPT + i, 1, logits, false) != 0) exit(1);
        t[i] = ps_now() - start;
    }
    *rounds = (double)(pool_rounds() - rounds0) / tokens;
    kv_cache_free(&kc);
    return ps_median(t, tokens);
}

static const struct {
    const char *name;
    DType type;
} FORMATS[] = {{"f32", DT_F32}, {"bf16", DT_BF16}, {"q8_0", DT_Q8_0}, {"q4_0", DT_Q4_0}, {"q4a", DT_Q4A}};
enum { N_FORMATS = sizeof FORMATS / sizeof FORMATS[0] };

// A comma-separated list of format names into on[N_FORMATS]: false (message) for an unknown one.
static bool parse_formats(const char *list, bool on[N_FORMATS]) {
    memset(on, 0, N_FORMATS * sizeof *on);
    for (const char *p = list; *p;) {
        const size_t len = strcspn(p, ",");
        size_t f = 0;
        while (f < N_FORMATS && !(strlen(FORMATS[f].name) == len && strncmp(p, FORMATS[f].name, len) == 0)) f++;
        if (f == N_FORMATS) return fprintf(stderr, "bench_decode: unknown format '%.*s'\n", (int)len, p), false;
        on[f] = true;
        p += len + (p[len] == ',');
    }
    return true;
}

int main(int argc, char **argv) {
    const char *dir = "build/models/qwen3-0.6b-shape";
    int tokens = 16, threads[2] = {1, 2};
    bool on[N_FORMATS] = {true, true, true, true, true};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tokens") == 0 && i + 1 < argc) tokens = atoi(argv[++i]);
        else if (strcmp(argv[i], "--formats") == 0 && i + 1 < argc) {
            if (!parse_formats(argv[++i], on)) return 2;
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            if (sscanf(argv[++i], "%d,%d", &threads[0], &threads[1]) != 2 || threads[0] < 1 || threads[1] < 1)
                return fprintf(stderr, "bench_decode: --threads takes two counts, as 1,2\n"), 2;
        } else if (argv[i][0] != '-') dir = argv[i];
        else
            return fprintf(stderr, "usage: bench_decode [MODEL_DIR] [--tokens N] [--formats f32,bf16,q8_0,q4_0,q4a] "
                                   "[--threads 1,2]\n"), 2;
    }
    if (tokens < 1 || tokens > MAX_TOKENS) return fprintf(stderr, "bench_decode: --tokens must be 1..%d\n", MAX_TOKENS), 2;
    if (bench_model_missing(dir)) return 0;
    printf("%s, weights read into memory, %d tokens after a %d-token prompt; kernels: %s / %s\n", dir, tokens,
           PROMPT, matmul_simd_name(), quant_simd_enabled() ? quant_simd_name() : "plain C");
    char head[2][32];
    for (int t = 0; t < 2; t++) snprintf(head[t], sizeof head[t], "%d thread%s", threads[t], threads[t] > 1 ? "s" : "");
    printf("%-9s %9s | %9s %6s %6s %6s | %9s %6s %6s %6s\n", "", "MB per", head[0], "", "", "", head[1], "", "", "");
    printf("%-9s %9s | %9s %6s %6s %6s | %9s %6s %6s %6s\n", "format", "token", "ms/token", "GB/s", "x f32", "rounds",
           "ms/token", "GB/s", "x f32", "rounds");
    double f32_ms[2] = {0, 0};
    for (size_t f = 0; f < N_FORMATS; f++) {
        if (!on[f]) continue;
        const DType type = FORMATS[f].type;
        Model m;   // loaded again for each format: quantize_model works in place
        model_keep_bf16(type == DT_BF16);   // bf16: the checkpoint's matrices as they are (M1, M2)
        if (model_load(&m, dir, PS_MAP_READ) != 0) return 1;
        model_keep_bf16(false);
        if (dtype_is_quantized(type) && quantize_model(&m, type, false) != 0) return 1;
        float *logits = malloc((size_t)m.cfg.vocab_size * sizeof *logits);
        if (!logits) return fprintf(stderr, "bench_decode: out of memory\n"), 1;
        const double bytes = weight_bytes(&m);
        printf("%-9s %9.1f", FORMATS[f].name, bytes / 1e6);
        for (int t = 0; t < 2; t++) {
            double rounds;
            decode(&m, threads[t], 2, logits, &rounds);   // warm-up: first touch of the cache, threads started
            const double ms = decode(&m, threads[t], tokens, logits, &rounds) * 1e3;
            if (type == DT_F32) f32_ms[t] = ms;
            if (f32_ms[t] > 0) printf(" | %9.2f %6.1f %6.2f %6.0f", ms, bytes / (ms * 1e6), f32_ms[t] / ms, rounds);
            else printf(" | %9.2f %6.1f %6s %6.0f", ms, bytes / (ms * 1e6), "-", rounds);
        }
        printf("\n");
        fflush(stdout);
        free(logits);
        model_free(&m);
    }
    printf("\nGB/s: weight bytes per token / time per token (the rest of a step, attention over a short\n"
           "cache, norms, the logits' softmax, is small next to the products). Compare with bench_quant's\n"
           "roofline for this machine.\n");
    return 0;
}
