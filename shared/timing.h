// Wall-clock seconds from a monotonic clock: for progress lines and benchmarks, never for test verdicts.
#ifndef PS_TIMING_H
#define PS_TIMING_H

#include <time.h>

static inline double ps_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
