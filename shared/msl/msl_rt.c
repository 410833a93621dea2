// The MSL emulator's runtime: inside one threadgroup, a small cooperative scheduler that gives
// Metal's barrier and SIMD-group semantics to threads that are fibers; msl_pool.c spreads a
// dispatch's threadgroups over worker threads. book/appendix-emulator.md explains the design.
#include "msl_internal.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__thread MslThread *msl_self;

__attribute__((format(printf, 2, 3))) static void fail(Worker *w, const char *fmt, ...) {
    char msg[768], full[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "kernel '%s', threadgroup (%u,%u,%u): %s", w->d->kernel->name,
             w->check.group[0], w->check.group[1], w->check.group[2], msg);
    msl_check_report(full);
}

// ---- threads inside one threadgroup ----

// Thread records and fibers are kept from one dispatch to the next, so a dispatch allocates
// nothing. A plain kernel needs no fiber, a SIMD-only one a fiber per lane: its SIMD-groups run
// one after the other, and 32 stacks reused all the time stay in the cache.
static void grow(Worker *w, uint32_t nthreads, uint32_t nfibers) {
    if (nthreads > w->nthreads) {
        w->threads = realloc(w->threads, sizeof *w->threads * nthreads);
        w->order = realloc(w->order, sizeof *w->order * nthreads);
        if (!w->threads || !w->order) abort();
        w->nthreads = nthreads;
    }
    if (nfibers > w->nfibers) {
        w->fibers = realloc(w->fibers, sizeof *w->fibers * nfibers);
        w->parked = realloc(w->parked, nfibers);
        if (!w->fibers || !w->parked) abort();
        memset(w->parked, 0, nfibers);  // parked stacks point into the old array: start afresh
        for (uint32_t i = w->nfibers; i < nfibers; i++)
            if (msl_fiber_init(&w->fibers[i], msl_pool.stack_size)) {
                fprintf(stderr, "msl: cannot allocate a fiber stack\n");
                abort();
            }
        w->nfibers = nfibers;
    }
}

static MslFiber *fiber_of(Worker *w, const MslThread *t) {
    return &w->fibers[w->mode == MSL_SIMD ? t->lane : t->index_tg];
}

// The next thread of the current pass that can run, or NULL when the pass is over.
static MslThread *next_runnable(Worker *w) {
    while (w->cursor < w->pass_len) {
        MslThread *t = &w->threads[w->order[w->cursor++]];
        if (t->state == T_RUN) return t;
    }
    return NULL;
}

// A thread stopped (at a barrier, a collective, or its end): switch straight to the next thread
// of the pass, and to the scheduler only when the pass is over. Going from thread to thread
// halves the number of switches compared with returning to the scheduler after each.
static void pass_on(Worker *w, MslFiber *self, int self_is_done) {
    MslThread *next = next_runnable(w);
    if (next) msl_self = next;
    msl_fiber_switch(self, next ? fiber_of(w, next) : &w->sched, self_is_done);
}

// The checking build's accesses since the thread last stopped: read or written? (msl_check.c)
__attribute__((noinline, cold)) static void flush_now(Worker *w, const MslThread *t) {
    msl_tg_flush(&w->check, t);
}
static inline void flush_accesses(Worker *w, const MslThread *t) {
    if (__builtin_expect(w->check.npending != 0, 0)) flush_now(w, t);
}

// A fiber runs one thread after another: when its thread ends, it parks, and the next thread
// given to it starts right there, which costs a switch and no new stack frame. A fiber left in
// the middle of a kernel (a failed dispatch) is not parked, and is prepared afresh instead.
static void fiber_main(void *arg) {
    MslFiber *self = arg;
    msl_fiber_started(self);
    for (;;) {
        MslThread *t = msl_self;  // set by whoever switched here
        Worker *w = t->rt;
        w->d->kernel->entry(t);
        flush_accesses(w, t);
        t->state = T_DONE;
        w->parked[self - w->fibers] = 1;
        pass_on(w, self, 0);
    }
}

