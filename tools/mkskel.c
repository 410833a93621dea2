// mkskel: generates the learners' skeletons in labs/ from the reference code in solutions/.
//
// A solution file solutions/mN-name/<file>.c that contains marker regions is copied to
// labs/mN-name/<file>.c, each region replaced by its hint comments and replacement lines (a file's
// lab is its folder; solutions/cli/, the command line, belongs to no lab):
//
//     //> M0 bpe-merge          start of a region: lab id and task (the task is the book anchor)
//     //? text                  a hint, kept in the skeleton as a comment
//     //= code                  a replacement line (default when none: `@TODO;`)
//     //<                       end of the region
//
// `@TODO` expands to LAB_TODO("M0", "bpe-merge", "book/m0-tokenizer.md#bpe-merge"). Lines `//[ tag`
// and `//]` (regions the book quotes) are dropped from skeletons. The lab's headers
// (solutions/mN-name/*.h: its contracts) are copied to labs/mN-name/ unchanged but for a first
// line saying where they come from, so a learner finds every contract beside the lab.
//
// Kernels (lab M6): a shaders/*.metal file (the `shaders` folder beside SOLUTIONS_DIR) tagged
// `// lab: mN-name` is copied the same way to labs/mN-name/shaders/<file>. A GPU kernel cannot
// call LAB_TODO, so each of its regions needs `//=` lines, which use LAB_TODO_KERNEL(dst): the
// skeleton defines it to store a NaN whose payload reads 70D0 ("TODO") in dst, and the host code
// that ran the kernel finds it and calls LAB_TODO (solutions/gpu.c).
//
//     mkskel SOLUTIONS_DIR LABS_DIR            write the skeletons
//     mkskel --check SOLUTIONS_DIR LABS_DIR    exit 1 (and say which file) if any skeleton differs
//     mkskel --tasks SOLUTIONS_DIR             list "lab task file:line" for every region
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic_file.h"

#define MAX_LINE 4096

typedef struct {
    char *text;
    size_t len, cap;
} Buf;

static void put(Buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->text = realloc(b->text, b->cap);
        if (!b->text) { fprintf(stderr, "mkskel: out of memory\n"); exit(2); }
    }
    memcpy(b->text + b->len, s, n);
    b->len += n;
    b->text[b->len] = '\0';
}
static void puts_(Buf *b, const char *s) { put(b, s, strlen(s)); }

