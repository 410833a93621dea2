// The shared thread pool (shared/thread_pool.h) under stress: every part of every round runs
// exactly once and before pool_run() returns, with the workers spinning, asleep, or the caller
// asleep waiting for a slow part; across thread-count changes and in a forked child (the test
// harness forks for every test, and the child has none of the parent's workers), with a part
// that calls pool_run() itself, and with the caller taking the parts of workers that are late.
// sched_setaffinity: _GNU_SOURCE comes from the Makefile
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "thread_pool.h"

#define MAX_PARTS 16

typedef struct {
    atomic_int runs[MAX_PARTS];   // how often each part ran this round
    atomic_int told_parts;        // the n_parts the parts were given (all the same, else -1)
    int slow_part;                // this part sleeps first (-1: none), so the caller outlasts its spin
    int sleep_us;
} Round;

static void count_part(void *arg, int part, int n_parts) {
    Round *r = arg;
    if (part == r->slow_part) usleep((useconds_t)r->sleep_us);
    atomic_fetch_add(&r->runs[part], 1);
    int expected = 0;
    if (!atomic_compare_exchange_strong(&r->told_parts, &expected, n_parts) && expected != n_parts)
        atomic_store(&r->told_parts, -1);
}

// One round of `asked` parts at `threads` threads: each part once, all of them before the return.
static void check_round(int threads, int asked, int slow_part, int sleep_us) {
    Round r = {.slow_part = slow_part, .sleep_us = sleep_us};
    pool_run(count_part, &r, asked);
    int want = asked < threads ? asked : threads;
    if (want < 1) want = 1;
    PS_CHECK(atomic_load(&r.told_parts) == want, "%d parts asked at %d threads: parts were told n_parts = %d, want %d",
             asked, threads, atomic_load(&r.told_parts), want);
    for (int p = 0; p < MAX_PARTS; p++)
        PS_CHECK(atomic_load(&r.runs[p]) == (p < want), "%d parts at %d threads: part %d ran %d times", asked, threads,
                 p, atomic_load(&r.runs[p]));
}

// Many quick rounds, the part count changing every round (workers without a part still take part).
static void t_every_part_once(void) {
    const int threads[] = {2, 3, 4, 8, 16, 5};
    for (size_t i = 0; i < PS_COUNT(threads); i++) {
        pool_set_threads(threads[i]);
        PS_CHECK(pool_threads() == threads[i], "pool_threads() = %d after pool_set_threads(%d)", pool_threads(), threads[i]);
        // This machine may have fewer cores than threads: fewer rounds where they take turns.
        const int rounds = threads[i] <= 4 ? 3000 : 300;
        for (int k = 0; k < rounds; k++) check_round(threads[i], k % (threads[i] + 2), -1, 0);
    }
}

// Rounds far enough apart that the workers stop spinning and sleep: each must still be woken.
// (Without the default 2 ms of polling first, PS_POOL_SPIN_US=0: read once per process, and the
// harness forks each test, so the setting is this test's own; t_polling covers the polling.)
static void t_sleeping_workers(void) {
    setenv("PS_POOL_SPIN_US", "0", 1);
    pool_set_threads(4);
    for (int k = 0; k < 40; k++) {
        usleep(3000);   // longer than a worker spins (~100-300 us)
        check_round(4, 4, -1, 0);
        check_round(4, 2, -1, 0);   // and straight after, while they spin
    }
}

// One part slower than the caller's spin: the caller sleeps, and the slow worker must wake it.
static void t_sleeping_caller(void) {
    setenv("PS_POOL_SPIN_US", "0", 1);   // no polling first (t_sleeping_workers says why)
    pool_set_threads(4);
    for (int k = 0; k < 30; k++) {
        check_round(4, 4, 1 + k % 3, 2000);
        check_round(4, 3, -1, 0);
    }
    for (int k = 0; k < 10; k++) check_round(4, 4, 0, 2000);   // the caller's own part is the slow one
}

// With PS_POOL_SPIN_US, waiting threads poll (yielding) for that long before they sleep: gaps
// shorter than the window (workers and caller found while polling) and longer (then asleep).
// Read once per process: the harness forks each test, so this one's setting is its own.
static void t_polling(void) {
    setenv("PS_POOL_SPIN_US", "1000", 1);
    pool_set_threads(4);
    for (int k = 0; k < 20; k++) {
        usleep(400);    // past the pauses, within the polling
        check_round(4, 4, -1, 0);
        check_round(4, 4, 1 + k % 3, 600);   // a slow worker: the caller polls for it
        usleep(3000);   // past the polling: asleep
        check_round(4, 3, -1, 0);
    }
}

// A child forked after the workers started has none of them: its pool starts its own, and the
// parent's keep working.
static void t_fork(void) {
    pool_set_threads(4);
    for (int k = 0; k < 100; k++) check_round(4, 4, -1, 0);
    for (int child = 0; child < 3; child++) {
        pid_t pid = fork();
        PS_CHECK(pid >= 0, "fork failed");
        if (pid == 0) {   // PS_CHECK in the child would report twice: exit codes instead
            for (int k = 0; k < 200; k++) {
                Round r = {.slow_part = k % 50 == 0 ? 2 : -1, .sleep_us = 2000};
                pool_run(count_part, &r, 4);
                for (int p = 0; p < 4; p++)
                    if (atomic_load(&r.runs[p]) != 1) _exit(10 + p);
            }
            _exit(0);
        }
        int status = 0;
        PS_CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
        PS_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                 "the forked child's pool went wrong (exit status %d, raw status %d; 10 + p: part p did not run "
                 "exactly once)", WIFEXITED(status) ? WEXITSTATUS(status) : -1, status);
        for (int k = 0; k < 100; k++) check_round(4, 4, -1, 0);
    }
}

