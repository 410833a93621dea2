// bench_peer: prefill and decode speed, llama-bench's way, so the two engines can be compared on
// the same machine (tools/bench-peer.sh, `make bench-peer`, runs both and prints the ratios).
//
//     build/tools/bench_peer [MODEL_DIR] [--formats f32,bf16,q8_0,q4_0] [--threads 1,8,16]
//                            [-p 128] [-n 32] [-r 3] [--depth 0,4096] [--kv f32,f16,q8_0] [--csv FILE]
//                            [--attention scaled|m2] [--clock wall|cpu]
//
// For each format, thread count, KV type and depth (positions already in the cache):
//   pp  a prefill of P tokens through the KV cache (kv_cache_forward, last position's logits):
//       P / seconds, as llama-bench's "ppP"
//   tg  N decode steps of one token each: N / seconds, as llama-bench's "tgN"
// each once to warm up, then r times: the mean and standard deviation of the tokens per second.
// Weights are read into memory (llama-bench --mmap 0). The cache reaches a depth without a
// real prefill of that length (minutes on one thread): a real 8-token prefill, copied.
// --attention m2 runs an f32 cache's attention with M2's attention() (the cached_attention task, as
// before kv_attention.c), for before/after figures.
// Default (make bench): build/models/qwen3-0.6b-shape, f32 and q8_0, 1 and 2 threads, -p 64 -n 16 -r 1.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "bench_setup.h"
#include "bench_util.h"
#include "forward.h"
#include "kvcache.h"
#include "model.h"
#include "quant.h"
#include "quant_model.h"
#include "thread_pool.h"
#include "timing.h"

#define MAX_LIST 16
#define MAX_REPS 32

typedef struct {
    int n;
    int v[MAX_LIST];
} IntList;

