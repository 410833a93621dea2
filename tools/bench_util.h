// What the benchmarks share: the synthetic model they read may not have been made yet.
#ifndef PS_BENCH_UTIL_H
#define PS_BENCH_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kv_kernels.h"
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

// A --kv list such as "f16,q8_0": the registered cache formats it names (kv_kernels.h; register a
// later lab's first), at most max of them, into out. Their count, or -1 after a message naming
// `tool`, the name not found and the names there are.
static inline int bench_kv_formats(const char *tool, const char *text, const KVFormat **out, int max) {
    char list[256];
    snprintf(list, sizeof list, "%s", text);
    int n = 0;
    for (char *name = strtok(list, ","); name && n < max; name = strtok(NULL, ",")) {
        if (!(out[n++] = kv_format_named(name))) {
            char names[128];
            kv_format_names(names, sizeof names);
            fprintf(stderr, "%s: --kv: no cache format '%s' (%s)\n", tool, name, names);
            return -1;
        }
    }
    return n;
}

#endif
