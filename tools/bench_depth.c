// bench_depth: what a context costs a decode step. Decode steps at position 0 and at DEPTH taken
// in turn, a short burst of each per round, so that both see the same minute of the machine.
//
//     build/tools/bench_depth [MODEL_DIR] [--format q4_0] [--kv q4_0] [--threads 1] [--depth 1024]
//                             [-n 4] [-r 5] [--clock wall|cpu]
//
// Each round decodes n tokens from position 0, then n from DEPTH (the next round the other way
// round, so that neither always follows the other), and prints both steps' milliseconds and
// their ratio; the summary is the median ratio and its range. On a shared VM whose speed drifts by
// tens of percent over minutes, separate runs at 0 and at DEPTH (bench_peer --depth 0,4096) can
// land on different minutes, and their ratio moves with them; a ratio per round does not.
// The cache reaches DEPTH as in bench_peer (bench_setup.h). Default (make bench): the synthetic
// 0.6B-shape model, Q4_0 weights, a 4-bit cache, one thread, 1,024 positions.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_setup.h"
#include "bench_util.h"
#include "forward.h"
#include "kvcache.h"
#include "model.h"
#include "quant_model.h"
#include "thread_pool.h"

#define MAX_ROUNDS 64

// A whole number in [lo, hi] from text, or false after a message naming the flag.
static bool parse_count(const char *flag, const char *text, int lo, int hi, int *out) {
    char *end;
    const long v = strtol(text, &end, 10);
    if (end == text || *end || v < lo || v > hi) {
        fprintf(stderr, "bench_depth: %s takes a number from %d to %d, not '%s'\n", flag, lo, hi, text);
        return false;
    }
    *out = (int)v;
    return true;
}

// Milliseconds per token of n decode steps starting at position `at`, or -1 when a step failed
// (its message printed).
static double ms_per_token(KVCache *kc, int at, int n, const int32_t *ids, float *logits) {
    kc->n = at;
    const double start = bench_now();
    for (int i = 0; i < n; i++)
        if (kv_cache_forward(kc, ids + i, 1, logits, false) != 0) return -1;
    return 1e3 * (bench_now() - start) / n;
}

static int by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// The median of v[0..n) (n >= 1), sorting a copy.
static double median(const double *v, int n) {
    double s[MAX_ROUNDS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, by_value);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

// The cache brought to `depth`, then the rounds, each line printed as it ends, and the summary.
// False when a step failed (its message printed).
static bool run_rounds(KVCache *kc, int depth, int n, int rounds, const int32_t *ids, float *logits) {
    int filled = 0;
    if (bench_fill_to_depth(kc, depth, &filled, ids, logits) != 0) return false;
    printf("%5s %12s %12s %7s\n", "round", "ms/tok at 0", "at depth", "ratio");
    if (ms_per_token(kc, 0, n, ids, logits) < 0 || ms_per_token(kc, depth, n, ids, logits) < 0) return false;   // warm-up
    double at0[MAX_ROUNDS], atd[MAX_ROUNDS], ratio[MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        // Steps at 0 overwrite positions 0 .. n-1 with real rows: the time at depth does not change.
        if (r % 2 == 0) at0[r] = ms_per_token(kc, 0, n, ids, logits), atd[r] = ms_per_token(kc, depth, n, ids, logits);
        else atd[r] = ms_per_token(kc, depth, n, ids, logits), at0[r] = ms_per_token(kc, 0, n, ids, logits);
        if (at0[r] < 0 || atd[r] < 0) return false;
        ratio[r] = atd[r] / at0[r];
        printf("%5d %12.3f %12.3f %7.3f\n", r + 1, at0[r], atd[r], ratio[r]);
        fflush(stdout);
    }
    double lo = ratio[0], hi = ratio[0];
    for (int r = 1; r < rounds; r++) lo = ratio[r] < lo ? ratio[r] : lo, hi = ratio[r] > hi ? ratio[r] : hi;
    printf("depth %d over 0: median %.3f (range %.3f-%.3f over %d round%s); medians %.3f and %.3f ms/token\n", depth,
           median(ratio, rounds), lo, hi, rounds, rounds == 1 ? "" : "s", median(at0, rounds), median(atd, rounds));
    return true;
}

int main(int argc, char **argv) {
    const char *dir = "build/models/qwen3-0.6b-shape", *format = "q4_0", *kv_name = "q4_0";
    int threads = 1, depth = 1024, n = 4, rounds = 5;
    if (quant_register() != 0) return 1;   // M5's cache formats join f32 and f16
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (a[0] != '-') dir = a;
        else if (!v) ok = false;
        else if (!strcmp(a, "--format")) format = v, i++;
        else if (!strcmp(a, "--kv")) kv_name = v, i++;
        else if (!strcmp(a, "--threads")) ok = parse_count(a, v, 1, 1024, &threads), i++;
        else if (!strcmp(a, "--depth")) ok = parse_count(a, v, 1, 1 << 20, &depth), i++;
        else if (!strcmp(a, "-n")) ok = parse_count(a, v, 1, 1024, &n), i++;
        else if (!strcmp(a, "-r")) ok = parse_count(a, v, 1, MAX_ROUNDS, &rounds), i++;
        else if (!strcmp(a, "--clock")) ok = !strcmp(v, "cpu") || !strcmp(v, "wall"), bench_cpu_clock = !strcmp(v, "cpu"), i++;
        else ok = false;
        if (!ok)
            return fprintf(stderr, "usage: bench_depth [MODEL_DIR] [--format q4_0] [--kv q4_0] [--threads 1] "
                                   "[--depth 1024] [-n 4] [-r 5] [--clock wall|cpu]\n"), 2;
    }
    const KVFormat *kv;
    DType f;
    if (bench_kv_formats("bench_depth", kv_name, &kv, 1) != 1 || !bench_weight_format("bench_depth", format, &f)) return 2;
    if (bench_model_missing(dir)) return 0;
    Model m;
    if (bench_load_as(&m, dir, format, f) != 0) return 1;
    // Position depth + n - 1 is the last one written; the ids cover the prefill and the steps.
    const int ctx = depth + n;
    if (ctx > m.cfg.max_seq_len) {
        fprintf(stderr, "bench_depth: --depth %d and -n %d need %d positions; %s has %d\n", depth, n, ctx, dir,
                m.cfg.max_seq_len);
        model_free(&m);
        return 2;
    }
    int32_t *ids = malloc((size_t)(ctx + BENCH_FILL) * sizeof *ids);
    float *logits = malloc((size_t)m.cfg.vocab_size * sizeof *logits);
    KVCache kc;
    int rc = 1;
    if (!ids || !logits) fprintf(stderr, "bench_depth: out of memory\n");
    else if (kv_cache_init_as(&kc, &m, ctx, 0, kv->type) == 0) {
        for (int i = 0; i < ctx + BENCH_FILL; i++) ids[i] = (int32_t)((i * 7919 + 13) % m.cfg.vocab_size);
        pool_set_threads(threads);
        printf("%s: %s weights, %s cache, %d thread%s: rounds of %d decode steps at position 0 and at %d, in turn\n",
               dir, format, kv->name, threads, threads == 1 ? "" : "s", n, depth);
        rc = run_rounds(&kc, depth, n, rounds, ids, logits) ? 0 : 1;
        kv_cache_free(&kc);
    }
    free(ids), free(logits);
    model_free(&m);
    return rc;
}
