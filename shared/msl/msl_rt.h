// The MSL emulator's runtime: runs a compute dispatch of a pre-passed .metal kernel on the CPU
// with Metal's execution model (grid -> threadgroups -> SIMD-groups of 32 -> threads).
//
// Three kinds of code use this header: the runtime itself (msl_rt.c, msl_check.c), the C++ code
// that tools/mslpp generates from each .metal file (through the fake <metal_stdlib>), and the
// emulator backend of shared/mtl.h. Learners normally meet it only through mtl.h.
#ifndef MSL_RT_H
#define MSL_RT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    MSL_MAX_BUFFERS = 31,        // buffer(0..30), as in Metal
    MSL_SIMD_WIDTH = 32,         // Apple GPUs: threadExecutionWidth
    MSL_MAX_TG_THREADS = 1024,   // maxTotalThreadsPerThreadgroup
    MSL_TG_MEM_BYTES = 32768,    // threadgroup memory per threadgroup
    MSL_MAX_PATH = 16,           // call and loop nesting tracked for matching barriers
};

// How a kernel must be executed, decided by the pre-pass from what it (transitively) calls.
typedef enum {
    MSL_PLAIN,  // no barrier, no SIMD collective, no threadgroup memory: a plain loop over threads
    MSL_SIMD,   // SIMD collectives only: the 32 lanes of one SIMD-group run as fibers
    MSL_FULL,   // barriers or threadgroup memory: every thread of the threadgroup is a fiber
} MslKind;

typedef struct MslThread MslThread;

typedef struct {
    const char *name;               // the kernel function's name
    void (*entry)(MslThread *t);   // generated trampoline: unpacks t into the kernel's arguments
    MslKind kind;
    int line;                       // where the kernel is defined in its .metal file
    int checked;                    // built by mslpp -check (races, bounds, divergence)
    uint32_t writes;                // bit n: buffer(n) is a `device T *` without const
} MslKernel;

// One emulated GPU thread. The first block is what the trampoline hands to [[attribute]] params.
struct MslThread {
    uint32_t pos_grid[3];      // thread_position_in_grid
    uint32_t pos_tg[3];        // thread_position_in_threadgroup
    uint32_t tg_pos[3];        // threadgroup_position_in_grid
    uint32_t tg_size[3];       // threads_per_threadgroup (smaller at the edge of a dispatchThreads)
    uint32_t ngroups[3];       // threadgroups_per_grid
    uint32_t grid_size[3];     // threads_per_grid
    uint32_t index_tg;         // thread_index_in_threadgroup
    uint32_t lane, simd;       // thread_index_in_simdgroup, simdgroup_index_in_threadgroup
    uint32_t nsimd;            // simdgroups_per_threadgroup
    void *const *buffers;      // buffer(n) pointers, offsets already applied
    unsigned char *const *tg_dyn;  // threadgroup(n) pointers (setThreadgroupMemoryLength)
    // ---- runtime-private ----
    size_t tg_off;             // bump offset of this thread's kernel-scope threadgroup variables
    int state, site, line;     // scheduler state; where it waits (pre-pass site id, .metal line)
    int depth;                 // entries in path (next to state and site: read together)
    int wait_flags;            // the mem_flags of the barrier it waits at; -1: a simdgroup_barrier
    uint32_t nbarriers;        // threadgroup_barriers passed so far (for divergence messages)
    // Where it is, dynamically: the pre-pass ids of the helper calls it is inside, and for each
    // loop around a collective the loop's id and iteration (msl::call, msl::loop). Two waits
    // are the same barrier or collective only if this path and the site are equal.
    int path[MSL_MAX_PATH];
    void *rt;                  // the worker running this thread
};

// The thread running right now on this worker (set by the scheduler before each switch).
extern __thread MslThread *msl_self;