__attribute__((always_inline)) static inline void block(MslThread *t, int state, int site,
                                                         int line) {
    Worker *w = t->rt;
    flush_accesses(w, t);
    t->state = state;
    t->site = site;
    t->line = line;
    pass_on(w, fiber_of(w, t), 0);  // resumed by whoever runs the pass that releases it
}

void msl_barrier(int site, int line, int flags) {
    MslThread *t = msl_self;
    Worker *w = t->rt;
    if (w->mode != MSL_FULL) {  // the runtime guard: the pre-pass classified this kernel wrongly
        fail(w, "threadgroup_barrier at line %d in a kernel classified as %s (emulator bug: "
             "please report it)", line, w->mode == MSL_PLAIN ? "plain" : "SIMD-only");
        return;
    }
    t->wait_flags = flags;
    t->nbarriers++;
    block(t, T_BARRIER, site, line);
}

// Inlined: a SIMD-only kernel's cost is mostly these waits (bench-emu's matvec).
__attribute__((always_inline)) static inline MslSimdView *simd_wait(int site, int line,
                                                                  const void *value, size_t size,
                                                                  int flags) {
    MslThread *t = msl_self;
    Worker *w = t->rt;
    SimdSlots *s = &w->simd[t->simd];
    if (w->mode == MSL_PLAIN) {
        fail(w, "SIMD collective at line %d in a kernel classified as plain (emulator bug: "
             "please report it)", line);
        s->view.active = 1u << t->lane;  // degrade to a group of one so the kernel can finish
        s->view.has_result = 0;
        memcpy(s->view.slot[t->lane], value, size);
        return &s->view;
    }
    memcpy(s->in[t->lane], value, size);
    t->wait_flags = flags;
    block(t, T_SIMD, site, line);
    return &s->view;
}

MslSimdView *msl_simd_wait(int site, int line, const void *value, size_t size) {
    return simd_wait(site, line, value, size, 0);
}

// A collective that every lane of the SIMD-group must reach (checked in resolve_simd).
void msl_simd_barrier(int site, int line) {
    int zero = 0;
    simd_wait(site, line, &zero, sizeof zero, -1);
}

void *msl_tg_alloc(size_t size, size_t align) {
    MslThread *t = msl_self;
    Worker *w = t->rt;
    size_t off = (w->tg_static_base + t->tg_off + align - 1) & ~(align - 1);
    if (off + size > MSL_TG_MEM_BYTES) {
        fail(w, "threadgroup memory exceeds %d bytes", MSL_TG_MEM_BYTES);
        off = 0;  // keep running on valid memory; the dispatch already failed
    }
    t->tg_off = off + size - w->tg_static_base;
    if (off + size > w->check.static_end) w->check.static_end = off + size;
    if (off + size > w->tg_poisoned) {  // NaN (all bits set) until a thread writes it
        memset(w->arena + w->tg_poisoned, 0xff, off + size - w->tg_poisoned);
        w->tg_poisoned = off + size;
    }
    return w->arena + off;
}

static uint32_t next_rand(Worker *w) {  // xorshift32: a reproducible shuffle per seed
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 17;
    w->rng ^= w->rng << 5;
    return w->rng;
}

// The checking build, with no schedule chosen, varies it: each pass of each threadgroup runs
// forward, reverse or shuffled in turn, so a read of a neighbour's slot before it is written
// shows in the results whichever way round it is (the race checker names it anyway).
static msl_schedule schedule_now(Worker *w) {
    if (!w->d->kernel->checked || msl_pool.schedule_fixed) return msl_pool.schedule;
    return (msl_schedule)(w->rotation++ % 3);
}

