// A whole file, read-only, either mmap'd (pages come from the page cache on demand and can be evicted)
// or read into malloc'd memory (slower to open, steady afterwards). The engine offers both because
// on a small machine mmap'd weights get evicted and re-read between tokens.
#ifndef PS_MAPFILE_H
#define PS_MAPFILE_H

#include <stddef.h>

typedef enum { PS_MAP_MMAP = 0, PS_MAP_READ = 1 } ps_map_mode;

typedef struct {
    const unsigned char *data;  // NULL for an empty file
    size_t size;
    ps_map_mode mode;
} ps_file;

// Returns 0 on success; on failure prints "path: reason" to stderr and returns -1.
int ps_file_open(ps_file *f, const char *path, ps_map_mode mode);
void ps_file_close(ps_file *f);

// Reads a whole (small) file into a NUL-terminated malloc'd string; NULL (and a message) on failure.
char *ps_read_text(const char *path, size_t *len_out);

#endif
