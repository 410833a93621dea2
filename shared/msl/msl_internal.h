// Runtime-internal state shared by msl_rt.c (scheduler) and msl_check.c (race checker, registry).
#ifndef MSL_INTERNAL_H
#define MSL_INTERNAL_H

#include "msl_rt.h"

// Per worker: what the race checker needs to know about the threadgroup it is running.
typedef struct {
    uint32_t epoch;               // bumped at each threadgroup start and each barrier release
    void *shadow;                 // msl_check.c's per-byte access records, allocated on first use
    const unsigned char *arena;   // this worker's threadgroup memory
    const char *kernel;           // for messages
    uint32_t group[3];
    // The layout of the arena, for bounds: threadgroup(n) buffers, then kernel-scope variables.
    size_t dyn_off[MSL_MAX_BUFFERS], dyn_len[MSL_MAX_BUFFERS];
    size_t static_base, static_end;
    void *pending;                // accesses of the running thread not yet told read or write
    int npending;
    unsigned char *scratch;       // where an out-of-bounds access goes instead
    const MslDispatch *dispatch;  // its buffers and their lengths, for device bounds
} MslCheckState;

void msl_check_report(const char *msg);  // records the dispatch's first error (thread-safe)
void msl_check_free(MslCheckState *c);
// The running thread t stops (barrier, collective, end): classify its pending accesses.
void msl_tg_flush(MslCheckState *c, const MslThread *t);
// A checking-build failure of the running thread, with the kernel and threadgroup prepended.
void msl_check_fail(MslCheckState *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