// Growing and shrinking the thread count between rounds: no part lost, none run twice.
static void t_resize(void) {
    const int threads[] = {1, 2, 6, 3, 1, 7, 2};
    for (int rep = 0; rep < 20; rep++)
        for (size_t i = 0; i < PS_COUNT(threads); i++) {
            pool_set_threads(threads[i]);
            check_round(threads[i], 16, -1, 0);
            check_round(threads[i], threads[i], rep % 5 == 0 ? 0 : -1, 500);
        }
    pool_set_threads(0);
    PS_CHECK(pool_threads() == 1, "pool_set_threads(0) gives %d threads, want 1", pool_threads());
    pool_set_threads(99);
    PS_CHECK(pool_threads() == 16, "pool_set_threads(99) gives %d threads, want 16", pool_threads());
}

typedef struct {
    Round inner[MAX_PARTS];   // the job each outer part splits again
} Nested;

static void outer_part(void *arg, int part, int n_parts) {
    (void)n_parts;
    Nested *n = arg;
    n->inner[part].slow_part = -1;
    pool_run(count_part, &n->inner[part], 4);
}

// A part that splits its own work again (pool_run inside a part) gets its parts run, not a hang.
static void t_nested(void) {
    pool_set_threads(4);
    for (int k = 0; k < 200; k++) {
        Nested n = {0};
        pool_run(outer_part, &n, 4);
        for (int o = 0; o < 4; o++)
            for (int p = 0; p < 4; p++)
                PS_CHECK(atomic_load(&n.inner[o].runs[p]) == 1, "outer part %d: its inner part %d ran %d times", o, p,
                         atomic_load(&n.inner[o].runs[p]));
        check_round(4, 4, -1, 0);   // and the pool still works afterwards
    }
}

static void t_parts_for(void) {
    PS_CHECK(pool_parts_for(0, 8) == 1, "no work: one part");
    PS_CHECK(pool_parts_for(1000, 8) == 1, "little work: one part");
    PS_CHECK(pool_parts_for(4.0 * 32768, 8) == 4, "4 x 32768 multiply-adds: %d parts", pool_parts_for(4.0 * 32768, 8));
    PS_CHECK(pool_parts_for(1e9, 8) == 8, "much work: at most max_parts, got %d", pool_parts_for(1e9, 8));
}

typedef struct {
    pthread_t caller;
    atomic_int runs[MAX_PARTS];
    atomic_int on_caller;   // parts after part 0 that the caller ran itself
} Claims;

static void note_thread(void *arg, int part, int n_parts) {
    (void)n_parts;
    Claims *c = arg;
    atomic_fetch_add(&c->runs[part], 1);
    if (part > 0 && pthread_equal(pthread_self(), c->caller)) atomic_fetch_add(&c->on_caller, 1);
}

// A round does not wait for a worker that has not started it: the caller runs the parts nobody
// claimed. All the threads on one core, the workers asleep between rounds (PS_POOL_SPIN_US=0):
// the caller goes on with the core while the workers are being woken, so it takes parts (at
// least one in 100 rounds; often all of them); every part runs once whoever runs it.
static void t_caller_takes_late_parts(void) {
    setenv("PS_POOL_SPIN_US", "0", 1);   // read once per process: this test's own (t_sleeping_workers)
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    PS_CHECK(sched_setaffinity(0, sizeof one, &one) == 0, "cannot pin the test to CPU 0");
    pool_set_threads(4);
    int taken = 0;
    for (int k = 0; k < 100; k++) {
        if (k % 10 == 0) usleep(3000);   // past the spin: the workers sleep
        Claims c = {.caller = pthread_self()};
        pool_run(note_thread, &c, 4);
        for (int p = 0; p < 4; p++)
            PS_CHECK(atomic_load(&c.runs[p]) == 1, "round %d: part %d ran %d times", k, p, atomic_load(&c.runs[p]));
        taken += atomic_load(&c.on_caller);
    }
    PS_CHECK(taken > 0, "in 100 rounds on one core the caller never took a late worker's part");
}

static const PsTest TESTS[] = {
    {"pool.every-part-once", t_every_part_once, "DEVELOPERS.md#conventions", 60},
    {"pool.sleeping-workers", t_sleeping_workers, "DEVELOPERS.md#conventions", 30},
    {"pool.sleeping-caller", t_sleeping_caller, "DEVELOPERS.md#conventions", 30},
    {"pool.polling", t_polling, "DEVELOPERS.md#conventions", 30},
    {"pool.caller-takes-late-parts", t_caller_takes_late_parts, "DEVELOPERS.md#conventions", 30},
    {"pool.fork", t_fork, "DEVELOPERS.md#conventions", 30},
    {"pool.resize", t_resize, "DEVELOPERS.md#conventions", 30},
    {"pool.nested", t_nested, "DEVELOPERS.md#conventions", 30},
    {"pool.parts-for", t_parts_for, "DEVELOPERS.md#conventions", 0},
};

int main(int argc, char **argv) { return ps_main("tools", TESTS, PS_COUNT(TESTS), argc, argv); }
