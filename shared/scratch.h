// Scratch memory that only grows, for buffers a hot loop needs on every call (a decode step runs
// the same products every token): allocated when a call needs more than the last one, otherwise
// reused, so after the first token nothing is allocated. Kept in a `static _Thread_local Scratch`,
// it gives each thread of the pool (shared/thread_pool.h) its own buffer; the pool's threads never
// exit, so the memory lives, reachable, until the process ends.
//
//     static _Thread_local Scratch acts;
//     QuantAct *xq = scratch_reserve(&acts, n * sizeof *xq);
//
// Scratch is what xalloc.h's policy calls scratch: out of memory, it reports and exits.
#ifndef PS_SCRATCH_H
#define PS_SCRATCH_H

#include <stddef.h>
#include <stdlib.h>

#include "xalloc.h"

typedef struct {
    void *mem;
    size_t bytes;
} Scratch;

// s's memory, at least `bytes` long (never NULL); its old contents are not kept when it grows.
static inline void *scratch_reserve(Scratch *s, size_t bytes) {
    if (bytes <= s->bytes) return s->mem;
    free(s->mem);
    s->mem = xmalloc_lines(bytes);   // on a cache line: vector loads never straddle two
    s->bytes = bytes;
    return s->mem;
}

#endif
