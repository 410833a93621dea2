// The thread pool every matrix product of the engine shares (thread_pool.h): one job at a time,
// split into parts, part 0 on the calling thread.
//
// Starting threads for every product would cost tens of microseconds each time, about as long as
// a whole matrix-vector product of a small model, and a decode step makes ~130 products. So the
// workers are started once. Between jobs they first spin for a little while (the next product of
// a decode step comes within microseconds, and waking a sleeping thread costs several), then poll
// for 2 ms more (spin_us says why), then sleep on a condition variable, so an idle engine uses no CPU.
//
// Part k (k >= 1) is worker k-1's, unless the caller takes it first. A round never waits for a
// worker that has not started it: once the caller is done with part 0, it runs itself every part
// whose worker has not claimed it yet (asleep, waking up, or off its core because the OS gave the
// core to another program). Otherwise one thread that the OS keeps off its core (another program
// wants the core: on a 16-core machine, one busy core is enough) holds up every round for the
// rest of its time slice, milliseconds, where a round of a decode step takes tens of
// microseconds. A worker that claimed its part is waited for (what it computes is needed); the
// products deal their rows out in small runs (matmul.c), so a late worker holds up one run at most.
// Measured on the GPU machine's 16-core VM with one core kept busy, 16 threads, three rounds in
// turn: Q4_0 decode 47.8/55.0/62.0 -> 164/174/218 tok/s, f32 29.9/31.6/33.2 -> 45.7/46.5/48.0;
// with every core free, no change (Q4_0 223 -> 223). book/m2-forward.md#late-threads.
//
// A round (one job) is what a 16-thread decode step does ~130 times, so its fast path touches no
// lock and no counter shared by all threads:
//   - the caller writes the job next to `posted` (one cache line the spinning workers read) and
//     bumps `posted`, which holds the round's number and its part count; it takes the mutex to
//     broadcast only when some worker went to sleep;
//   - a worker claims its part with a compare-and-swap of its own `claim` (a cache line per worker:
//     no two threads write the same line but the caller and that worker), from the last round
//     claimed to this one; the caller takes a part the same way, so one of the two wins. Only the
//     winner reads the job, and the caller does not write the next job before every claimed part
//     is done, so a worker never reads a job half written;
//   - done, the worker stores the round in its own `done`; the caller reads them in turn, and a
//     worker signals only when the caller went to sleep.
// A worker without a part this round (the job has fewer parts than there are workers) claims
// nothing and reads nothing but `posted`.
//
// Going to sleep without missing a wake-up: a worker announces itself in `sleepers` and then
// reads `posted`; the caller bumps `posted` and then reads `sleepers`. All four accesses are
// sequentially consistent, so at least one side sees the other's write: either the worker sees the
// new round, or the caller sees the sleeper and broadcasts under the mutex, which the worker holds
// from its announcement until it waits. The caller's sleep (`caller_waiting`, each worker's
// `done`) works the same way. Each side's write is a read-modify-write (fetch_add, exchange), not
// a plain store: C11 promises the same for a seq_cst store, and arm64 keeps a store-release
// (stlr) before a later load-acquire (ldar), but qemu's arm64 emulation on an x86 host does not
// (no barrier between the two), and a worker and the caller each missed the other's write there:
// the caller slept with no worker left to wake it. An RMW is a full barrier on every host.

#include "thread_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 16
// Spins before polling (spin_us) and sleeping: about 100-300 microseconds, depending on the CPU's
// pause instruction. A stress build sets it to 1 (-DPOOL_SPINS=1 -DPOOL_SPIN_US=0) so that every
// round takes the sleep paths.
#ifndef POOL_SPINS
#define POOL_SPINS 4096
#endif
#define SPINS POOL_SPINS
#define CACHE_LINE 64

// `posted` is round << PARTS_BITS | n_parts: a worker learns both in one read. 64 bits: the round
// number never wraps, so "claimed for round r" can never mean an older round.
#define PARTS_BITS 5   // n_parts <= MAX_THREADS = 16
#define ROUND_OF(posted) ((posted) >> PARTS_BITS)
#define PARTS_OF(posted) ((int)((posted) & ((1u << PARTS_BITS) - 1)))