static void make_order(Worker *w, uint32_t lo, uint32_t n) {
    msl_schedule s = schedule_now(w);
    for (uint32_t i = 0; i < n; i++) w->order[i] = s == MSL_SCHED_REVERSE ? lo + n - 1 - i : lo + i;
    if (s == MSL_SCHED_RANDOM)
        for (uint32_t i = n - 1; i > 0; i--) {
            uint32_t j = next_rand(w) % (i + 1), tmp = w->order[i];
            w->order[i] = w->order[j];
            w->order[j] = tmp;
        }
}

// Where a lane waits, as a path: the pre-pass ids of the helper calls it is inside, then the id
// of the collective. Ids grow with the position in the source, so comparing paths compares
// positions in the program, which is what decides who goes first after a divergent branch.
// A loop on the path adds its id and the thread's iteration: the same loop, an earlier iteration
// comes first.
static inline int path_cmp(const MslThread *a, const MslThread *b) {
    if (a->site == b->site && a->depth == b->depth && a->depth == 0) return 0;  // most often
    int na = a->depth < MSL_MAX_PATH ? a->depth : MSL_MAX_PATH;  // deeper: ignored
    int nb = b->depth < MSL_MAX_PATH ? b->depth : MSL_MAX_PATH;
    for (int i = 0; i <= na && i <= nb; i++) {
        int x = i < na ? a->path[i] : a->site, y = i < nb ? b->path[i] : b->site;
        if (x != y) return x < y ? -1 : 1;
    }
    return na - nb;
}

// A SIMD-group whose lanes have all stopped: release the lanes waiting at the collective that
// comes first in the program. Lanes that took the other side of an if, or left a loop, are
// further on and wait there: exactly the lanes a GPU would have active for that collective.
static int resolve_simd(Worker *w, uint32_t lo, uint32_t hi) {
    MslThread *t = w->threads, *first = NULL;
    for (uint32_t i = lo; i < hi; i++) {
        if (t[i].state == T_RUN) return 0;
        if (t[i].state == T_SIMD && (!first || path_cmp(&t[i], first) < 0)) first = &t[i];
    }
    if (!first) return 0;
    if (first->wait_flags == -1)  // simdgroup_barrier: every lane of the SIMD-group, same one
        for (uint32_t i = lo; i < hi; i++)
            if (t[i].state != T_SIMD || path_cmp(&t[i], first)) {
                fail(w, "simdgroup_barrier divergence: thread %u waits at the simdgroup_barrier of "
                     "line %d, thread %u %s", (unsigned)(first - t), first->line, i,
                     t[i].state == T_DONE ? "has finished the kernel" : "is elsewhere");
                return 2;  // the dispatch failed
            }
    SimdSlots *s = &w->simd[lo / MSL_SIMD_WIDTH];
    s->view.active = 0;
    s->view.has_result = 0;
    for (uint32_t i = lo; i < hi; i++)
        if (t[i].state == T_SIMD && path_cmp(&t[i], first) == 0) {
            s->view.active |= 1u << t[i].lane;
            memcpy(s->view.slot[t[i].lane], s->in[t[i].lane], 16);
            t[i].state = T_RUN;
        }
    return 1;
}

