// lab: m5-quantization
// A minimal thread pool for the products: one job at a time, split into as many parts as threads.
//
// Starting threads for every product would cost tens of microseconds each time, about as long as
// a whole small matrix-vector product, so the workers are started once and then sleep on a
// condition variable between jobs. The calling thread does part 0 itself. A job is a function and
// an argument; `round` counts jobs, and a worker runs a job when it sees a round it has not run.
#include "quant.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_THREADS 16

static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake;       // a new round was posted
    pthread_cond_t finished;   // the last worker of a round is done
    int wanted;                // threads asked for, the caller included (0 = not decided yet)
    int started;               // worker threads running (they never exit)
    unsigned long round;
    int busy;                  // workers that have not finished the current round
    quant_task fn;
    void *arg;
    int n_parts;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
          0, 0, 0, 0, NULL, NULL, 0};

typedef struct {
    int part;
    unsigned long seen;   // the last round this worker ran (set before it starts)
} Worker;
static Worker workers[MAX_THREADS];

static void *worker_main(void *p) {
    Worker *me = p;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (pool.round == me->seen) pthread_cond_wait(&pool.wake, &pool.mu);
        me->seen = pool.round;
        quant_task fn = pool.fn;
        void *arg = pool.arg;
        int n_parts = pool.n_parts;
        pthread_mutex_unlock(&pool.mu);
        if (me->part < n_parts) fn(arg, me->part, n_parts);   // extra workers idle this round
        pthread_mutex_lock(&pool.mu);
        if (--pool.busy == 0) pthread_cond_signal(&pool.finished);
    }
    return NULL;
}

// After fork() only the forking thread exists in the child: forget the workers there (the test
// harness forks for every test). The mutex is held across the fork so its state is consistent.
static void before_fork(void) { pthread_mutex_lock(&pool.mu); }
static void after_fork_parent(void) { pthread_mutex_unlock(&pool.mu); }
static void after_fork_child(void) {
    pool.started = 0;
    pool.busy = 0;
    pthread_mutex_unlock(&pool.mu);
}

void quant_set_threads(int n) {
    if (n < 1) n = 1;
    if (n > MAX_THREADS) n = MAX_THREADS;
    pthread_mutex_lock(&pool.mu);
    pool.wanted = n;
    pthread_mutex_unlock(&pool.mu);
}

int quant_threads(void) {
    pthread_mutex_lock(&pool.mu);
    if (pool.wanted == 0) {
        const char *env = getenv("PS_THREADS");
        int n = env ? atoi(env) : 1;
        pool.wanted = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : n;
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
        w->seen = pool.round;
        pthread_t th;
        if (pthread_create(&th, NULL, worker_main, w) != 0) {
            fprintf(stderr, "quant: cannot start a thread; continuing with %d\n", pool.started + 1);
            pool.wanted = pool.started + 1;
            return;
        }
        pthread_detach(th);
        pool.started++;
    }
}

void quant_parallel(quant_task fn, void *arg) {
    int n = quant_threads();
    if (n == 1) {
        fn(arg, 0, 1);
        return;
    }
    pthread_mutex_lock(&pool.mu);
    start_workers(n);
    n = pool.wanted;
    pool.fn = fn;
    pool.arg = arg;
    pool.n_parts = n;
    pool.busy = pool.started;
    pool.round++;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);

    fn(arg, 0, n);

    pthread_mutex_lock(&pool.mu);
    while (pool.busy > 0) pthread_cond_wait(&pool.finished, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
}
