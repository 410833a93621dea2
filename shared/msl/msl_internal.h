// Runtime-internal state shared by msl_rt.c (scheduler), msl_pool.c (workers), msl_check.c and
// msl_devcheck.c (the checking build, the kernel registry).
#ifndef MSL_INTERNAL_H
#define MSL_INTERNAL_H

#include <stdatomic.h>

#include "msl_fiber.h"
#include "msl_rt.h"

// Per worker: what the race checker needs to know about the threadgroup it is running.
typedef struct {
    uint32_t epoch;               // bumped at each threadgroup start and each barrier release
    void *shadow;                 // msl_check.c's per-byte access records, allocated on first use
    const unsigned char *arena;   // this worker's threadgroup memory
    const char *kernel;           // for messages
    uint32_t group[3];
    // The layout of the arena, for bounds: threadgroup(n) buffers (their lengths are the
    // dispatch's), then kernel-scope variables.
    size_t static_base, static_end;
    void *pending;                // accesses of the running thread not yet told read or write
    int npending;
    unsigned char *scratch;       // where an out-of-bounds access goes instead
    const MslDispatch *dispatch;  // its buffers and their lengths, for device bounds
    uint32_t group_index;         // the threadgroup's linear index in the grid
    uint32_t dev_epoch;           // bumped at each barrier that orders device memory
} MslCheckState;

// ---- the scheduler's records (msl_rt.c), run by the pool's workers (msl_pool.c) ----
enum { T_RUN, T_BARRIER, T_SIMD, T_DONE };

typedef struct {
    unsigned char in[MSL_SIMD_WIDTH][16];  // phase 1: each arriving lane writes its value here
    MslSimdView view;                    // phase 2: a snapshot the released lanes read from
} SimdSlots;

typedef struct {
    MslCheckState check;   // first member: msl_check.c reaches it through MslThread.rt
    MslFiber sched;         // the worker's own context: where fibers switch back to
    MslFiber *fibers;       // FULL: one per thread; SIMD: one per lane, reused by each group
    unsigned char *parked;   // per fiber: its last thread ended, it waits for the next one
    MslThread *threads;
    uint32_t *order;         // schedule: the order runnable threads are resumed in
    uint32_t pass_len, cursor;  // the current pass over order[]: its length, where it is
    uint32_t nthreads, nfibers;  // allocated so far (they only grow)
    uint32_t laid_out[3];    // the threadgroup size the thread records are filled in for
    SimdSlots simd[MSL_MAX_TG_THREADS / MSL_SIMD_WIDTH];
    unsigned char *arena;    // threadgroup memory, MSL_TG_MEM_BYTES
    unsigned char *tg_dyn[MSL_MAX_BUFFERS];
    size_t tg_static_base;   // kernel-scope variables start after the threadgroup(n) buffers
    size_t tg_poisoned;      // high-water mark of the poisoned area in this threadgroup
    MslKind mode;           // how the current threadgroup is being run
    const MslDispatch *d;
    uint32_t rng;
    uint32_t rotation;       // checking build: which schedule the next pass uses
} Worker;

// Runs threadgroups of dispatch d on worker w until none is left (or the dispatch failed).
void msl_work(Worker *w, const MslDispatch *d);

// What the scheduler reads of the pool (msl_pool.c): the current dispatch and the options.
typedef struct {
    atomic_uint next;           // next threadgroup to hand out
    uint32_t total;
    atomic_int failed;
    msl_schedule schedule;
    int schedule_fixed;         // chosen by the program or $MSL_SCHEDULE (else varied, checking)
    uint32_t seed;
    size_t stack_size;
} MslPoolShared;
extern MslPoolShared msl_pool;

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
