// mkskel: generates the learners' skeletons in labs/ from the reference code in solutions/.
//
// A solution file tagged `// lab: mN-name` that contains marker regions is copied to
// labs/mN-name/<file>, each region replaced by its hint comments and replacement lines:
//
//     //> M0 bpe-merge          start of a region: lab id and task (the task is the book anchor)
//     //? text                  a hint, kept in the skeleton as a comment
//     //= code                  a replacement line (default when none: `@TODO;`)
//     //<                       end of the region
//
// `@TODO` expands to LAB_TODO("M0", "bpe-merge", "book/m0-tokenizer.md#bpe-merge"). Lines `//[ tag`
// and `//]` (regions the book quotes) are dropped from skeletons.
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

#define MAX_LINE 4096

typedef struct {
    char *text;
    size_t len, cap;
} buf;

static void put(buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->text = realloc(b->text, b->cap);
        if (!b->text) { fprintf(stderr, "mkskel: out of memory\n"); exit(2); }
    }
    memcpy(b->text + b->len, s, n);
    b->len += n;
    b->text[b->len] = '\0';
}
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

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
} where;

_Noreturn static void die(where w, const char *msg, const char *arg) {
    fprintf(stderr, "%s:%d: mkskel: %s%s\n", w.path, w.line, msg, arg ? arg : "");
    exit(2);
}

// Emits the skeleton text of region lines [hints, replacements] at the marker's indentation.
static void emit_region(buf *out, const char *indent, const char *lab_id, const char *task,
                        const char *lab_dir, buf *hints, buf *repl, bool has_repl) {
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
static bool skeleton(const char *path, const char *lab_dir, buf *out, bool list_tasks) {
    FILE *f = fopen(path, "r");
    if (!f) { fprintf(stderr, "mkskel: %s: %s\n", path, strerror(errno)); exit(2); }
    char lab_id[8];
    if (lab_dir[0] != 'm' || strlen(lab_dir) < 2) die((where){path, 1}, "lab tag must look like mN-name: ", lab_dir);
    snprintf(lab_id, sizeof lab_id, "M%c", lab_dir[1]);
    char line[MAX_LINE], task[128] = "", indent[MAX_LINE] = "";
    buf hints = {0}, repl = {0};
    bool inside = false, has_repl = false, any = false;
    where w = {path, 0}, start = {path, 0};
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
            puts_(out, line);
            if (w.line == 1) {
                puts_(out, "// Your lab file: fill in each TODO. Generated by tools/mkskel from ");
                puts_(out, path);
                puts_(out, ".\n#include \"lab_todo.h\"\n");
            }
        }
    }
    fclose(f);
    if (inside) die(start, "region never closed: ", task);
    free(hints.text);
    free(repl.text);
    return any;
}

// A .c file at the top of a lab folder with no solution file of the same name is left over.
static int stale_files(const char *labs, const char *sol, char **names, size_t n) {
    int stale = 0;
    DIR *top = opendir(labs);
    struct dirent *lab;
    while (top && (lab = readdir(top))) {
        if (lab->d_name[0] != 'm') continue;
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", labs, lab->d_name);
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (len < 3 || strcmp(e->d_name + len - 2, ".c") != 0) continue;
            bool known = false;
            for (size_t i = 0; i < n && !known; i++) known = strcmp(names[i], e->d_name) == 0;
            if (!known) {
                fprintf(stderr, "DRIFT: %s/%s has no source in %s/; remove it or restore its solution\n",
                        dir, e->d_name, sol);
                stale = 1;
            }
        }
        if (d) closedir(d);
    }
    if (top) closedir(top);
    return stale;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
    bool check = argc == 4 && strcmp(argv[1], "--check") == 0;
    bool tasks = argc == 3 && strcmp(argv[1], "--tasks") == 0;
    if (!(argc == 3 || check)) {
        fprintf(stderr, "usage: mkskel [--check] SOLUTIONS_DIR LABS_DIR | --tasks SOLUTIONS_DIR\n");
        return 2;
    }
    const char *sol = argv[argc - (tasks ? 1 : 2)], *labs = tasks ? NULL : argv[argc - 1];
    DIR *d = opendir(sol);
    if (!d) { fprintf(stderr, "mkskel: %s: %s\n", sol, strerror(errno)); return 2; }
    char *names[1024];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 1024) {
        size_t len = strlen(e->d_name);
        if (len > 2 && strcmp(e->d_name + len - 2, ".c") == 0) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    int drift = 0;
    for (size_t i = 0; i < n; i++) {
        char src[1024], dst[1024], first[MAX_LINE] = "", lab[128];
        snprintf(src, sizeof src, "%s/%s", sol, names[i]);
        FILE *f = fopen(src, "r");
        if (!f || !fgets(first, sizeof first, f)) first[0] = '\0';
        if (f) fclose(f);
        if (!lab_tag(first, lab, sizeof lab)) {
            fprintf(stderr, "%s:1: mkskel: first line must be `// lab: mN-name` or `// lab: none`\n", src);
            return 2;
        }
        if (strcmp(lab, "none") == 0) continue;
        if (tasks) { skeleton(src, lab, NULL, true); continue; }
        buf out = {0};
        puts_(&out, "");
        if (!skeleton(src, lab, &out, false)) { free(out.text); continue; }
        snprintf(dst, sizeof dst, "%s/%s/%s", labs, lab, names[i]);
        if (check) {
            FILE *g = fopen(dst, "r");
            buf have = {0};
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
            char dir[1024];
            snprintf(dir, sizeof dir, "%s/%s", labs, lab);
            mkdir(labs, 0755);
            mkdir(dir, 0755);
            FILE *g = fopen(dst, "w");
            if (!g || fwrite(out.text, 1, out.len, g) != out.len || fclose(g) != 0) {
                fprintf(stderr, "mkskel: cannot write %s\n", dst);
                return 2;
            }
        }
        free(out.text);
    }
    if (check) drift |= stale_files(labs, sol, names, n);
    for (size_t i = 0; i < n; i++) free(names[i]);
    return drift;
}
