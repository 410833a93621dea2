// bench_attention: one decode step's attention over the cache, alone: M2's attention() (the
// cached_attention task's) against the engine's kv_attention() on caches of the formats asked for
// (any registered one: f32, f16, and M5's q8_0; default f32,f16).
//
//     build/tools/bench_attention [--threads 1,2] [--keys 256,1024,4096] [--kv f32,f16,q8_0] [--clock wall|cpu]
//
// Qwen3-0.6B's shapes: 28 layers x 16 query heads over 8 key/value heads of 128, one query token
// attending over `keys` cached positions, each layer's keys and values in their own 2 MiB-page
// memory as in the cache. Prints the median milliseconds of the 28 layers (one token) over 5 runs:
// add it to a step at position 0 (bench_peer --depth 0) for the step at that position.
// --clock cpu: the process's CPU time (with 1 thread: what the step costs on a loaded machine).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "forward.h"
#include "kv_attention.h"
#include "kvcache.h"
#include "mapfile.h"
#include "quant_model.h"
#include "thread_pool.h"
#include "timing.h"

#define LAYERS 28
#define HEADS 16
#define KV_HEADS 8
#define HEAD_DIM 128
#define RUNS 5
#define MAX_KV 8

static int parse_list(char *text, int *out, int max) {
    int n = 0;
    for (char *p = strtok(text, ","); p && n < max; p = strtok(NULL, ",")) out[n++] = atoi(p);
    return n;
}

// n positions of f32 rows x (KV_HEADS heads of HEAD_DIM each) into rows of format f, laid out as
// the cache lays them (kvcache.h): f32 as they are, any other format each head's n rows together.
static void store_like_cache(const KVFormat *f, void *rows, const float *x, int n) {
    const size_t h = kv_row_bytes(f->type, HEAD_DIM);
    for (int p = 0; p < n; p++)
        for (int g = 0; g < KV_HEADS; g++) {
            const size_t at = kv_cache_by_head(f->type) ? ((size_t)g * n + p) * h : ((size_t)p * KV_HEADS + g) * h;
            f->store((char *)rows + at, x + ((size_t)p * KV_HEADS + g) * HEAD_DIM, HEAD_DIM);
        }
}

static const char *USAGE = "usage: bench_attention [--threads 1,2] [--keys 256,1024,4096] [--kv f32,f16] [--clock wall|cpu]\n";

int main(int argc, char **argv) {
    if (quant_register() != 0) return 1;   // M5's q8_0 joins the cache formats
    int threads[16] = {1, 2}, n_threads = 2, keys[16] = {256, 1024, 4096}, n_keys = 3, n_kv = 2;
    const KVFormat *kv[MAX_KV] = {kv_format(KV_F32), kv_format(KV_F16)};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) n_threads = parse_list(argv[++i], threads, 16);
        else if (!strcmp(argv[i], "--keys") && i + 1 < argc) n_keys = parse_list(argv[++i], keys, 16);
        else if (!strcmp(argv[i], "--clock") && i + 1 < argc) bench_cpu_clock = !strcmp(argv[++i], "cpu");
        else if (!strcmp(argv[i], "--kv") && i + 1 < argc) {
            if ((n_kv = bench_kv_formats("bench_attention", argv[++i], kv, MAX_KV)) < 0) return 2;
        } else return fprintf(stderr, "%s", USAGE), 2;
    }
    for (int i = 0; i < n_keys; i++)
        if (keys[i] < 1 || keys[i] > 1 << 20) return fprintf(stderr, "bench_attention: keys are 1 .. 2^20\n"), 2;
    const int kv_dim = KV_HEADS * HEAD_DIM, q_dim = HEADS * HEAD_DIM;
    printf("ms per token, %d layers x %d heads (%d kv heads) x %d, %s clock, median of %d\n", LAYERS, HEADS, KV_HEADS,
           HEAD_DIM, bench_cpu_clock ? "CPU" : "wall", RUNS);
    printf("%7s %7s | %12s", "threads", "keys", "M2 (f32)");
    for (int f = 0; f < n_kv; f++) printf(" %9s %-4s", "kv", kv[f]->name);
    printf("\n");
    float q[HEADS * HEAD_DIM], out[HEADS * HEAD_DIM];
    for (int i = 0; i < q_dim; i++) q[i] = sinf((float)i * 0.7f);
    for (int ki = 0; ki < n_keys; ki++) {
        const int n = keys[ki];
        const size_t per_layer = (size_t)n * kv_dim;
        // Each format's rows of a layer: n positions of KV_HEADS rows (kv_kernels.h).
        size_t bytes[MAX_KV];
        for (int f = 0; f < n_kv; f++) bytes[f] = (size_t)n * KV_HEADS * kv_row_bytes(kv[f]->type, HEAD_DIM);
        float *k[LAYERS], *v[LAYERS], *scores = malloc((size_t)n * sizeof *scores);
        void *kf[MAX_KV][LAYERS], *vf[MAX_KV][LAYERS];
        for (int l = 0; l < LAYERS; l++) {
            k[l] = ps_alloc_big(per_layer * 4), v[l] = ps_alloc_big(per_layer * 4);
            if (!k[l] || !v[l] || !scores) return fprintf(stderr, "bench_attention: out of memory for %d keys\n", n), 1;
            for (size_t i = 0; i < per_layer; i++) k[l][i] = sinf((float)i * 0.013f), v[l][i] = cosf((float)i * 0.029f);
            for (int f = 0; f < n_kv; f++) {
                kf[f][l] = ps_alloc_big(bytes[f]), vf[f][l] = ps_alloc_big(bytes[f]);
                if (!kf[f][l] || !vf[f][l]) return fprintf(stderr, "bench_attention: out of memory for %d keys\n", n), 1;
                store_like_cache(kv[f], kf[f][l], k[l], n), store_like_cache(kv[f], vf[f][l], v[l], n);
            }
        }
        for (int ti = 0; ti < n_threads; ti++) {
            pool_set_threads(threads[ti]);
            printf("%7d %7d |", threads[ti], n);
            for (int way = -1; way < n_kv; way++) {   // -1: M2's attention() over the f32 rows
                double t[RUNS];
                for (int r = 0; r < RUNS; r++) {
                    const double start = bench_now();
                    for (int l = 0; l < LAYERS; l++) {
                        if (way < 0) {
                            attention(out, q, k[l], v[l], n, kv_dim, HEADS, KV_HEADS, HEAD_DIM, scores);
                            continue;
                        }
                        const KVType type = kv[way]->type;
                        const KVLayerView view =
                            kv_cache_by_head(type) ? kv_view_by_head(kf[way][l], vf[way][l], type, HEADS, KV_HEADS, HEAD_DIM, n)
                                                   : kv_view_by_position(kf[way][l], vf[way][l], type, HEADS, KV_HEADS, HEAD_DIM);
                        kv_attention(out, q, 1, n - 1, &view);
                    }
                    t[r] = (bench_now() - start) * 1e3;
                }
                printf(" %*.2f", way < 0 ? 12 : 14, ps_median(t, RUNS));
            }
            printf("\n");
            fflush(stdout);
        }
        for (int l = 0; l < LAYERS; l++) {
            ps_free_big(k[l], per_layer * 4), ps_free_big(v[l], per_layer * 4);
            for (int f = 0; f < n_kv; f++) ps_free_big(kf[f][l], bytes[f]), ps_free_big(vf[f][l], bytes[f]);
        }
        free(scores);
    }
    return 0;
}