// Written by the caller before it bumps `posted`; read by the thread that claims a part.
static struct {
    _Alignas(CACHE_LINE) _Atomic uint64_t posted;   // the round (counts jobs) and its n_parts
    PoolTask fn;
    void *arg;
} job;

typedef struct {
    _Alignas(CACHE_LINE) _Atomic uint64_t claim;   // the last round whose part this slot was claimed for
    _Atomic uint64_t done;   // the last round this worker finished its part of
    int part;
    uint64_t seen;   // the last `posted` this worker acted on (only the worker reads it)
} Worker;
static Worker workers[MAX_THREADS - 1];

// Set while this thread runs a part: a pool_run() from inside one (a job whose parts call a
// function that splits its own work) runs its parts here, one after another, since the pool's
// threads are busy with the outer job and waiting for them would never end.
static _Thread_local bool in_part;

static struct {
    _Alignas(CACHE_LINE) pthread_mutex_t mu;   // guards starting workers and every sleep
    pthread_cond_t wake;       // a new round was posted (to sleeping workers)
    pthread_cond_t finished;   // a worker finished a round (to a sleeping caller)
    atomic_int wanted;         // threads asked for, the caller included (0 = not decided yet)
    atomic_int started;        // worker threads running (they never exit)
    atomic_int sleepers;       // workers asleep or going to sleep, waiting for a round
    atomic_bool caller_waiting;   // the caller sleeps until the workers are done
    bool fork_handlers;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, false, false};

// Tells the CPU we are spinning (saves power, and frees the core for its other hyperthread).
static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

// How long a waiting thread goes on polling after its SPINS pauses, before it sleeps: POOL_SPIN_US
// microseconds, polling with sched_yield (any other runnable thread gets the CPU meanwhile);
// $PS_POOL_SPIN_US (read once) sets another, 0 for none. A stress build sets -DPOOL_SPIN_US=0 with
// -DPOOL_SPINS=1, so that every wait takes the sleep paths.
// Why 2 ms, not the pauses alone (~0.2 ms): on a VM, a thread that sleeps lets its virtual CPU
// halt, the host gives the physical core to someone else, and getting it back takes the host's
// time. A round then waits for that thread, the others wait long enough to sleep too, and the
// engine falls into a slow mode: at 16 threads on the GPU machine's 16-core VM, decode ran at f32
// 10.5 and Q8_0 16.0 tok/s, steadily over 3 runs, minutes after Q8_0 had run at 103-107, while
// llama.cpp (whose threads never sleep within a graph) kept its speed. Measured there afterwards,
// the default (then 0) and 2000 taken in turn, 3 runs each of 32 tokens, tok/s: Q8_0 decode at 16
// threads 101/100/112 -> 120/116/129, at 8 threads 102/65/100 -> 107/94/111; bf16 at 8 threads
// 42/51 -> 56/57; a 128-token prompt at 16 threads, f32 546/554 -> 822/597 and bf16 564/577 ->
// 615/880 (with matmul.c's runs dealt dynamically, 720/924 and 950/884). On our 2-vCPU VM it took
// a run's futex calls from 2374 to 32 at the same speed. An idle engine still sleeps: 2 ms after
// its last job.
#ifndef POOL_SPIN_US
#define POOL_SPIN_US 2000
#endif
static long spin_us(void) {
    static atomic_long us = -1;   // -1: not read yet
    long v = atomic_load_explicit(&us, memory_order_relaxed);
    if (v < 0) {
        const char *env = getenv("PS_POOL_SPIN_US");
        v = env && *env ? atol(env) : POOL_SPIN_US;
        if (v < 0 || v > 1000000) v = POOL_SPIN_US;
        atomic_store_explicit(&us, v, memory_order_relaxed);
    }
    return v;
}

static double seconds_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// Polls until done(arg) or spin_us() have passed, yielding the CPU between polls; true if done.
static bool poll_a_while(bool (*done)(const void *), const void *arg) {
    const long us = spin_us();
    if (us == 0) return false;
    const double until = seconds_now() + 1e-6 * (double)us;
    while (!done(arg)) {
        if (seconds_now() > until) return false;
        sched_yield();
    }
    return true;
}

static bool round_posted(const void *w) {
    const Worker *me = w;
    return atomic_load_explicit(&job.posted, memory_order_acquire) != me->seen;
}

