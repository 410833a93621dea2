// The kernel registry, and the checking build's race detector for threadgroup memory.
//
// Race detection: kernels built with `mslpp -check` reach threadgroup memory only through
// msl_tgcheck.h's types, which report each access here (msl_tg_touch) with its bytes, its
// variable and its .metal line. Each byte of the threadgroup's arena remembers the last writer
// and a reader of the current "epoch" (the stretch between two barriers that order threadgroup
// memory). Two accesses to one byte in one epoch by different threads, at least one a write,
// are a race: on a GPU their order is undefined, so the program's result depends on timing.
//
// The kernel gets a plain reference, so whether it read or wrote is learnt afterwards: the
// access is kept with a copy of the bytes, and when the thread next stops (a barrier, a
// collective, its end; it ran alone until then) bytes that changed were written by it.
#include "msl_internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- registry ----

enum { MAX_SOURCES = 256 };
static struct {
    const char *source;
    const MslKernel *kernels;
    int n;
} reg[MAX_SOURCES];
static int nreg;

void msl_register(const char *source, const MslKernel *kernels, int n) {
    if (nreg == MAX_SOURCES) {
        fprintf(stderr, "msl: more than %d .metal files linked\n", MAX_SOURCES);
        abort();
    }
    reg[nreg].source = source;
    reg[nreg].kernels = kernels;
    reg[nreg++].n = n;
}

int msl_source_known(const char *source) {
    for (int i = 0; i < nreg; i++)
        if (!strcmp(reg[i].source, source)) return 1;
    return 0;
}

const MslKernel *msl_find_kernel(const char *source, const char *name) {
    for (int i = 0; i < nreg; i++)
        if (!strcmp(reg[i].source, source))
            for (int k = 0; k < reg[i].n; k++)
                if (!strcmp(reg[i].kernels[k].name, name)) return &reg[i].kernels[k];
    return NULL;
}

// ---- race checker ----

typedef struct {
    uint32_t w_epoch, r_epoch;  // epochs of the last write and of the recorded read
    uint16_t w_tid, r_tid;      // who wrote, who read (the first reader of the epoch)
    int32_t w_line, r_line;     // .metal lines, for the report
    uint8_t r_many;             // more than one thread read it in r_epoch
} ShadowCell;

// One access of the running thread, not yet classified. Longer accesses (a big struct) are
// split into pieces of SNAP bytes.
enum { SNAP = 32, MAX_PENDING = 512, HASH = 1024 };
typedef struct {
    const unsigned char *addr, *base;  // the bytes, and the start of their variable or buffer
    uint32_t size;
    int32_t line, wline;        // line of the access; of an earlier use that wrote (0: none)
    int is_device;              // device memory (msl_devcheck.c), else threadgroup memory
    const char *name;
    unsigned char snap[SNAP];   // the bytes when last looked at
} Pending;
typedef struct {
    Pending e[MAX_PENDING];
    uint16_t slot[HASH];        // index + 1 into e, by position: one entry per piece of memory
} PendingSet;

static atomic_long races;
enum { MAX_REPORTS = 8 };

long msl_race_count(void) { return atomic_load(&races); }

void msl_check_free(MslCheckState *c) {
    free(c->shadow);
    free(c->pending);
    free(c->scratch);
    c->shadow = c->pending = NULL;
    c->scratch = NULL;
}

void msl_check_fail(MslCheckState *c, const char *fmt, ...) {
    char msg[768], full[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "kernel '%s', threadgroup (%u,%u,%u): %s", c->kernel, c->group[0],
             c->group[1], c->group[2], msg);
    long n = atomic_fetch_add(&races, 1);
    if (n < MAX_REPORTS) fprintf(stderr, "msl: %s\n", full);
    msl_check_report(full);
}

static void report(MslCheckState *c, const char *var, size_t off, const char *what,
                   unsigned t1, int l1, const char *what2, unsigned t2, int l2) {
    msl_check_fail(c, "threadgroup memory race on '%s' at byte offset %zu: thread %u %s it (line "
                   "%d) and thread %u %s it (line %d) with no threadgroup_barrier in between",
                   var, off, t1, what, l1, t2, what2, l2);
}

// Bytes [at, at + size) of the arena, read or written by thread `me` in the current epoch.
static void shadow_access(MslCheckState *c, uint16_t me, const char *var, size_t at, size_t off,
                          size_t size, int is_write, int line) {
    if (!c->shadow) c->shadow = calloc(MSL_TG_MEM_BYTES, sizeof(ShadowCell));
    if (!c->shadow) abort();
    for (size_t i = 0; i < size && at + i < MSL_TG_MEM_BYTES; i++) {
        ShadowCell *s = (ShadowCell *)c->shadow + at + i;
        if (s->w_epoch == c->epoch && s->w_tid != me) {
            report(c, var, off + i, "wrote", s->w_tid, s->w_line, is_write ? "writes" : "reads",
                   me, line);
            return;
        }
        if (is_write && s->r_epoch == c->epoch && (s->r_tid != me || s->r_many)) {
            report(c, var, off + i, "read", s->r_tid != me ? s->r_tid : 0xffff, s->r_line,
                   "writes", me, line);
            return;
        }
        if (is_write) {
            s->w_epoch = c->epoch;
            s->w_tid = me;
            s->w_line = line;
        } else if (s->r_epoch != c->epoch) {
            s->r_epoch = c->epoch;
            s->r_tid = me;
            s->r_line = line;
            s->r_many = 0;
        } else if (s->r_tid != me) {
            s->r_many = 1;
        }
    }
}

