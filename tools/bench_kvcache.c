// bench_kvcache: the time to produce one token, by position, without and with the KV cache.
//
//     build/tools/bench_kvcache [MODEL_DIR] [--csv FILE]
//
// Default model: build/models/qwen3-0.6b-shape (the synthetic model with Qwen3-0.6B's exact
// shapes: `build/tools/synth qwen3-0.6b-shape build/models/qwen3-0.6b-shape`). For each thread
// count (1, then 2):
//   uncached  M3's step at position p: forward() over all p + 1 tokens (it grows with p)
//   cached    M4's step at position p: one token through kv_cache_forward with p cached positions
//             (flat, plus the attention over the cache: small next to the weights until p is
//             in the thousands)
// To reach position p without a p-token prefill (minutes on a laptop CPU), the cache is filled
// with a real 8-token prefill repeated: the time of a step does not depend on the values.
// Reports medians (of 3 runs; 1 run for the uncached steps at p >= 16, which take seconds each).
// --csv writes the table for tools/plot_kvcache.py (the chapter's plot).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thread_pool.h"
#include "forward.h"
#include "kvcache.h"
#include "model.h"
#include "atomic_file.h"
#include "bench_util.h"
#include "timing.h"

static const int UNCACHED_POS[] = {0, 1, 3, 7, 15, 31};
static const int CACHED_POS[] = {0, 1, 3, 7, 15, 31, 255, 1023, 4095};
#define N_UNCACHED (int)(sizeof UNCACHED_POS / sizeof UNCACHED_POS[0])
#define N_CACHED (int)(sizeof CACHED_POS / sizeof CACHED_POS[0])
#define PREFILL 8

// Seconds for the uncached step at position p: forward over p + 1 tokens.
static double uncached_step(const Model *m, const int32_t *ids, int p, float *logits) {
    int runs = p >= 15 ? 1 : 3;
    double t[3];
    for (int r = 0; r < runs; r++) {
        double start = ps_now();
        if (forward(m, ids, p + 1, logits, NULL) != 0) exit(1);
        t[r] = ps_now() - start;
    }
    return ps_median(t, runs);
}

// Seconds for the cached step at position p: the cache holds p positions, one token goes in.
// Positions 0..PREFILL-1 hold a real prefill (done once in main); the rows after them are copies.
static double cached_step(KVCache *kc, const int32_t *ids, int p, float *logits) {
    const Config *c = &kc->model->cfg;
    size_t row = (size_t)c->n_kv_heads * c->head_dim;
    for (int l = 0; l < c->n_layers; l++)
        for (int pos = PREFILL; pos < p; pos++) {
            size_t dst = ((size_t)l * kc->ctx + pos) * row, src = ((size_t)l * kc->ctx + pos % PREFILL) * row;
            memcpy((float *)kc->k + dst, (float *)kc->k + src, row * sizeof(float));   // an f32 cache
            memcpy((float *)kc->v + dst, (float *)kc->v + src, row * sizeof(float));
        }
    double t[3];
    for (int r = 0; r < 3; r++) {
        kc->n = p;  // the step appends position p (overwriting a copy); go back for the next run
        double start = ps_now();
        if (kv_cache_forward(kc, ids + p % PREFILL, 1, logits, false) != 0) exit(1);
        t[r] = ps_now() - start;
    }
    return ps_median(t, 3);
}

int main(int argc, char **argv) {
    const char *dir = "build/models/qwen3-0.6b-shape", *csv_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc) csv_path = argv[++i];
        else dir = argv[i];
    }
    if (bench_model_missing(dir)) return 0;
    Model m;
    double t0 = ps_now();
    if (model_load(&m, dir, PS_MAP_READ) != 0) return 1;
    const Config *c = &m.cfg;
    printf("%s: %d layers, dim %d, vocab %d (loaded in %.1f s)\n", dir, c->n_layers, c->dim, c->vocab_size,
           ps_now() - t0);
    int ctx = CACHED_POS[N_CACHED - 1] + 1;
    if (ctx > c->max_seq_len) ctx = c->max_seq_len;
    KVCache kc;
    if (kv_cache_init(&kc, &m, ctx, 0) != 0) return 1;
    int max_uncached = UNCACHED_POS[N_UNCACHED - 1] + 1;
    int32_t *ids = malloc((size_t)max_uncached * sizeof *ids);
    for (int i = 0; i < max_uncached; i++) ids[i] = (int32_t)((i * 7919 + 13) % c->vocab_size);
    float *logits = malloc((size_t)max_uncached * c->vocab_size * sizeof *logits);
    if (!ids || !logits) return fprintf(stderr, "bench_kvcache: out of memory\n"), 1;
    if (kv_cache_forward(&kc, ids, PREFILL, logits, false) != 0) return 1;  // the real rows

    double un[2][N_CACHED], ca[2][N_CACHED];
    for (int th = 0; th < 2; th++) {
        pool_set_threads(th + 1);
        for (int i = 0; i < N_CACHED; i++) {
            int p = CACHED_POS[i];
            un[th][i] = i < N_UNCACHED ? uncached_step(&m, ids, p, logits) : -1;
            ca[th][i] = p < ctx ? cached_step(&kc, ids, p, logits) : -1;
            fprintf(stderr, "\r%d thread(s): position %d   ", th + 1, p);
        }
    }
    fprintf(stderr, "\r%40s\r", "");
    printf("ms per token at position p (median; uncached = forward() over p+1 tokens, as in M3)\n");
    printf("%8s | %14s %14s | %14s %14s\n", "position", "uncached 1 thr", "cached 1 thr", "uncached 2 thr",
           "cached 2 thr");
    AtomicFile out;   // the CSV appears whole or not at all
    FILE *csv = csv_path ? atomic_file_open(&out, csv_path, "w") : NULL;
    if (csv) fprintf(csv, "position,uncached_1,cached_1,uncached_2,cached_2\n");
    for (int i = 0; i < N_CACHED; i++) {
        char cells[4][32];
        double v[4] = {un[0][i], ca[0][i], un[1][i], ca[1][i]};
        for (int k = 0; k < 4; k++)
            if (v[k] < 0) snprintf(cells[k], sizeof cells[k], "-");
            else snprintf(cells[k], sizeof cells[k], "%.1f", v[k] * 1e3);
        printf("%8d | %14s %14s | %14s %14s\n", CACHED_POS[i], cells[0], cells[1], cells[2], cells[3]);
        if (csv) fprintf(csv, "%d,%s,%s,%s,%s\n", CACHED_POS[i], cells[0], cells[1], cells[2], cells[3]);
    }
    int last = N_UNCACHED - 1;
    printf("at position %d the cache is %.0fx faster (2 threads); cache memory at ctx %d: %.0f MiB\n",
           UNCACHED_POS[last], un[1][last] / ca[1][last], ctx, kv_cache_bytes(c, ctx) / 1048576.0);
    const int failed = csv && atomic_file_commit(&out) != 0;
    kv_cache_free(&kc);
    free(ids), free(logits);
    model_free(&m);
    return failed;
}