// Runs threads [lo, hi) as fibers until all are done (or the dispatch failed).
static void schedule(Worker *w, uint32_t lo, uint32_t hi) {
    MslThread *t = w->threads;
    for (uint32_t i = lo; i < hi; i++) {
        t[i].state = T_RUN;
        MslFiber *f = fiber_of(w, &t[i]);
        if (!w->parked[f - w->fibers]) msl_fiber_prepare(f, fiber_main, f);
        w->parked[f - w->fibers] = 0;
    }
    make_order(w, lo, hi - lo);
    w->pass_len = hi - lo;
    int reorder = msl_pool.schedule == MSL_SCHED_RANDOM || w->d->kernel->checked;
    for (int pass = 0;; pass++) {
        if (pass && reorder) make_order(w, lo, hi - lo);  // a new shuffle, or the next order
        w->cursor = 0;  // a pass: every runnable thread runs until it stops (see pass_on)
        MslThread *first = next_runnable(w);
        if (first) {
            msl_self = first;
            msl_fiber_switch(&w->sched, fiber_of(w, first), 0);
        }
        if (atomic_load(&msl_pool.failed)) return;
        int resolved = 0;
        for (uint32_t s = lo; s < hi; s += MSL_SIMD_WIDTH)
            resolved |= resolve_simd(w, s, s + MSL_SIMD_WIDTH < hi ? s + MSL_SIMD_WIDTH : hi);
        if (resolved & 2) return;
        if (resolved) continue;
        uint32_t done = 0, first_bar = hi, first_done = hi;
        int orders_tg = 1, orders_dev = 1;  // every waiting thread's barrier orders that memory
        for (uint32_t i = lo; i < hi; i++) {
            if (t[i].state == T_DONE && first_done == hi) first_done = i;
            if (t[i].state == T_DONE) done++;
            if (t[i].state != T_BARRIER) continue;
            if (!(t[i].wait_flags & 2)) orders_tg = 0;  // mem_flags::mem_threadgroup
            if (!(t[i].wait_flags & 1)) orders_dev = 0;  // mem_flags::mem_device
            if (first_bar == hi) first_bar = i;
            // The same dynamic barrier: same place, reached through the same calls and loop
            // iterations, as the same barrier of the thread's run.
            const MslThread *a = &t[first_bar], *b = &t[i];
            if (a->site != b->site || path_cmp(a, b) || a->nbarriers != b->nbarriers) {
                if (a->line != b->line)
                    fail(w, "barrier divergence: thread %u waits at the threadgroup_barrier of line "
                         "%d, thread %u at the one of line %d", first_bar, a->line, i, b->line);
                else
                    fail(w, "barrier divergence: threads %u and %u wait at the threadgroup_barrier "
                         "of line %d, but not the same time round: reached through different "
                         "calls or loop iterations (their barriers no. %u and %u); a barrier must "
                         "be reached by every thread in uniform control flow", first_bar, i,
                         a->line, a->nbarriers, b->nbarriers);
                return;
            }
        }
        if (done == hi - lo) return;
        if (first_done < hi) {
            fail(w, "barrier divergence: thread %u finished the kernel while thread %u waits at "
                 "threadgroup_barrier (line %d); every thread must reach every barrier",
                 first_done, first_bar, t[first_bar].line);
            return;
        }
        for (uint32_t i = lo; i < hi; i++) t[i].state = T_RUN;
        // Accesses before and after a barrier never conflict, if it orders threadgroup memory
        // (mem_flags::mem_none or mem_device alone do not).
        if (orders_tg) w->check.epoch++;
        if (orders_dev) w->check.dev_epoch++;
    }
}

// Fills the parts of the thread records that are the same in every threadgroup of size sz: once
// per dispatch, not once per threadgroup (a matvec runs thousands of small threadgroups, and
// the divisions here cost more than its kernel does). Only the smaller threadgroups at the edge
// of a dispatchThreads change the size, and with it the layout.
static void lay_out(Worker *w, const MslDispatch *d, const uint32_t sz[3], const uint32_t grid[3]) {
    uint32_t n = sz[0] * sz[1] * sz[2];
    for (uint32_t i = 0; i < n; i++) {
        MslThread *t = &w->threads[i];
        uint32_t p[3] = {i % sz[0], i / sz[0] % sz[1], i / (sz[0] * sz[1])};
        for (int k = 0; k < 3; k++) {
            t->pos_tg[k] = p[k];
            t->tg_size[k] = sz[k];
            t->ngroups[k] = d->groups[k];
            t->grid_size[k] = grid[k];
        }
        t->index_tg = i;
        t->lane = i % MSL_SIMD_WIDTH;
        t->simd = i / MSL_SIMD_WIDTH;
        t->nsimd = (n + MSL_SIMD_WIDTH - 1) / MSL_SIMD_WIDTH;
        t->buffers = d->buffers;
        t->tg_dyn = w->tg_dyn;
        t->rt = w;
    }
    memcpy(w->laid_out, sz, sizeof w->laid_out);
}

