// The kernel registry, and the checking build's race detector for threadgroup memory.
//
// Race detection: kernels built with `mslpp -check` report every read and write of a
// kernel-scope threadgroup array here. Each byte of threadgroup memory remembers the last
// writer and a reader of the current "epoch" (the stretch between two barriers). Two accesses
// to one byte in one epoch by different threads, at least one a write, are a race: on a GPU
// their order is undefined, so the program's result depends on timing.
#include "msl_internal.h"

#include <pthread.h>
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

static atomic_long races;
enum { MAX_REPORTS = 8 };

long msl_race_count(void) { return atomic_load(&races); }

void msl_check_free(MslCheckState *c) {
    free(c->shadow);
    c->shadow = NULL;
}

static void report(MslCheckState *c, const char *var, size_t off, const char *what,
                   unsigned t1, int l1, const char *what2, unsigned t2, int l2) {
    long n = atomic_fetch_add(&races, 1);
    char msg[512];
    snprintf(msg, sizeof msg,
             "kernel '%s', threadgroup (%u,%u,%u): threadgroup memory race on '%s' at byte "
             "offset %zu: thread %u %s it (line %d) and thread %u %s it (line %d) with no "
             "threadgroup_barrier in between", c->kernel, c->group[0], c->group[1], c->group[2],
             var, off, t1, what, l1, t2, what2, l2);
    if (n < MAX_REPORTS) fprintf(stderr, "msl: %s\n", msg);
    msl_check_report(msg);
}

void msl_check_access(const void *base, const char *var, const void *addr, size_t size,
                      int is_write, int line) {
    MslThread *t = msl_self;
    MslCheckState *c = t->rt;  // the worker struct starts with its MslCheckState
    if (!c->shadow) c->shadow = calloc(MSL_TG_MEM_BYTES, sizeof(ShadowCell));
    if (!c->shadow) abort();
    size_t at = (size_t)((const unsigned char *)addr - c->arena);
    size_t off = (size_t)((const unsigned char *)addr - (const unsigned char *)base);
    uint16_t me = (uint16_t)t->index_tg;
    for (size_t i = 0; i < size && at + i < MSL_TG_MEM_BYTES; i++) {
        ShadowCell *s = (ShadowCell *)c->shadow + at + i;
        if (s->w_epoch == c->epoch && s->w_tid != me) {
            report(c, var, off, "wrote", s->w_tid, s->w_line, is_write ? "writes" : "reads", me,
                   line);
            return;
        }
        if (is_write && s->r_epoch == c->epoch && (s->r_tid != me || s->r_many)) {
            report(c, var, off, "read", s->r_tid != me ? s->r_tid : 0xffff, s->r_line, "writes",
                   me, line);
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