// The old interface (msl_glue.h's tg_ref): an access whose kind is known at once.
void msl_check_access(const void *base, const char *var, const void *addr, size_t size,
                      int is_write, int line) {
    MslThread *t = msl_self;
    MslCheckState *c = t->rt;  // the worker struct starts with its MslCheckState
    size_t at = (size_t)((const unsigned char *)addr - c->arena);
    size_t off = (size_t)((const unsigned char *)addr - (const unsigned char *)base);
    shadow_access(c, (uint16_t)t->index_tg, var, at, off, size, is_write, line);
}

void msl_tg_flush(MslCheckState *c, const MslThread *t) {
    PendingSet *ps = c->pending;
    int n = c->npending;
    c->npending = 0;  // before the checks: a report must not recurse into a flush
    for (int i = 0; i < n; i++) {
        Pending *e = &ps->e[i];
        int wrote = e->wline || memcmp(e->snap, e->addr, e->size);
        int line = e->wline ? e->wline : e->line;
        if (e->is_device)
            msl_dev_access(c, t, e->name, e->addr, (size_t)(e->addr - e->base), e->size, wrote, line);
        else
            shadow_access(c, (uint16_t)t->index_tg, e->name, (size_t)(e->addr - c->arena),
                          (size_t)(e->addr - e->base), e->size, wrote, line);
    }
    memset(ps->slot, 0, sizeof ps->slot);
}

static void pend1(MslCheckState *c, const MslThread *t, const unsigned char *addr,
                  const unsigned char *base, size_t size, int line, const char *name, int is_device) {
    if (!c->pending) c->pending = calloc(1, sizeof(PendingSet));
    if (!c->pending) abort();
    PendingSet *ps = c->pending;
    unsigned h = (unsigned)(((uintptr_t)addr >> 2) * 2654435761u) % HASH;
    for (;; h = (h + 1) % HASH) {
        int k = ps->slot[h] - 1;
        if (k < 0) break;
        Pending *e = &ps->e[k];
        if (e->addr != addr || e->size != size) continue;
        // Used again in the same run of the thread: if the bytes changed since the last use,
        // that use wrote them.
        if (!e->wline && memcmp(e->snap, addr, size)) e->wline = e->line;
        memcpy(e->snap, addr, size);
        e->line = line;
        return;
    }
    if (c->npending == MAX_PENDING) {  // full: classify what we have (the thread still runs alone)
        msl_tg_flush(c, t);
        pend1(c, t, addr, base, size, line, name, is_device);
        return;
    }
    Pending *e = &ps->e[c->npending];
    *e = (Pending){addr, base, (uint32_t)size, line, 0, is_device, name, {0}};
    memcpy(e->snap, addr, size);
    ps->slot[h] = (uint16_t)++c->npending;
}

void msl_pend(MslCheckState *c, const MslThread *t, const void *addr, const void *base,
              size_t size, int line, const char *name, int is_device) {
    for (size_t done = 0; done < size; done += SNAP)
        pend1(c, t, (const unsigned char *)addr + done, base, size - done < SNAP ? size - done : SNAP,
              line, name, is_device);
}

void *msl_check_scratch(MslCheckState *c, const void *addr, size_t size) {
    if (!c->scratch) c->scratch = calloc(1, MSL_TG_MEM_BYTES);
    if (!c->scratch) abort();
    return size <= MSL_TG_MEM_BYTES ? c->scratch : (void *)addr;
}

void *msl_tg_touch(const void *addr, size_t size, int line, const char *name, const void *lo,
                   const void *hi, int record) {
    MslThread *t = msl_self;
    MslCheckState *c = t->rt;
    const unsigned char *a = addr, *l = lo, *h = hi;
    if (!name) name = "threadgroup memory";
    if (a < l || a + size > h || l < c->arena || h > c->arena + MSL_TG_MEM_BYTES) {
        if (l == h)
            msl_check_fail(c, "thread %u, line %d: '%s' does not point into threadgroup memory "
                           "(a threadgroup(n) buffer with no length set?)", t->index_tg, line, name);
        else
            msl_check_fail(c, "thread %u, line %d: threadgroup access out of bounds: bytes %td..%td "
                           "of '%s', which has %td", t->index_tg, line, a - l, a - l + (ptrdiff_t)size - 1,
                           name, h - l);
        return msl_check_scratch(c, addr, size);
    }
    if (record) msl_pend(c, t, addr, lo, size, line, name, 0);
    return (void *)addr;
}

void msl_tg_region(const void *p, const void **lo, const void **hi) {
    MslThread *t = msl_self;
    MslCheckState *c = t->rt;
    const unsigned char *a = p;
    *lo = *hi = p;
    if (a < c->arena || a >= c->arena + MSL_TG_MEM_BYTES) return;
    size_t at = (size_t)(a - c->arena);
    size_t off = 0;  // threadgroup(n) buffers lie one after the other, 16-byte aligned
    for (int i = 0; i < MSL_MAX_BUFFERS; i++) {
        size_t len = c->dispatch->tg_mem[i];
        if (len && at >= off && at < off + len) {
            *lo = c->arena + off;
            *hi = c->arena + off + len;
            return;
        }
        off += (len + 15) & ~(size_t)15;
    }
    if (at >= c->static_base && at < c->static_end) {
        *lo = c->arena + c->static_base;
        *hi = c->arena + c->static_end;
    }
}

void msl_check_lane(int line, const char *what, unsigned lane) {
    MslThread *t = msl_self;
    msl_check_fail(t->rt, "%s at line %d: thread %u (lane %u) reads lane %u, which %s", what, line,
                   t->index_tg, t->lane, lane,
                   lane >= MSL_SIMD_WIDTH ? "does not exist (a SIMD-group has 32 lanes)"
                                          : "is not active here (it took another branch, has "
                                            "ended, or is past the end of a partial SIMD-group)");
}
