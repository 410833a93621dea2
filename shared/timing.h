// Wall-clock seconds from a monotonic clock: for progress lines and benchmarks, never for test verdicts.
#ifndef PS_TIMING_H
#define PS_TIMING_H

#include <stdlib.h>
#include <time.h>

static inline double ps_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int ps_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// The median of n timings (sorts v in place). Benchmarks report medians: on a shared machine one
// run in several is slowed by a neighbour, and the mean would carry that noise.
static inline double ps_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, ps_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