// ---- called from generated code / the fake <metal_stdlib> ----
void *msl_tg_alloc(size_t size, size_t align);  // a kernel-scope `threadgroup` variable
void msl_barrier(int site, int line, int flags); // threadgroup_barrier (flags: mem_flags bits)
void msl_simd_barrier(int site, int line);      // simdgroup_barrier: every lane must reach it
// A SIMD collective: publishes this lane's value (<= 16 bytes) and waits until every lane of the
// SIMD-group that will take part has arrived. Returns the snapshot of all participants' values.
typedef struct {
    uint32_t active;                 // bit l set: lane l took part
    unsigned char slot[MSL_SIMD_WIDTH][16];
    // A result all lanes share (simd_sum, simd_max, ...): the first released lane computes it,
    // the others copy it. The runtime clears has_result at each release.
    int has_result;
    unsigned char result[16];
} MslSimdView;
MslSimdView *msl_simd_wait(int site, int line, const void *value, size_t size);
// Checking build: one access to threadgroup memory (var = variable name, base = its start).
void msl_check_access(const void *base, const char *var, const void *addr, size_t size,
                      int is_write, int line);
// Checking build (msl_tgcheck.h): a thread takes a reference to [addr, addr + size), which must
// lie in [lo, hi) (its variable or threadgroup(n) buffer). Returns the address to use: addr, or
// a scratch area when it is out of bounds (the dispatch has failed by then). Reads and writes
// are told apart when the thread next stops (msl_tg_flush).
void *msl_tg_touch(const void *addr, size_t size, int line, const char *name, const void *lo,
                   const void *hi, int record);
// The region of threadgroup memory p points into: a threadgroup(n) buffer, or the kernel-scope
// variables; lo = hi = p when p is not in this threadgroup's memory at all.
void msl_tg_region(const void *p, const void **lo, const void **hi);
// Checking build: the same for device memory: [addr, addr + size) must lie in [lo, hi), the
// bound buffer a `device` or `constant` pointer came from (lo = NULL: not a bound buffer, not
// checked). msl_dev_region finds the buffer p points into.
// `record`: 0 for an atomic (bounds only). *watch: the region may be written in this dispatch,
// so accesses to it are checked for races too (not only when out of bounds).
void *msl_dev_touch(const void *addr, size_t size, int line, const char *name, const void *lo,
                    const void *hi, int record);
void msl_dev_region(const void *p, const void **lo, const void **hi, int *watch);
// Checking build: a SIMD collective read lane `lane`, which is not active (or does not exist).
void msl_check_lane(int line, const char *what, unsigned lane);

// ---- kernel registry: generated code registers its kernels before main() ----
void msl_register(const char *source, const MslKernel *kernels, int n);
int msl_source_known(const char *source);
const MslKernel *msl_find_kernel(const char *source, const char *name);

// ---- running a dispatch ----
typedef struct {
    const MslKernel *kernel;
    void *buffers[MSL_MAX_BUFFERS];
    size_t buffer_len[MSL_MAX_BUFFERS];  // bytes from buffers[n] to the end of its MtlBuffer
    size_t tg_mem[MSL_MAX_BUFFERS];  // threadgroup(n) lengths in bytes
    uint32_t groups[3];              // threadgroups per grid
    uint32_t tg_size[3];             // threads per threadgroup
    uint32_t grid[3];                // threads per grid; all 0 = groups * tg_size (uniform)
} MslDispatch;

// Runs it to completion on the worker pool. Returns 0, or -1 with a message in err.
int msl_run(const MslDispatch *d, char *err, size_t errlen);

// ---- options (also from the environment: MSL_SCHEDULE, MSL_THREADS, MSL_STACK_KB) ----
typedef enum { MSL_SCHED_FORWARD, MSL_SCHED_REVERSE, MSL_SCHED_RANDOM } msl_schedule;
void msl_set_schedule(msl_schedule s, uint32_t seed);
long msl_race_count(void);  // races reported by checking-build kernels so far

#ifdef __cplusplus
}
#endif
#endif
