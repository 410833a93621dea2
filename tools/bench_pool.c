// bench_pool: what a round of the thread pool costs (shared/thread_pool.h), per thread count.
//
//     build/tools/bench_pool [--threads 1,2,4,8,16] [--rounds N]
//
// A decode step of Qwen3-0.6B was ~210 rounds (7 products per layer, the lm_head, attention at
// long contexts), ~130 since q/k/v and gate/up share one each (matmul_many; bench_decode counts
// them): at 16 threads and ~100 tokens/s that is ~75 microseconds per round, so a pool whose round
// trip takes 10 of them loses an eighth of the step. Per thread count it prints:
//   empty   microseconds per round of a job whose parts do nothing: posting the round and
//           finishing it (the pool's own cost). The caller runs itself every part no worker has
//           claimed by the time its own is done, so with parts this short it often runs them all:
//           the figure is the cost of a round that waits for nobody (stream shows the workers at work)
//   stream  microseconds per round of a job that sums a 4 MiB slice of memory split over the
//           parts (the size of one 1024 x 1024 f32 matrix-vector product), and the speed-up
//           over 1 thread: what the memory and the pool give together
//   swiglu  microseconds of a decode step's SwiGLU (3072 values, an expf and a division each) on
//           the calling thread alone, and split into a round of the pool's threads: whether a job
//           that small is worth a round (pool_parts_for keeps it whole; PS_POOL_WORK changes that)
// Medians of 5 batches, and the best batch of the empty rounds: a machine whose cores are shared
// (a VM, other jobs) shows its neighbours in the median, the best is closer to the pool's own cost.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thread_pool.h"
#include "timing.h"

#define STREAM_FLOATS (1 << 20)   // 4 MiB
#define BATCHES 5

static void nothing(void *arg, int part, int n_parts) { (void)arg, (void)part, (void)n_parts; }

typedef struct {
    const float *data;
    float sums[64];
} Stream;

static void stream_part(void *arg, int part, int n_parts) {
    Stream *s = arg;
    const size_t lo = (size_t)STREAM_FLOATS * part / n_parts, hi = (size_t)STREAM_FLOATS * (part + 1) / n_parts;
    float acc[8] = {0};   // 8 independent sums: the loop vectorises, memory is the limit
    for (size_t i = lo; i + 8 <= hi; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += s->data[i + k];
    s->sums[part] = acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
}

#define SWIGLU_VALUES 3072   // Qwen3-0.6B's ffn_dim, one token

typedef struct {
    float gate[SWIGLU_VALUES], up[SWIGLU_VALUES], out[SWIGLU_VALUES];
} Swiglu;

static void swiglu_part(void *arg, int part, int n_parts) {
    Swiglu *s = arg;
    // Slices of whole cache lines (16 floats), as forward.c's swiglu() takes them.
    const int lo = SWIGLU_VALUES / 16 * part / n_parts * 16, hi = SWIGLU_VALUES / 16 * (part + 1) / n_parts * 16;
    for (int i = lo; i < hi; i++) s->out[i] = s->gate[i] / (1.0f + expf(-s->gate[i])) * s->up[i];
}

// Median microseconds per round of fn over `rounds` rounds, n_parts = threads (and the best batch's
// into *best when not NULL).
static double per_round(PoolTask fn, void *arg, int threads, int rounds, double *best) {
    double t[BATCHES];
    for (int b = 0; b < BATCHES; b++) {
        const double start = ps_now();
        for (int r = 0; r < rounds; r++) pool_run(fn, arg, threads);
        t[b] = (ps_now() - start) * 1e6 / rounds;
        if (best && (b == 0 || t[b] < *best)) *best = t[b];
    }
    return ps_median(t, BATCHES);
}

int main(int argc, char **argv) {
    int threads[16] = {1, 2}, n_threads = 2, rounds = 2000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            n_threads = 0;
            for (char *p = strtok(argv[++i], ","); p && n_threads < 16; p = strtok(NULL, ",")) threads[n_threads++] = atoi(p);
        } else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else {
            return fprintf(stderr, "usage: bench_pool [--threads 1,2,4,8,16] [--rounds N]\n"), 2;
        }
    }
    for (int i = 0; i < n_threads; i++)
        if (threads[i] < 1 || threads[i] > 16) return fprintf(stderr, "bench_pool: threads are 1..16\n"), 2;
    if (rounds < 1) return fprintf(stderr, "bench_pool: --rounds must be at least 1\n"), 2;
    Stream s;
    float *data = malloc(STREAM_FLOATS * sizeof *data);
    if (!data) return fprintf(stderr, "bench_pool: out of memory\n"), 1;
    for (size_t i = 0; i < STREAM_FLOATS; i++) data[i] = (float)(i & 1023) * 0.001f;
    s.data = data;
    static Swiglu sw;
    for (int i = 0; i < SWIGLU_VALUES; i++) sw.gate[i] = (float)(i % 97) * 0.1f - 4.0f, sw.up[i] = (float)(i % 13) * 0.2f;
    printf("%7s | %12s %8s | %12s %8s %8s | %10s %10s\n", "threads", "empty us", "best", "stream us", "GB/s", "speed-up",
           "swiglu us", "split us");
    double one = 0;
    for (int i = 0; i < n_threads; i++) {
        pool_set_threads(threads[i]);
        pool_run(nothing, NULL, threads[i]);   // starts the workers
        double best = 0;
        const double empty = per_round(nothing, NULL, threads[i], rounds, &best);
        const double stream = per_round(stream_part, &s, threads[i], rounds / 4 + 1, NULL);
        if (threads[i] == 1 || one == 0) one = stream * threads[i];   // 1-thread time, or its estimate
        const double whole = per_round(swiglu_part, &sw, 1, rounds, NULL);
        const double split = per_round(swiglu_part, &sw, threads[i], rounds, NULL);
        printf("%7d | %12.2f %8.2f | %12.1f %8.1f %8.2f | %10.2f %10.2f\n", threads[i], empty, best, stream,
               STREAM_FLOATS * sizeof(float) / (stream * 1e3), one / stream, whole, split);
        fflush(stdout);
    }
    free(data);
    return 0;
}
