// The checking build's view of device memory: bounds of every access through a `device` or
// `constant` pointer, and races within one dispatch.
//
// Bounds: a pointer knows the buffer binding it came from (msl_dev_region), and an access
// outside it is reported with the kernel, the variable, the buffer index and the .metal line.
//
// Races: only memory the kernel may write is watched, the ranges bound to its `device T *`
// parameters without const (MslKernel.writes): read-only weights cost nothing. An access there
// is classified when the thread stops, like threadgroup memory (msl_check.c), then compared
// here with the other threads' accesses of this dispatch. A write and another access to the
// same address by two threads are a race unless both threads are in one threadgroup with a
// barrier that orders device memory (mem_flags::mem_device) between them: different
// threadgroups have no barrier at all.
#include "msl_internal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const unsigned char *addr;  // NULL: an empty slot
    uint32_t w_group, r_group;  // threadgroup index + 1 of the last writer / reader; 0: none
    uint32_t w_epoch, r_epoch;  // their threadgroup's dev_epoch then
    uint16_t w_tid, r_tid;
    int32_t w_line, r_line;
} DevCell;

static struct {
    pthread_mutex_t mu;
    DevCell *cells;
    size_t cap, used;           // cap: a power of two
    const unsigned char *lo[MSL_MAX_BUFFERS], *hi[MSL_MAX_BUFFERS];  // the writable ranges
    int nranges;
} dev = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, {0}, {0}, 0};

void msl_dev_begin(const MslDispatch *d) {
    dev.nranges = 0;
    for (int i = 0; i < MSL_MAX_BUFFERS; i++)
        if (d->kernel->writes >> i & 1u && d->buffers[i]) {
            dev.lo[dev.nranges] = d->buffers[i];
            dev.hi[dev.nranges++] = (const unsigned char *)d->buffers[i] + d->buffer_len[i];
        }
    if (dev.used) memset(dev.cells, 0, sizeof *dev.cells * dev.cap);
    dev.used = 0;
}

void msl_dev_region(const void *p, const void **lo, const void **hi, int *watch) {
    MslThread *t = msl_self;
    const MslDispatch *d = ((MslCheckState *)t->rt)->dispatch;
    const unsigned char *a = p;
    *lo = *hi = NULL;  // not a bound buffer (a program-scope constant...): not checked
    *watch = 0;
    for (int pass = 0; pass < 2 && !*lo; pass++)  // the buffer it starts, else the one it is in
        for (int i = 0; i < MSL_MAX_BUFFERS && !*lo; i++) {
            const unsigned char *b = d->buffers[i];
            if (!b || (pass == 0 ? a != b : a < b || a > b + d->buffer_len[i])) continue;
            *lo = b;
            *hi = b + d->buffer_len[i];
        }
    for (int i = 0; *lo && i < dev.nranges; i++)
        if ((const unsigned char *)*lo < dev.hi[i] && (const unsigned char *)*hi > dev.lo[i]) *watch = 1;
}

void *msl_dev_touch(const void *addr, size_t size, int line, const char *name, const void *lo,
                    const void *hi, int record) {
    const unsigned char *a = addr, *l = lo, *h = hi;
    MslThread *t = msl_self;
    MslCheckState *c = t->rt;
    if (!l) return (void *)addr;
    if (a < l || a + size > h) {
        int n = 0;
        while (n < MSL_MAX_BUFFERS && c->dispatch->buffers[n] != lo) n++;
        msl_check_fail(c, "thread %u, line %d: device memory access out of bounds: bytes %td..%td "
                       "of '%s' (buffer(%d)), which has %td", t->index_tg, line, a - l,
                       a - l + (ptrdiff_t)size - 1, name ? name : "?", n, h - l);
        return msl_check_scratch(c, addr, size);
    }
    for (int i = 0; record && i < dev.nranges; i++)
        if (a < dev.hi[i] && a + size > dev.lo[i]) {
            msl_pend(c, t, addr, lo, size, line, name ? name : "?", 1);
            break;
        }
    return (void *)addr;
}

static DevCell *cell_of(const unsigned char *addr) {  // dev.mu held
    if (2 * (dev.used + 1) > dev.cap) {  // grow: keep the table at most half full
        size_t cap = dev.cap ? dev.cap * 2 : 4096;
        DevCell *old = dev.cells, *cells = calloc(cap, sizeof *cells);
        if (!cells) abort();
        for (size_t i = 0; i < dev.cap; i++) {
            if (!old[i].addr) continue;
            size_t h = ((uintptr_t)old[i].addr >> 2) * 0x9e3779b97f4a7c15ull >> 20 & (cap - 1);
            while (cells[h].addr) h = (h + 1) & (cap - 1);
            cells[h] = old[i];
        }
        free(old);
        dev.cells = cells, dev.cap = cap;
    }
    size_t h = ((uintptr_t)addr >> 2) * 0x9e3779b97f4a7c15ull >> 20 & (dev.cap - 1);
    while (dev.cells[h].addr && dev.cells[h].addr != addr) h = (h + 1) & (dev.cap - 1);
    if (!dev.cells[h].addr) dev.cells[h].addr = addr, dev.used++;
    return &dev.cells[h];
}

void msl_dev_access(MslCheckState *c, const MslThread *t, const char *name,
                    const unsigned char *addr, size_t off, size_t size, int is_write, int line) {
    uint32_t me_group = c->group_index + 1, epoch = c->dev_epoch;
    uint16_t me = (uint16_t)t->index_tg;
    int other = 0, other_line = 0, other_wrote = 0;
    unsigned other_tid = 0, other_group = 0;
    (void)size;  // accesses are compared by their first byte
    pthread_mutex_lock(&dev.mu);
    DevCell *s = cell_of(addr);
    // ordered before me: the same threadgroup, before a barrier that orders device memory
#define OTHER(g, tid, ep) ((g) && ((g) != me_group || (tid) != me) && !((g) == me_group && (ep) < epoch))
    if (OTHER(s->w_group, s->w_tid, s->w_epoch)) {
        other = 1, other_wrote = 1, other_tid = s->w_tid, other_group = s->w_group - 1, other_line = s->w_line;
    } else if (is_write && OTHER(s->r_group, s->r_tid, s->r_epoch)) {
        other = 1, other_tid = s->r_tid, other_group = s->r_group - 1, other_line = s->r_line;
    }
#undef OTHER
    if (is_write) s->w_group = me_group, s->w_tid = me, s->w_epoch = epoch, s->w_line = line;
    else s->r_group = me_group, s->r_tid = me, s->r_epoch = epoch, s->r_line = line;
    pthread_mutex_unlock(&dev.mu);
    if (other)
        msl_check_fail(c, "device memory race on '%s' at byte offset %zu: thread %u of threadgroup "
                       "#%u %s it (line %d) and thread %u of threadgroup #%u %s it (line %d), with "
                       "no threadgroup_barrier(mem_flags::mem_device) between them (threadgroups "
                       "have none)", name, off, other_tid, other_group, other_wrote ? "wrote" : "read",
                       other_line, (unsigned)me, c->group_index, is_write ? "writes" : "reads", line);
}
