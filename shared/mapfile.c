#include "mapfile.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int read_all(int fd, unsigned char *dst, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = read(fd, dst + done, n - done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        done += (size_t)r;
    }
    return 0;
}

void *ps_alloc_big(size_t n) {
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
#if defined(MADV_HUGEPAGE)
    madvise(p, n, MADV_HUGEPAGE);   // a hint: without it (or if refused) the pages are 4 KiB
#endif
    return p;
}

void ps_free_big(void *p, size_t n) {
    if (p) munmap(p, n ? n : 1);
}

int ps_file_open(PsFile *f, const char *path, PsMapMode mode) {
    memset(f, 0, sizeof *f);
    f->mode = mode;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "%s: not a regular file\n", path);
        close(fd);
        return -1;
    }
    f->size = (size_t)st.st_size;
    if (f->size == 0) {
        close(fd);
        return 0;
    }
    if (mode == PS_MAP_MMAP) {
        void *p = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            fprintf(stderr, "%s: mmap failed: %s\n", path, strerror(errno));
            close(fd);
            return -1;
        }
        f->data = p;
    } else {
        unsigned char *p = ps_alloc_big(f->size);
        if (!p || read_all(fd, p, f->size) != 0) {
            fprintf(stderr, "%s: %s\n", path, p ? "read failed" : "out of memory");
            ps_free_big(p, f->size);
            close(fd);
            return -1;
        }
        f->data = p;
    }
    close(fd);
    return 0;
}

void ps_file_close(PsFile *f) {
    if (f->data) {
        if (f->mode == PS_MAP_MMAP) munmap((void *)f->data, f->size);
        else ps_free_big((void *)f->data, f->size);
    }
    memset(f, 0, sizeof *f);
}

char *ps_read_text(const char *path, size_t *len_out) {
    PsFile f;
    if (ps_file_open(&f, path, PS_MAP_READ) != 0) return NULL;
    char *s = xmalloc(f.size + 1);
    if (f.size) memcpy(s, f.data, f.size);
    s[f.size] = '\0';
    if (len_out) *len_out = f.size;
    ps_file_close(&f);
    return s;
}