static void run_group(Worker *w, const MslDispatch *d, uint32_t g) {
    uint32_t gp[3] = {g % d->groups[0], g / d->groups[0] % d->groups[1],
                      g / (d->groups[0] * d->groups[1])};
    uint32_t grid[3], sz[3];
    for (int k = 0; k < 3; k++) {
        grid[k] = d->grid[0] ? d->grid[k] : d->groups[k] * d->tg_size[k];
        uint32_t left = grid[k] - gp[k] * d->tg_size[k];
        sz[k] = left < d->tg_size[k] ? left : d->tg_size[k];  // edge of a dispatchThreads
        w->check.group[k] = gp[k];
    }
    if (memcmp(sz, w->laid_out, sizeof sz)) lay_out(w, d, sz, grid);
    uint32_t n = sz[0] * sz[1] * sz[2];
    w->check.epoch++;
    memset(w->arena, 0xff, w->tg_static_base);  // threadgroup(n) buffers start as NaN too
    w->tg_poisoned = w->tg_static_base;
    w->check.static_end = w->tg_static_base;
    w->check.group_index = g;
    w->check.npending = 0;
    w->rng = msl_pool.seed * 2654435761u + g + 1;
    for (uint32_t i = 0; i < n; i++) {  // what changes from one threadgroup to the next
        MslThread *t = &w->threads[i];
        for (int k = 0; k < 3; k++) {
            t->tg_pos[k] = gp[k];
            t->pos_grid[k] = gp[k] * d->tg_size[k] + t->pos_tg[k];
        }
        t->tg_off = 0;
        t->depth = 0;
        t->nbarriers = 0;
    }
    if (w->mode == MSL_PLAIN) {  // no thread ever waits for another: just call each in turn
        if (msl_pool.schedule == MSL_SCHED_FORWARD && !d->kernel->checked) {
            for (uint32_t i = 0; i < n; i++) msl_self = &w->threads[i], d->kernel->entry(msl_self);
        } else {  // MSL_SCHEDULE's order (or the checking build's) for these kernels too
            make_order(w, 0, n);
            for (uint32_t i = 0; i < n; i++) {
                msl_self = &w->threads[w->order[i]];
                d->kernel->entry(msl_self);
                flush_accesses(w, msl_self);
            }
        }
    }
    if (w->mode == MSL_SIMD)
        for (uint32_t s = 0; s < n; s += MSL_SIMD_WIDTH)
            schedule(w, s, s + MSL_SIMD_WIDTH < n ? s + MSL_SIMD_WIDTH : n);
    if (w->mode == MSL_FULL) schedule(w, 0, n);
}

void msl_work(Worker *w, const MslDispatch *d) {
    uint32_t n = d->tg_size[0] * d->tg_size[1] * d->tg_size[2];
    w->mode = d->kernel->kind;
    // A stack costs nothing until a thread touches it (see msl_fiber_init).
    grow(w, n, w->mode == MSL_FULL ? n : w->mode == MSL_SIMD ? MSL_SIMD_WIDTH : 0);
    memset(w->laid_out, 0, sizeof w->laid_out);  // a new dispatch: new buffers, grid, sizes
    w->d = d;
    w->check.kernel = d->kernel->name;
    w->check.dispatch = d;
    w->check.arena = w->arena;
    size_t off = 0;
    for (int i = 0; i < MSL_MAX_BUFFERS; i++) {
        w->tg_dyn[i] = d->tg_mem[i] ? w->arena + off : NULL;
        off += (d->tg_mem[i] + 15) & ~(size_t)15;
    }
    w->tg_static_base = w->check.static_base = off;
    for (;;) {
        if (atomic_load(&msl_pool.failed)) break;
        uint32_t g = atomic_fetch_add(&msl_pool.next, 1);
        if (g >= msl_pool.total) break;
        run_group(w, d, g);
    }
    msl_self = NULL;
}
