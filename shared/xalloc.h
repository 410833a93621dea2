// The engine's error policy, one rule for each kind of failure (DEVELOPERS.md, "Errors"):
//
//   - Bad input (a file, a flag, a prompt): say what is wrong and where, return -1 (or NULL) up to
//     the command, which exits non-zero. Never exit from inside a library function for bad input.
//   - Out of memory for scratch and bookkeeping: nothing sensible is left to do, so report it and
//     exit(1), as redis's zmalloc and ds4 do. These wrappers do that; every small allocation of the
//     engine goes through them (stb_ds's arrays too: shared/stb_ds_impl.c). Memory whose size the
//     input decides (the weights, a KV cache for --ctx N) is bad input instead: plain malloc, and a
//     message that says how much was asked for.
//   - A broken invariant (a case that cannot happen): abort(), so a debugger stops there.
#ifndef PS_XALLOC_H
#define PS_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);                  // never NULL; n == 0 is treated as 1
void *xcalloc(size_t count, size_t size); // zeroed; never NULL; checks count * size for overflow
void *xrealloc(void *p, size_t n);        // never NULL
char *xstrdup(const char *s);

// Memory that starts on a cache line (64 bytes), freed by free(): buffers that vector kernels
// stream through. A 64-byte AVX-512 load from malloc's memory (16 bytes past a line for a large
// block: glibc's header) straddles two lines on every load, and a core that splits loads halves
// their rate (book/m2-forward.md#aligned-buffers). malloc_lines returns NULL when memory runs out
// (sizes the input decides); xmalloc_lines never does (scratch).
void *malloc_lines(size_t n);
void *xmalloc_lines(size_t n);

#endif
