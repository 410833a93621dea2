// bench_attention: one decode step's attention over the cache, alone: M2's attention() (the
// cached_attention task's) against the engine's kv_attention() on an f32 and an f16 cache.
//
//     build/tools/bench_attention [--threads 1,2] [--keys 256,1024,4096] [--clock wall|cpu]
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
#include "mapfile.h"
#include "thread_pool.h"
#include "timing.h"

#define LAYERS 28
#define HEADS 16
#define KV_HEADS 8
#define HEAD_DIM 128
#define RUNS 5

static int parse_list(char *text, int *out, int max) {
    int n = 0;
    for (char *p = strtok(text, ","); p && n < max; p = strtok(NULL, ",")) out[n++] = atoi(p);
    return n;
}

int main(int argc, char **argv) {
    int threads[16] = {1, 2}, n_threads = 2, keys[16] = {256, 1024, 4096}, n_keys = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) n_threads = parse_list(argv[++i], threads, 16);
        else if (!strcmp(argv[i], "--keys") && i + 1 < argc) n_keys = parse_list(argv[++i], keys, 16);
        else if (!strcmp(argv[i], "--clock") && i + 1 < argc) bench_cpu_clock = !strcmp(argv[++i], "cpu");
        else return fprintf(stderr, "usage: bench_attention [--threads 1,2] [--keys 256,1024,4096] [--clock wall|cpu]\n"), 2;
    }
    for (int i = 0; i < n_keys; i++)
        if (keys[i] < 1 || keys[i] > 1 << 20) return fprintf(stderr, "bench_attention: keys are 1 .. 2^20\n"), 2;
    const int kv_dim = KV_HEADS * HEAD_DIM, q_dim = HEADS * HEAD_DIM;
    printf("ms per token, %d layers x %d heads (%d kv heads) x %d, %s clock, median of %d\n", LAYERS, HEADS, KV_HEADS,
           HEAD_DIM, bench_cpu_clock ? "CPU" : "wall", RUNS);
    printf("%7s %7s | %12s %12s %12s\n", "threads", "keys", "M2 (f32)", "kv f32", "kv f16");
    float q[HEADS * HEAD_DIM], out[HEADS * HEAD_DIM];
    for (int i = 0; i < q_dim; i++) q[i] = sinf((float)i * 0.7f);
    for (int ki = 0; ki < n_keys; ki++) {
        const int n = keys[ki];
        const size_t per_layer = (size_t)n * kv_dim;
        float *k[LAYERS], *v[LAYERS], *scores = malloc((size_t)n * sizeof *scores);
        uint16_t *k16[LAYERS], *v16[LAYERS];
        for (int l = 0; l < LAYERS; l++) {
            k[l] = ps_alloc_big(per_layer * 4), v[l] = ps_alloc_big(per_layer * 4);
            k16[l] = ps_alloc_big(per_layer * 2), v16[l] = ps_alloc_big(per_layer * 2);
            if (!k[l] || !v[l] || !k16[l] || !v16[l] || !scores)
                return fprintf(stderr, "bench_attention: out of memory for %d keys\n", n), 1;
            for (size_t i = 0; i < per_layer; i++) k[l][i] = sinf((float)i * 0.013f), v[l][i] = cosf((float)i * 0.029f);
            kv_f32_to_f16(k16[l], k[l], per_layer);
            kv_f32_to_f16(v16[l], v[l], per_layer);
        }
        for (int ti = 0; ti < n_threads; ti++) {
            pool_set_threads(threads[ti]);
            double ms[3];
            for (int way = 0; way < 3; way++) {
                double t[RUNS];
                for (int r = 0; r < RUNS; r++) {
                    const double start = bench_now();
                    for (int l = 0; l < LAYERS; l++) {
                        if (way == 0) {
                            attention(out, q, k[l], v[l], n, kv_dim, HEADS, KV_HEADS, HEAD_DIM, scores);
                            continue;
                        }
                        KVLayerView view = {way == 1 ? (const void *)k[l] : k16[l], way == 1 ? (const void *)v[l] : v16[l],
                                            way == 1 ? KV_F32 : KV_F16, HEADS, KV_HEADS, HEAD_DIM};
                        kv_attention(out, q, 1, n - 1, &view);
                    }
                    t[r] = (bench_now() - start) * 1e3;
                }
                ms[way] = ps_median(t, RUNS);
            }
            printf("%7d %7d | %12.2f %12.2f %12.2f\n", threads[ti], n, ms[0], ms[1], ms[2]);
            fflush(stdout);
        }
        for (int l = 0; l < LAYERS; l++) {
            ps_free_big(k[l], per_layer * 4), ps_free_big(v[l], per_layer * 4);
            ps_free_big(k16[l], per_layer * 2), ps_free_big(v16[l], per_layer * 2);
        }
        free(scores);
    }
    return 0;
}
