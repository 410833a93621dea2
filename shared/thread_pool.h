// One pool of worker threads for the whole engine: every matrix product (lab M2's f32 matmul, lab
// M5's quantized ones) and attention's heads at long contexts split their work over it.
//
// Threads, the caller included: $PS_THREADS, else the number of online CPUs (at most 16), or what
// pool_set_threads() said last. The workers start on first use and are reused by every job.
#ifndef PS_THREAD_POOL_H
#define PS_THREAD_POOL_H

void pool_set_threads(int n);   // n < 1 counts as 1; more than 16 as 16
int pool_threads(void);

// Runs fn(arg, part, n_parts) for part = 0 .. n_parts-1, each exactly once, and returns when all
// are done. Part 0 runs on the calling thread, part k on the pool's k-th worker, unless that worker
// has not started it by the time part 0 is done (asleep, or off its core): then the calling thread
// runs it too, so a round never waits for a late thread. n_parts is capped at pool_threads(); no
// thread is created after the first call. For work that splits into independent slices: each part
// must touch only its own outputs, and never wait for another part (two parts may run one after the
// other on one thread). Called from inside a part, it runs its parts on that thread, one after another.
typedef void (*PoolTask)(void *arg, int part, int n_parts);
void pool_run(PoolTask fn, void *arg, int n_parts);

// How many parts a job of `work` multiply-adds (or weights times tokens) is worth splitting into:
// one per 32768 of them (or $PS_POOL_WORK, read once), since below that waking one more thread
// costs more than it saves; at least 1, at most max_parts (e.g. the rows, when each part takes
// whole rows).
int pool_parts_for(double work, int max_parts);

// Rounds posted to the workers so far (a job run on the calling thread alone is none), modulo
// 2^32: benches count a decode step's rounds by the difference.
unsigned pool_rounds(void);

#endif
