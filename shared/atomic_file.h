// Files that appear whole or not at all. A program writes its output under a stand-in name beside
// the target (PATH.partial-PID) and renames it over PATH only once every byte is out and the
// stream has closed cleanly: a full disk, a crash or a Ctrl-C halfway leaves the old file as it
// was (or none), never a truncated one that a later step would read as real. rename() within one
// directory replaces the name in one step on POSIX systems. A path that is there and is not a
// plain file (a terminal, /dev/stdout, a pipe, a symbolic link) is written in place: renaming over
// it would replace the device or the link, not write to it.
//
//     AtomicFile out;
//     FILE *f = atomic_file_open(&out, path, "wb");
//     if (!f) return -1;              // message printed
//     fwrite(...);
//     return atomic_file_commit(&out);   // 0, or -1 (message printed; the stand-in removed)
//
// A writer that checks its file before it takes the name (gguf_write reads it back) calls
// atomic_file_close, reads out.partial, then atomic_file_publish or atomic_file_abort.
//
// Header-only, so that the build's own tools (mkskel, mkbook), which link nothing else, use it too.
#ifndef PS_ATOMIC_FILE_H
#define PS_ATOMIC_FILE_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    FILE *f;
    char path[4096], partial[4200];   // partial "": written in place
} AtomicFile;

// The stand-in for path, open with mode ("w" or "wb"); NULL, with a message, when it cannot be.
static inline FILE *atomic_file_open(AtomicFile *a, const char *path, const char *mode) {
    a->f = NULL, a->partial[0] = '\0';
    if (snprintf(a->path, sizeof a->path, "%s", path) >= (int)sizeof a->path) {
        fprintf(stderr, "%s: path too long\n", path);
        return NULL;
    }
    struct stat st;
    if (lstat(path, &st) != 0 || S_ISREG(st.st_mode))   // else: written in place, partial stays ""
        snprintf(a->partial, sizeof a->partial, "%s.partial-%ld", path, (long)getpid());
    const char *name = a->partial[0] ? a->partial : path;
    a->f = fopen(name, mode);
    if (!a->f) fprintf(stderr, "%s: cannot write %s: %s\n", path, name, strerror(errno));
    return a->f;
}

// Drops what was written: the stand-in (open or closed) is removed, path untouched.
static inline void atomic_file_abort(AtomicFile *a) {
    if (a->f) fclose(a->f);
    a->f = NULL;
    if (a->partial[0]) remove(a->partial);
}

// Was the file written in place (path is not a plain file)? Then there is nothing to rename, and
// nothing to read back.
static inline int atomic_file_in_place(const AtomicFile *a) { return !a->partial[0]; }

// Closes the stand-in: 0 when every write succeeded, the bytes now under their stand-in name
// (a->partial), which a caller may read back before atomic_file_publish gives them path's name
// (or atomic_file_abort drops them). Otherwise -1 with a message, the stand-in removed.
static inline int atomic_file_close(AtomicFile *a) {
    const int failed = ferror(a->f) != 0;
    const int closed = fclose(a->f);
    a->f = NULL;
    if (failed || closed != 0) {
        fprintf(stderr, "%s: write failed (%s)%s\n", a->path, closed != 0 ? strerror(errno) : "stream error",
                a->partial[0] ? "; the file was left as it was" : "");
        if (a->partial[0]) remove(a->partial);
        return -1;
    }
    return 0;
}

// The closed stand-in takes path's name: 0, or -1 with a message, the stand-in removed.
static inline int atomic_file_publish(AtomicFile *a) {
    if (a->partial[0] && rename(a->partial, a->path) != 0) {
        fprintf(stderr, "%s: cannot rename %s to it: %s\n", a->path, a->partial, strerror(errno));
        remove(a->partial);
        return -1;
    }
    a->partial[0] = '\0';   // it is path now: a later abort must not remove anything
    return 0;
}

// Closes the stand-in and gives it path's name when every write succeeded: 0. Otherwise -1 with a
// message, the stand-in removed and path as it was.
static inline int atomic_file_commit(AtomicFile *a) { return atomic_file_close(a) == 0 ? atomic_file_publish(a) : -1; }

#endif