// "1,8,16" into l; false (message) on anything else.
static bool parse_ints(const char *flag, const char *text, int lo, IntList *l) {
    l->n = 0;
    for (const char *p = text; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < lo || v > 1000000 || l->n == MAX_LIST || (*end && *end != ','))
            return fprintf(stderr, "bench_peer: %s takes numbers >= %d separated by commas, not '%s'\n", flag, lo, text), false;
        l->v[l->n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    return l->n > 0;
}

// Tokens per second of one run: prefill (n_prompt > 0) or n_gen decode steps, from `depth`.
static double run_once(KVCache *kc, int depth, int *filled, int n_prompt, int n_gen, const int32_t *ids,
                       float *logits) {
    if (bench_fill_to_depth(kc, depth, filled, ids, logits) != 0) exit(1);
    const double start = bench_now();
    if (n_prompt > 0) {
        if (kv_cache_forward(kc, ids, n_prompt, logits, false) != 0) exit(1);
        return n_prompt / (bench_now() - start);
    }
    for (int i = 0; i < n_gen; i++)
        if (kv_cache_forward(kc, ids + i, 1, logits, false) != 0) exit(1);
    return n_gen / (bench_now() - start);
}

// "f16,q8_0": which registered cache formats to run, by KVType; false (message) on a name not there.
static bool parse_kv(const char *text, bool use[KV_MAX_FORMATS]) {
    const KVFormat *f[KV_MAX_FORMATS];
    const int n = bench_kv_formats("bench_peer", text, f, KV_MAX_FORMATS);
    for (int t = 0; t < KV_MAX_FORMATS; t++) use[t] = false;
    for (int i = 0; i < n; i++) use[f[i]->type] = true;
    return n > 0;
}

// An early exit: the CSV's stand-in (if any) removed, rc returned.
static int quit(AtomicFile *csv, int rc) {
    if (csv->f) atomic_file_abort(csv);
    return rc;
}

int main(int argc, char **argv) {
    const char *dir = "build/models/qwen3-0.6b-shape", *csv_path = NULL;
    const char *formats_text = "f32,q8_0";
    IntList threads = {2, {1, 2}}, depths = {1, {0}};
    int n_prompt = 64, n_gen = 16, reps = 1;
    bool kv_use[KV_MAX_FORMATS] = {[KV_F32] = true};   // which cache formats to run, by KVType
    if (quant_register() != 0) return 1;   // M5's cache format (q8_0) joins f32 and f16
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        IntList one;
        bool ok = true;
        if (a[0] != '-') dir = a;
        else if (!v) ok = false;
        else if (!strcmp(a, "--formats")) formats_text = v, i++;
        else if (!strcmp(a, "--threads")) ok = parse_ints(a, v, 1, &threads), i++;
        else if (!strcmp(a, "--depth")) ok = parse_ints(a, v, 0, &depths), i++;
        else if (!strcmp(a, "-p")) ok = parse_ints(a, v, 0, &one) && one.n == 1, n_prompt = one.v[0], i++;
        else if (!strcmp(a, "-n")) ok = parse_ints(a, v, 0, &one) && one.n == 1, n_gen = one.v[0], i++;
        else if (!strcmp(a, "-r")) ok = parse_ints(a, v, 1, &one) && one.n == 1 && one.v[0] <= MAX_REPS, reps = one.v[0], i++;
        else if (!strcmp(a, "--csv")) csv_path = v, i++;
        else if (!strcmp(a, "--clock")) ok = !strcmp(v, "cpu") || !strcmp(v, "wall"), bench_cpu_clock = !strcmp(v, "cpu"), i++;
        else if (!strcmp(a, "--attention")) ok = !strcmp(v, "m2") || !strcmp(v, "scaled"), kv_attention_use(!strcmp(v, "scaled")), i++;
        else if (!strcmp(a, "--kv")) {
            ok = parse_kv(v, kv_use), i++;
        } else ok = false;
        if (!ok)
            return fprintf(stderr, "usage: bench_peer [MODEL_DIR] [--formats f32,bf16,q8_0,q4_0] [--threads 1,8,16] "
                                   "[-p 128] [-n 32] [-r 3] [--depth 0,4096] [--kv f32,f16,q8_0] [--csv FILE] "
                                   "[--attention scaled|m2] [--clock wall|cpu]\n"), 2;
    }
    if (bench_model_missing(dir)) return 0;
    AtomicFile out = {0};   // the CSV appears once every run is in it
    FILE *csv = csv_path ? atomic_file_open(&out, csv_path, "w") : NULL;
    if (csv_path && !csv) return 1;
    if (csv) fprintf(csv, "engine,format,threads,kv,depth,test,tokens_per_s,stddev\n");
    printf("%s: weights read into memory; %d runs each after a warm-up; tokens per second (mean ± sd)\n", dir, reps);
    printf("%-6s %7s %4s %6s %-6s %12s %8s\n", "format", "threads", "kv", "depth", "test", "tok/s", "sd");
    char list[256];
    snprintf(list, sizeof list, "%s", formats_text);
    for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
        DType f;
        if (!bench_weight_format("bench_peer", name, &f)) return quit(&out, 2);
        Model m;
        if (bench_load_as(&m, dir, name, f) != 0) return quit(&out, 1);
        int max_depth = 0;
        for (int d = 0; d < depths.n; d++) max_depth = depths.v[d] > max_depth ? depths.v[d] : max_depth;
        const int ctx = max_depth + (n_prompt > n_gen ? n_prompt : n_gen) + 1;
        int32_t *ids = malloc((size_t)(ctx + BENCH_FILL) * sizeof *ids);
        float *logits = malloc((size_t)m.cfg.vocab_size * sizeof *logits);
        if (!ids || !logits) return fprintf(stderr, "bench_peer: out of memory\n"), quit(&out, 1);
        for (int i = 0; i < ctx + BENCH_FILL; i++) ids[i] = (int32_t)((i * 7919 + 13) % m.cfg.vocab_size);
        for (KVType kt = 0; kt < KV_MAX_FORMATS; kt++) {
            if (!kv_use[kt]) continue;
            const char *kv_name = kv_format(kt)->name;
            KVCache kc;
            if (kv_cache_init_as(&kc, &m, ctx, 0, kt) != 0) return quit(&out, 1);
            int filled = 0;   // positions of the cache holding keys and values
            for (int th = 0; th < threads.n; th++) {
                pool_set_threads(threads.v[th]);
                for (int d = 0; d < depths.n; d++)
                    for (int test = 0; test < 2; test++) {
                        const int p = test == 0 ? n_prompt : 0, g = test == 0 ? 0 : n_gen;
                        if (p + g == 0) continue;
                        run_once(&kc, depths.v[d], &filled, p, g, ids, logits);   // warm-up
                        double ts[MAX_REPS], mean = 0, var = 0;
                        for (int r = 0; r < reps; r++) mean += ts[r] = run_once(&kc, depths.v[d], &filled, p, g, ids, logits);
                        mean /= reps;
                        for (int r = 0; r < reps; r++) var += (ts[r] - mean) * (ts[r] - mean);
                        const double sd = reps > 1 ? sqrt(var / (reps - 1)) : 0;
                        char test_name[32];
                        snprintf(test_name, sizeof test_name, "%s%d", test == 0 ? "pp" : "tg", p + g);
                        printf("%-6s %7d %4s %6d %-6s %12.2f %8.2f\n", name, threads.v[th], kv_name,
                               depths.v[d], test_name, mean, sd);
                        fflush(stdout);
                        if (csv)
                            fprintf(csv, "protostar,%s,%d,%s,%d,%s,%.3f,%.3f\n", name, threads.v[th], kv_name,
                                    depths.v[d], test_name, mean, sd);
                    }
            }
            kv_cache_free(&kc);
        }
        free(ids), free(logits);
        model_free(&m);
    }
    return csv && atomic_file_commit(&out) != 0 ? 1 : 0;
}
