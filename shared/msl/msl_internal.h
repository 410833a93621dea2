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
    uint32_t group_index;         // the threadgroup's linear index in the grid
    uint32_t dev_epoch;           // bumped at each barrier that orders device memory
} MslCheckState;

void msl_check_report(const char *msg);  // records the dispatch's first error (thread-safe)
void msl_check_free(MslCheckState *c);
// The running thread t stops (barrier, collective, end): classify its pending accesses.
void msl_tg_flush(MslCheckState *c, const MslThread *t);
// An access to remember until the thread stops (split into pieces; is_device: device memory).
void msl_pend(MslCheckState *c, const MslThread *t, const void *addr, const void *base,
              size_t size, int line, const char *name, int is_device);
// Where an out-of-bounds access goes instead (the dispatch has failed).
void *msl_check_scratch(MslCheckState *c, const void *addr, size_t size);
// msl_devcheck.c: a classified device access of thread t; the dispatch starting (all workers idle).
void msl_dev_access(MslCheckState *c, const MslThread *t, const char *name,
                    const unsigned char *addr, size_t off, size_t size, int is_write, int line);
void msl_dev_begin(const MslDispatch *d);
// A checking-build failure of the running thread, with the kernel and threadgroup prepended.
void msl_check_fail(MslCheckState *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
