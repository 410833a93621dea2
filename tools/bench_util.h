// What the benchmarks share: the synthetic model they read may not have been made yet.
#ifndef PS_BENCH_UTIL_H
#define PS_BENCH_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "timing.h"

// Wall-clock seconds, or with bench_cpu_clock set the CPU time of the whole process: on a loaded
// machine (a shared VM) that is what a 1-thread run costs, whatever else competes for the cores.
static bool bench_cpu_clock;
static inline double bench_now(void) {
    if (!bench_cpu_clock) return ps_now();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

// True (after saying so, and how to make it) when DIR/model.safetensors is missing: the benchmark
// is then skipped, not failed (make bench runs on machines without the 1.5 GB model).
static inline int bench_model_missing(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *probe = fopen(path, "rb");
    if (probe) {
        fclose(probe);
        return 0;
    }
    printf("(%s missing: build/tools/synth qwen3-0.6b-shape %s makes it; skipped)\n", path, dir);
    return 1;
}

#endif
