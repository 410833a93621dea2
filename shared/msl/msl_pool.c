// The MSL emulator's worker pool: a dispatch's threadgroups spread over one worker thread per
// CPU, each running them with msl_rt.c's scheduler. Also the options read from the environment.
#include "msl_internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// ---- the pool ----

static struct {
    pthread_mutex_t run_lock;   // one dispatch at a time
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    int nworkers;               // worker 0 is the thread that calls msl_run
    Worker *w;
    const MslDispatch *job;
    uint64_t generation;
    int busy;                   // workers still running the current job
    char err[1024];
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
          PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, {0}};

MslPoolShared msl_pool;

void msl_check_report(const char *msg) {
    pthread_mutex_lock(&pool.mu);
    if (!atomic_load(&msl_pool.failed)) snprintf(pool.err, sizeof pool.err, "%s", msg);
    atomic_store(&msl_pool.failed, 1);
    pthread_mutex_unlock(&pool.mu);
}

static int schedule_chosen;  // by a program: it wins over $MSL_SCHEDULE, read at the first run

void msl_set_schedule(msl_schedule s, uint32_t seed) {
    msl_pool.schedule = s;
    msl_pool.seed = seed;
    msl_pool.schedule_fixed = 1;
    schedule_chosen = 1;
}

static void read_env(void) {
    const char *s = schedule_chosen ? NULL : getenv("MSL_SCHEDULE");  // forward|reverse|random[:seed]
    if (s) msl_pool.schedule_fixed = 1;
    if (s && !strncmp(s, "reverse", 7)) msl_pool.schedule = MSL_SCHED_REVERSE;
    if (s && !strncmp(s, "random", 6)) {
        msl_pool.schedule = MSL_SCHED_RANDOM;
        msl_pool.seed = s[6] == ':' ? (uint32_t)strtoul(s + 7, NULL, 10) : 1;
    }
    const char *kb = getenv("MSL_STACK_KB");
    msl_pool.stack_size = kb ? (size_t)atoi(kb) * 1024 : 0;
}

static void *worker_main(void *arg) {
    Worker *w = arg;
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&pool.mu);
        while (pool.generation == seen) pthread_cond_wait(&pool.start, &pool.mu);
        seen = pool.generation;
        const MslDispatch *d = pool.job;
        pthread_mutex_unlock(&pool.mu);
        msl_work(w, d);
        pthread_mutex_lock(&pool.mu);
        if (--pool.busy == 0) pthread_cond_signal(&pool.done);
        pthread_mutex_unlock(&pool.mu);
    }
    return NULL;
}

static void pool_init(void) {
    read_env();
    const char *env = getenv("MSL_THREADS");
    long n = sysconf(_SC_NPROCESSORS_ONLN);
#ifdef CPU_COUNT
    cpu_set_t set;  // the CPUs we may use (a container may allow fewer than the machine has)
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
#endif
    if (env) n = atol(env);
    pool.nworkers = n < 1 ? 1 : n > 64 ? 64 : (int)n;
    pool.w = calloc((size_t)pool.nworkers, sizeof *pool.w);
    if (!pool.w) abort();
    for (int i = 0; i < pool.nworkers; i++) {
        pool.w[i].arena = aligned_alloc(64, MSL_TG_MEM_BYTES);
        if (!pool.w[i].arena) abort();
        pthread_t th;
        if (i > 0 && pthread_create(&th, NULL, worker_main, &pool.w[i]) == 0) pthread_detach(th);
    }
}

int msl_run(const MslDispatch *d, char *err, size_t errlen) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, pool_init);
    uint32_t n = d->tg_size[0] * d->tg_size[1] * d->tg_size[2];
    size_t tg_bytes = 0;
    int odd_length = 0;  // Metal: setThreadgroupMemoryLength takes a multiple of 16 bytes
    for (int i = 0; i < MSL_MAX_BUFFERS; i++) {
        tg_bytes += (d->tg_mem[i] + 15) & ~(size_t)15;
        odd_length |= d->tg_mem[i] % 16 != 0;
    }
    const char *bad = !d->kernel ? "no pipeline set"
                      : n == 0 || n > MSL_MAX_TG_THREADS ? "threads per threadgroup must be 1..1024"
                      : tg_bytes > MSL_TG_MEM_BYTES ? "threadgroup memory lengths exceed 32 KB"
                      : odd_length ? "a threadgroup memory length is not a multiple of 16 bytes "
                                     "(Metal's setThreadgroupMemoryLength requires it)"
                                   : NULL;
    if (bad) {
        snprintf(err, errlen, "dispatch of '%s': %s", d->kernel ? d->kernel->name : "?", bad);
        return -1;
    }
    uint32_t total = d->groups[0] * d->groups[1] * d->groups[2];
    if (total == 0) return 0;
    pthread_mutex_lock(&pool.run_lock);
    pthread_mutex_lock(&pool.mu);
    pool.job = d;
    msl_pool.total = total;
    if (d->kernel->checked) msl_dev_begin(d);  // no worker runs now
    atomic_store(&msl_pool.next, 0);
    atomic_store(&msl_pool.failed, 0);
    pool.err[0] = 0;
    pool.busy = pool.nworkers - 1;
    pool.generation++;
    pthread_cond_broadcast(&pool.start);
    pthread_mutex_unlock(&pool.mu);
    msl_work(&pool.w[0], d);
    pthread_mutex_lock(&pool.mu);
    while (pool.busy > 0) pthread_cond_wait(&pool.done, &pool.mu);
    int failed = atomic_load(&msl_pool.failed);
    if (failed) snprintf(err, errlen, "%s", pool.err);
    pthread_mutex_unlock(&pool.mu);
    pthread_mutex_unlock(&pool.run_lock);
    return failed ? -1 : 0;
}