static const char *skip_ws(const char *s) {
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

// The lab a file belongs to, from its `// lab: NAME` first line; false when the file has no tag.
static bool lab_tag(const char *first_line, char *lab, size_t cap) {
    const char *p = skip_ws(first_line);
    if (strncmp(p, "// lab:", 7) != 0) return false;
    p = skip_ws(p + 7);
    size_t n = strcspn(p, " \t\r\n");
    if (n == 0 || n >= cap) return false;
    memcpy(lab, p, n);
    lab[n] = '\0';
    return true;
}

typedef struct {
    const char *path;
    int line;
} Where;

_Noreturn static void die(Where w, const char *msg, const char *arg) {
    fprintf(stderr, "%s:%d: mkskel: %s%s\n", w.path, w.line, msg, arg ? arg : "");
    exit(2);
}

// Emits the skeleton text of region lines [hints, replacements] at the marker's indentation.
static void emit_region(Buf *out, const char *indent, const char *lab_id, const char *task,
                        const char *lab_dir, Buf *hints, Buf *repl, bool has_repl) {
    char todo[512];
    snprintf(todo, sizeof todo, "LAB_TODO(\"%s\", \"%s\", \"book/%s.md#%s\")", lab_id, task, lab_dir, task);
    char line[MAX_LINE + 600];
    snprintf(line, sizeof line, "%s// TODO(%s %s): see book/%s.md#%s\n", indent, lab_id, task, lab_dir, task);
    puts_(out, line);
    if (hints->len) puts_(out, hints->text);
    const char *src = has_repl ? repl->text : "@TODO;\n";
    // each replacement line is re-indented and has @TODO expanded
    while (src && *src) {
        const char *nl = strchr(src, '\n');
        size_t n = nl ? (size_t)(nl - src) : strlen(src);
        puts_(out, n ? indent : "");
        const char *p = src;
        while (p < src + n) {
            const char *at = strstr(p, "@TODO");
            if (!at || at >= src + n) { put(out, p, (size_t)(src + n - p)); break; }
            put(out, p, (size_t)(at - p));
            puts_(out, todo);
            p = at + 5;
        }
        puts_(out, "\n");
        src = nl ? nl + 1 : NULL;
    }
}

// Builds the skeleton of one file. Returns false when the file has no regions (nothing to generate).
static bool skeleton(const char *path, const char *lab_dir, Buf *out, bool list_tasks, bool metal) {
    FILE *f = fopen(path, "r");
    if (!f) { fprintf(stderr, "mkskel: %s: %s\n", path, strerror(errno)); exit(2); }
    char lab_id[8];
    if (lab_dir[0] != 'm' || strlen(lab_dir) < 2) die((Where){path, 1}, "lab tag must look like mN-name: ", lab_dir);
    snprintf(lab_id, sizeof lab_id, "M%c", lab_dir[1]);
    char line[MAX_LINE], task[128] = "", indent[MAX_LINE] = "";
    Buf hints = {0}, repl = {0};
    bool inside = false, has_repl = false, any = false;
    Where w = {path, 0}, start = {path, 0};
    while (fgets(line, sizeof line, f)) {
        w.line++;
        if (!strchr(line, '\n') && !feof(f)) die(w, "line too long", NULL);
        const char *p = skip_ws(line);
        if (strncmp(p, "//>", 3) == 0) {
            if (inside) die(w, "region opened inside region ", task);
            char id[16];
            if (sscanf(p + 3, " %15s %127s", id, task) != 2) die(w, "expected `//> M0 task-name`", NULL);
            if (strcmp(id, lab_id) != 0) die(w, "region for another lab in a file tagged ", lab_dir);
            for (const char *c = task; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
                    die(w, "task names are lower-case words joined by '-': ", task);
            size_t ind = (size_t)(p - line);
            memcpy(indent, line, ind);
            indent[ind] = '\0';
            inside = any = true;
            has_repl = false;
            hints.len = repl.len = 0;
            start = w;
            if (list_tasks) printf("%s %s %s:%d\n", lab_id, task, path, w.line);
        } else if (strncmp(p, "//<", 3) == 0) {
            if (!inside) die(w, "region end without a start", NULL);
            if (metal && !has_repl) die(start, "a kernel region needs `//=` lines (LAB_TODO_KERNEL): ", task);
            if (out) emit_region(out, indent, lab_id, task, lab_dir, &hints, &repl, has_repl);
            inside = false;
        } else if (inside && strncmp(p, "//?", 3) == 0) {
            const char *text = p[3] == ' ' ? p + 4 : p + 3;
            puts_(&hints, indent);
            puts_(&hints, "// ");
            puts_(&hints, text);
        } else if (inside && strncmp(p, "//=", 3) == 0) {
            const char *text = p[3] == ' ' ? p + 4 : p + 3;
            has_repl = true;
            puts_(&repl, text);
        } else if (inside) {
            continue;  // reference code: not in the skeleton
        } else if ((strncmp(p, "//[", 3) == 0 || strncmp(p, "//]", 3) == 0)) {
            continue;  // book quotation tags
        } else if (out) {
            if (w.line == 1 && !metal) {   // C: the notice comes first
                puts_(out, "// Your lab file: fill in each TODO. Generated by tools/mkskel from ");
                puts_(out, path);
                puts_(out, ".\n#include \"lab_todo.h\"\n");
            }
            puts_(out, line);
            if (w.line == 1 && metal) {   // a kernel: after its `// lab:` tag
                puts_(out, "// Your lab file: fill in each TODO. Generated by tools/mkskel from ");
                puts_(out, path);
                // a .metal file is compiled alone (no include path on a Mac): the marker is defined here
                puts_(out, ".\n// LAB_TODO_KERNEL(dst): stores a NaN with payload 70D0 (\"TODO\"); the host reports it.\n"
                           "#define LAB_TODO_KERNEL(dst) (*(device uint *)&(dst) = 0x7fc070d0u)\n");
            }
        }
    }
    fclose(f);
    if (inside) die(start, "region never closed: ", task);
    free(hints.text);
    free(repl.text);
    return any;
}

// A file in a lab folder (.c at its top, .metal in its shaders/) with no source of the same name
// is left over.
static int stale_in(const char *dir, const char *ext, const char *src_dir, char **names, size_t n) {
    int stale = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name), elen = strlen(ext);
        if (len <= elen || strcmp(e->d_name + len - elen, ext) != 0) continue;
        bool known = false;
        for (size_t i = 0; i < n && !known; i++) known = strcmp(names[i], e->d_name) == 0;
        if (!known) {
            fprintf(stderr, "DRIFT: %s/%s has no source in %s/; remove it or restore its source\n",
                    dir, e->d_name, src_dir);
            stale = 1;
        }
    }
    if (d) closedir(d);
    return stale;
}