// The next `posted` after me->seen: spins on it, then sleeps until the caller posts a round.
static uint64_t wait_for_round(Worker *me) {
    uint64_t p = atomic_load_explicit(&job.posted, memory_order_acquire);
    for (int i = 0; p == me->seen && i < SPINS; i++) {
        cpu_relax();
        p = atomic_load_explicit(&job.posted, memory_order_acquire);
    }
    if (p == me->seen && poll_a_while(round_posted, me)) p = atomic_load_explicit(&job.posted, memory_order_acquire);
    if (p != me->seen) return p;
    pthread_mutex_lock(&pool.mu);
    atomic_fetch_add(&pool.sleepers, 1);   // then read posted: see the file's comment
    while ((p = atomic_load(&job.posted)) == me->seen) pthread_cond_wait(&pool.wake, &pool.mu);
    atomic_fetch_sub(&pool.sleepers, 1);
    pthread_mutex_unlock(&pool.mu);
    return p;
}

// Claims slot w's part for round r: true if this thread won it (the worker and the caller race).
// Claims only move forward: a worker that saw round r, and was held up while the caller took the
// part and posted later rounds, must not claim r over a later round's claim (and then read that
// round's job as if it were r's).
static bool claim_part(Worker *w, uint64_t r) {
    uint64_t last = atomic_load_explicit(&w->claim, memory_order_relaxed);
    while (last < r)
        if (atomic_compare_exchange_weak(&w->claim, &last, r)) return true;
    return false;
}

static void *worker_main(void *p) {
    Worker *me = p;
    for (;;) {
        me->seen = wait_for_round(me);
        const uint64_t r = ROUND_OF(me->seen);
        const int n_parts = PARTS_OF(me->seen);
        // No part this round, or the caller took it (or a later round is posted already: then the
        // caller has claimed this round's part for itself, and the CAS fails).
        if (me->part >= n_parts || !claim_part(me, r)) continue;
        // Written before the round was posted, and not rewritten before this part is done.
        PoolTask fn = job.fn;
        void *arg = job.arg;
        in_part = true;
        fn(arg, me->part, n_parts);
        in_part = false;
        atomic_exchange(&me->done, r);                 // then read caller_waiting
        if (atomic_load(&pool.caller_waiting)) {
            pthread_mutex_lock(&pool.mu);
            pthread_cond_signal(&pool.finished);
            pthread_mutex_unlock(&pool.mu);
        }
    }
    return NULL;
}

// After fork() only the forking thread exists in the child: forget the workers there (the test
// harness forks for every test). The mutex is held across the fork so its state is consistent;
// the condition variables may count waiters that do not exist in the child, so they start afresh.
static void before_fork(void) { pthread_mutex_lock(&pool.mu); }
static void after_fork_parent(void) { pthread_mutex_unlock(&pool.mu); }
static void after_fork_child(void) {
    atomic_store(&pool.started, 0);
    atomic_store(&pool.sleepers, 0);
    atomic_store(&pool.caller_waiting, false);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.finished, NULL);
    pthread_mutex_unlock(&pool.mu);
}

void pool_set_threads(int n) {
    if (n < 1) n = 1;
    if (n > MAX_THREADS) n = MAX_THREADS;
    atomic_store(&pool.wanted, n);
}

int pool_threads(void) {
    int n = atomic_load_explicit(&pool.wanted, memory_order_relaxed);
    if (n > 0) return n;
    const char *env = getenv("PS_THREADS");
    long want = env ? atol(env) : sysconf(_SC_NPROCESSORS_ONLN);
    n = want < 1 ? 1 : want > MAX_THREADS ? MAX_THREADS : (int)want;
    int unset = 0;   // pool_set_threads() may have been called meanwhile: it wins
    return atomic_compare_exchange_strong(&pool.wanted, &unset, n) ? n : unset;
}

// Called with the mutex held: starts workers until there are n - 1 of them.
static void start_workers(int n) {
    if (!pool.fork_handlers) {
        pthread_atfork(before_fork, after_fork_parent, after_fork_child);
        pool.fork_handlers = true;
    }
    int started = atomic_load(&pool.started);
    while (started < n - 1) {
        Worker *w = &workers[started];
        w->part = started + 1;
        w->seen = atomic_load(&job.posted);
        atomic_store(&w->claim, ROUND_OF(w->seen));
        atomic_store(&w->done, ROUND_OF(w->seen));
        pthread_t th;
        if (pthread_create(&th, NULL, worker_main, w) != 0) {
            fprintf(stderr, "thread pool: cannot start a thread; continuing with %d\n", started + 1);
            atomic_store(&pool.wanted, started + 1);
            break;
        }
        pthread_detach(th);
        atomic_store(&pool.started, ++started);
    }
}

