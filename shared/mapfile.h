// A whole file, read-only, either mmap'd (pages come from the page cache on demand) or read into
// memory (slower to open, no page faults afterwards); and big allocations on 2 MiB pages. The
// engine copies the weights it loads into such an allocation (model_load), so how the checkpoint
// was opened matters only while loading.
#ifndef PS_MAPFILE_H
#define PS_MAPFILE_H

#include <stddef.h>

typedef enum { PS_MAP_MMAP = 0, PS_MAP_READ = 1 } PsMapMode;

typedef struct {
    const unsigned char *data;  // NULL for an empty file
    size_t size;
    PsMapMode mode;
} PsFile;

// Returns 0 on success; on failure prints "path: reason" to stderr and returns -1.
int ps_file_open(PsFile *f, const char *path, PsMapMode mode);
void ps_file_close(PsFile *f);

// Memory for the weights (model_load), the KV cache and files read whole: page-aligned and, on
// Linux, backed by 2 MiB pages where the kernel allows (madvise MADV_HUGEPAGE). One token reads every
// weight once; with 4 KiB pages that is a TLB miss every 4 KiB, which costs a single thread up to
// a third of its memory speed (measured on Zen 4, book/m5-quantization.md#measured-speed).
// NULL if out of memory. ps_free_big takes the size that was asked for.
void *ps_alloc_big(size_t n);
void ps_free_big(void *p, size_t n);

// Reads a whole (small) file into a NUL-terminated malloc'd string; NULL (and a message) on failure.
char *ps_read_text(const char *path, size_t *len_out);

#endif
