// The thread pool every matrix product of the engine shares (thread_pool.h): one job at a time,
// split into parts, part 0 on the calling thread.
//
// Starting threads for every product would cost tens of microseconds each time, about as long as
// a whole matrix-vector product of a small model, and a decode step makes ~200 products. So the
// workers are started once. Between jobs they first spin on an atomic counter for a little while
// (the next product of a decode step comes within microseconds, and waking a sleeping thread
// costs several), then sleep on a condition variable, so an idle engine uses no CPU.
//
// `round` counts jobs; a worker runs a job when it sees a round it has not run. Every worker
// acknowledges every round (`pending`), even when the job has fewer parts than there are
// workers, so a new round is only posted once all of them are done reading the last one.
#include "thread_pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_THREADS 16
// Spins before sleeping: about 100-300 microseconds, depending on the CPU's pause instruction.
#define SPINS 4096

static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake;       // a new round was posted
    pthread_cond_t finished;   // the last worker of a round is done
    int wanted;                // threads asked for, the caller included (0 = not decided yet)
    int started;               // worker threads running (they never exit)
    atomic_uint round;         // bumped (with fn, arg, n_parts set before) to post a job
    atomic_int pending;        // workers that have not finished the current round
    PoolTask fn;
    void *arg;
    int n_parts;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0,
          NULL, NULL, 0};

typedef struct {
    int part;
    unsigned seen;   // the last round this worker ran (set before it starts)
} Worker;
static Worker workers[MAX_THREADS];

// Tells the CPU we are spinning (saves power, and frees the core for its other hyperthread).
static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void *worker_main(void *p) {
    Worker *me = p;
    for (;;) {
        unsigned r = atomic_load(&pool.round);
        for (int i = 0; r == me->seen && i < SPINS; i++, r = atomic_load(&pool.round)) cpu_relax();
        if (r == me->seen) {   // nothing came: sleep until the next round
            pthread_mutex_lock(&pool.mu);
            while ((r = atomic_load(&pool.round)) == me->seen) pthread_cond_wait(&pool.wake, &pool.mu);
            pthread_mutex_unlock(&pool.mu);
        }
        me->seen = r;
        // Written before the round was bumped, and not rewritten before we acknowledge it.
        PoolTask fn = pool.fn;
        void *arg = pool.arg;
        int n_parts = pool.n_parts;
        if (me->part < n_parts) fn(arg, me->part, n_parts);   // extra workers idle this round
        if (atomic_fetch_sub(&pool.pending, 1) == 1) {       // the last one wakes the caller
            pthread_mutex_lock(&pool.mu);
            pthread_cond_signal(&pool.finished);
            pthread_mutex_unlock(&pool.mu);
        }
    }
    return NULL;
}

// After fork() only the forking thread exists in the child: forget the workers there (the test
// harness forks for every test). The mutex is held across the fork so its state is consistent.
static void before_fork(void) { pthread_mutex_lock(&pool.mu); }
static void after_fork_parent(void) { pthread_mutex_unlock(&pool.mu); }
static void after_fork_child(void) {
    pool.started = 0;
    atomic_store(&pool.pending, 0);
    pthread_mutex_unlock(&pool.mu);
}

void pool_set_threads(int n) {
    if (n < 1) n = 1;
    if (n > MAX_THREADS) n = MAX_THREADS;
    pthread_mutex_lock(&pool.mu);
    pool.wanted = n;
    pthread_mutex_unlock(&pool.mu);
}

int pool_threads(void) {
    pthread_mutex_lock(&pool.mu);
    if (pool.wanted == 0) {
        const char *env = getenv("PS_THREADS");
        long n = env ? atol(env) : sysconf(_SC_NPROCESSORS_ONLN);
        pool.wanted = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
    }
    int n = pool.wanted;
    pthread_mutex_unlock(&pool.mu);
    return n;
}

// Called with the mutex held: starts workers until there are n - 1 of them.
static void start_workers(int n) {
    static bool fork_handlers;
    if (!fork_handlers) {
        pthread_atfork(before_fork, after_fork_parent, after_fork_child);
        fork_handlers = true;
    }
    while (pool.started < n - 1) {
        Worker *w = &workers[pool.started];
        w->part = pool.started + 1;
        w->seen = atomic_load(&pool.round);
        pthread_t th;
        if (pthread_create(&th, NULL, worker_main, w) != 0) {
            fprintf(stderr, "thread pool: cannot start a thread; continuing with %d\n", pool.started + 1);
            pool.wanted = pool.started + 1;
            return;
        }
        pthread_detach(th);
        pool.started++;
    }
}

int pool_parts_for(double work, int max_parts) {
    const double min_work_per_part = 1 << 15;   // measured: below it the wake-up costs more
    const double parts = work / min_work_per_part;
    if (parts < 1) return 1;
    return parts < max_parts ? (int)parts : max_parts;
}

void pool_run(PoolTask fn, void *arg, int n_parts) {
    int n = pool_threads();
    if (n_parts > n) n_parts = n;
    if (n_parts <= 1) {
        fn(arg, 0, 1);
        return;
    }
    pthread_mutex_lock(&pool.mu);
    start_workers(n);
    if (n_parts > pool.started + 1) n_parts = pool.started + 1;
    pool.fn = fn;
    pool.arg = arg;
    pool.n_parts = n_parts;
    atomic_store(&pool.pending, pool.started);
    atomic_fetch_add(&pool.round, 1);   // publishes fn, arg and n_parts to the spinning workers
    pthread_cond_broadcast(&pool.wake);  // and to the sleeping ones
    pthread_mutex_unlock(&pool.mu);

    fn(arg, 0, n_parts);

    for (int i = 0; atomic_load(&pool.pending) > 0 && i < SPINS; i++) cpu_relax();
    if (atomic_load(&pool.pending) > 0) {
        pthread_mutex_lock(&pool.mu);
        while (atomic_load(&pool.pending) > 0) pthread_cond_wait(&pool.finished, &pool.mu);
        pthread_mutex_unlock(&pool.mu);
    }
}