// The work a part must have: 32768 multiply-adds, measured when a round cost ~6 microseconds
// (below it the wake-up cost more than the part saved); $PS_POOL_WORK, read once, sets another, to
// measure where splitting stops paying on a given machine (tools/bench_decode).
static double min_work_per_part(void) {
    static atomic_int work;   // 0: not read yet
    int w = atomic_load_explicit(&work, memory_order_relaxed);
    if (w == 0) {
        const char *env = getenv("PS_POOL_WORK");
        const long v = env ? atol(env) : 0;
        w = v >= 1 && v <= 1L << 30 ? (int)v : 1 << 15;
        atomic_store_explicit(&work, w, memory_order_relaxed);
    }
    return w;
}

int pool_parts_for(double work, int max_parts) {
    const double parts = work / min_work_per_part();
    if (parts < 1) return 1;
    return parts < max_parts ? (int)parts : max_parts;
}

unsigned pool_rounds(void) { return (unsigned)ROUND_OF(atomic_load_explicit(&job.posted, memory_order_relaxed)); }

typedef struct {
    uint64_t r;
    int n_workers;
} RoundDone;

static bool round_done(const void *arg) {
    const RoundDone *d = arg;
    for (int w = 0; w < d->n_workers; w++)
        if (atomic_load_explicit(&workers[w].done, memory_order_acquire) != d->r) return false;
    return true;
}

// Returns once workers 0 .. n_workers-1 have all finished round r: spins, then sleeps.
static void wait_for_workers(uint64_t r, int n_workers) {
    int w = 0;   // workers before w are done
    for (int i = 0; i < SPINS; i++) {
        while (w < n_workers && atomic_load_explicit(&workers[w].done, memory_order_acquire) == r) w++;
        if (w == n_workers) return;
        cpu_relax();
    }
    const RoundDone all = {r, n_workers};
    if (poll_a_while(round_done, &all)) return;
    pthread_mutex_lock(&pool.mu);
    atomic_exchange(&pool.caller_waiting, true);   // then read done: see the file's comment
    while (w < n_workers) {
        if (atomic_load(&workers[w].done) == r) w++;
        else pthread_cond_wait(&pool.finished, &pool.mu);
    }
    atomic_store(&pool.caller_waiting, false);
    pthread_mutex_unlock(&pool.mu);
}

void pool_run(PoolTask fn, void *arg, int n_parts) {
    int n = pool_threads();
    if (n_parts > n) n_parts = n;
    if (in_part) {
        for (int part = 0; part < n_parts; part++) fn(arg, part, n_parts);
        return;
    }
    int started = atomic_load_explicit(&pool.started, memory_order_acquire);
    if (n_parts > 1 && started < n - 1) {
        pthread_mutex_lock(&pool.mu);
        start_workers(n);
        started = atomic_load(&pool.started);
        pthread_mutex_unlock(&pool.mu);
    }
    if (n_parts > started + 1) n_parts = started + 1;
    if (n_parts <= 1) {
        fn(arg, 0, 1);
        return;
    }
    job.fn = fn;
    job.arg = arg;
    const uint64_t r = ROUND_OF(atomic_load_explicit(&job.posted, memory_order_relaxed)) + 1;
    atomic_exchange(&job.posted, r << PARTS_BITS | (uint64_t)n_parts);   // then read sleepers: see the file's comment
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.mu);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.mu);
    }

    in_part = true;
    fn(arg, 0, n_parts);
    // The parts no worker has claimed yet: this thread's now, each marked done in its worker's slot
    // so that the wait below passes over it. The parts the workers claimed are waited for.
    for (int w = 0; w < n_parts - 1; w++)
        if (claim_part(&workers[w], r)) {
            fn(arg, w + 1, n_parts);
            atomic_store_explicit(&workers[w].done, r, memory_order_relaxed);
        }
    in_part = false;
    wait_for_workers(r, n_parts - 1);
}