static size_t list_dir(const char *dir, const char *ext, char **names, size_t max);

static int stale_files(const char *labs, const char *sol, const char *shaders, char **kernels, size_t nk) {
    int stale = 0;
    DIR *top = opendir(labs);
    struct dirent *lab;
    while (top && (lab = readdir(top))) {
        if (lab->d_name[0] != 'm') continue;
        char dir[1024], src_dir[1024], *names[256];
        snprintf(dir, sizeof dir, "%s/%s", labs, lab->d_name);
        snprintf(src_dir, sizeof src_dir, "%s/%s", sol, lab->d_name);
        size_t n = list_dir(src_dir, ".c", names, 128);
        n += list_dir(src_dir, ".h", names + n, 128);
        stale |= stale_in(dir, ".c", src_dir, names, n);
        stale |= stale_in(dir, ".h", src_dir, names, n);
        for (size_t i = 0; i < n; i++) free(names[i]);
        snprintf(dir, sizeof dir, "%s/%s/shaders", labs, lab->d_name);
        stale |= stale_in(dir, ".metal", shaders, kernels, nk);
    }
    if (top) closedir(top);
    return stale;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// The sorted names of the files in dir ending in ext (at most max); 0 when dir does not exist.
static size_t list_dir(const char *dir, const char *ext, char **names, size_t max) {
    DIR *d = opendir(dir);
    size_t n = 0, elen = strlen(ext);
    struct dirent *e;
    while (d && (e = readdir(d)) && n < max) {
        size_t len = strlen(e->d_name);
        if (len > elen && strcmp(e->d_name + len - elen, ext) == 0) names[n++] = strdup(e->d_name);
    }
    if (d) closedir(d);
    qsort(names, n, sizeof *names, by_name);
    return n;
}

typedef enum { WRITE, CHECK, TASKS } Mode;

// Writes `out` to dst, or (CHECK) compares them. Returns 1 on drift.
static int emit(const char *src, const char *labs, const char *lab, const char *subdir, const char *name,
                const Buf *out, Mode how);

// A lab header: copied with a first line that names its source.
static int copy_header(const char *dir, const char *name, const char *labs, const char *lab, Mode how) {
    char src[2400], line[MAX_LINE];
    snprintf(src, sizeof src, "%s/%s", dir, name);
    FILE *f = fopen(src, "r");
    if (!f) { fprintf(stderr, "mkskel: %s: %s\n", src, strerror(errno)); exit(2); }
    Buf out = {0};
    puts_(&out, "// Your lab's contract, copied by tools/mkskel from ");
    puts_(&out, src);
    puts_(&out, " (do not edit: make skeletons rewrites it).\n");
    while (fgets(line, sizeof line, f)) puts_(&out, line);
    fclose(f);
    int drift = emit(src, labs, lab, "", name, &out, how);
    free(out.text);
    return drift;
}

// One source file: its skeleton written to (or compared with) labs/<lab>/<subdir><name>. Returns
// 1 on drift. lab NULL (a kernel): the file's `// lab:` tag names it; a .metal file without one
// is no lab's.
static int process(const char *dir, const char *name, const char *labs, const char *subdir,
                   const char *lab, bool metal, Mode how) {
    char src[2400], first[MAX_LINE] = "", tagged[128];
    snprintf(src, sizeof src, "%s/%s", dir, name);
    if (!lab) {
        FILE *f = fopen(src, "r");
        if (!f || !fgets(first, sizeof first, f)) first[0] = '\0';
        if (f) fclose(f);
        if (!lab_tag(first, tagged, sizeof tagged) || strcmp(tagged, "none") == 0) return 0;
        lab = tagged;
    }
    if (how == TASKS) { skeleton(src, lab, NULL, true, metal); return 0; }
    Buf out = {0};
    puts_(&out, "");
    if (!skeleton(src, lab, &out, false, metal)) { free(out.text); return 0; }
    int drift = emit(src, labs, lab, subdir, name, &out, how);
    free(out.text);
    return drift;
}

static int emit(const char *src, const char *labs, const char *lab, const char *subdir, const char *name,
                const Buf *outp, Mode how) {
    const Buf out = *outp;
    char dst[4096];
    snprintf(dst, sizeof dst, "%s/%s/%s%s", labs, lab, subdir, name);
    int drift = 0;
    if (how == CHECK) {
        FILE *g = fopen(dst, "r");
        Buf have = {0};
        char chunk[4096];
        size_t r;
        while (g && (r = fread(chunk, 1, sizeof chunk, g)) > 0) put(&have, chunk, r);
        if (g) fclose(g);
        if (!g || have.len != out.len || memcmp(have.text, out.text, out.len) != 0) {
            fprintf(stderr, "DRIFT: %s is not what tools/mkskel makes from %s; run `make skeletons` "
                            "and commit the result\n", dst, src);
            drift = 1;
        }
        free(have.text);
    } else {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", labs, lab);
        mkdir(labs, 0755);
        mkdir(path, 0755);
        if (subdir[0]) {
            snprintf(path, sizeof path, "%s/%s/%.*s", labs, lab, (int)strlen(subdir) - 1, subdir);
            mkdir(path, 0755);
        }
        AtomicFile file;   // a learner's file is replaced whole or not at all
        FILE *g = atomic_file_open(&file, dst, "w");
        if (!g) exit(2);
        fwrite(out.text, 1, out.len, g);
        if (atomic_file_commit(&file) != 0) exit(2);
    }
    return drift;
}

int main(int argc, char **argv) {
    bool check = argc == 4 && strcmp(argv[1], "--check") == 0;
    bool tasks = argc == 3 && strcmp(argv[1], "--tasks") == 0;
    if (!(argc == 3 || check)) {
        fprintf(stderr, "usage: mkskel [--check] SOLUTIONS_DIR LABS_DIR | --tasks SOLUTIONS_DIR\n");
        return 2;
    }
    const char *sol = argv[argc - (tasks ? 1 : 2)], *labs = tasks ? NULL : argv[argc - 1];
    Mode how = tasks ? TASKS : check ? CHECK : WRITE;
    // the kernels live beside the solutions: "solutions" -> "shaders", "/x/solutions/" -> "/x/shaders"
    char shaders[1024];
    size_t len = strlen(sol);
    while (len > 1 && sol[len - 1] == '/') len--;
    size_t cut = len;
    while (cut > 0 && sol[cut - 1] != '/') cut--;
    snprintf(shaders, sizeof shaders, "%.*sshaders", (int)cut, sol);
    DIR *d = opendir(sol);
    if (!d) { fprintf(stderr, "mkskel: %s: %s\n", sol, strerror(errno)); return 2; }
    char *labs_found[64];
    size_t nl = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nl < 64)   // lab folders: mN-name (cli/ is no lab's)
        if (e->d_name[0] == 'm' && e->d_name[1] >= '0' && e->d_name[1] <= '9' && e->d_name[2] == '-')
            labs_found[nl++] = strdup(e->d_name);
    closedir(d);
    qsort(labs_found, nl, sizeof *labs_found, by_name);
    int drift = 0;
    for (size_t l = 0; l < nl; l++) {
        char dir[1200], *names[256];
        snprintf(dir, sizeof dir, "%s/%s", sol, labs_found[l]);
        size_t n = list_dir(dir, ".c", names, 256);
        for (size_t i = 0; i < n; i++) drift |= process(dir, names[i], labs, "", labs_found[l], false, how);
        for (size_t i = 0; i < n; i++) free(names[i]);
        n = how == TASKS ? 0 : list_dir(dir, ".h", names, 256);
        for (size_t i = 0; i < n; i++) drift |= copy_header(dir, names[i], labs, labs_found[l], how);
        for (size_t i = 0; i < n; i++) free(names[i]);
        free(labs_found[l]);
    }
    char *kernels[256];
    size_t nk = list_dir(shaders, ".metal", kernels, 256);
    for (size_t i = 0; i < nk; i++) drift |= process(shaders, kernels[i], labs, "shaders/", NULL, true, how);
    if (check) drift |= stale_files(labs, sol, shaders, kernels, nk);
    for (size_t i = 0; i < nk; i++) free(kernels[i]);
    return drift;
}
