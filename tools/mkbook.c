// mkbook: the book's build and its consistency check.
//
// Chapters quote code only through `{{code solutions/FILE.c TAG}}`, where TAG is a lab task (a
// `//> Mn TAG` region) or a book-only region `//[ TAG` ... `//]`; the quote is taken from the
// solutions at build time, so the book and the code cannot drift apart.
//
//     mkbook --check BOOK_DIR     every quote resolves; every task has `<a id="TASK">` in its chapter
//     mkbook BOOK_DIR OUT_DIR     writes OUT_DIR/*.html (through cmark-gfm) with the quotes expanded
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_LINE 4096

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
    s[n] = '\0';
    fclose(f);
    return s;
}

static const char *skip_ws(const char *s) {
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

// The code of region TAG in FILE (markers, hints and replacement lines left out), de-indented by the
// marker's indentation; NULL when there is no such region.
static char *region(const char *file, const char *tag) {
    FILE *f = fopen(file, "r");
    if (!f) return NULL;
    char line[MAX_LINE], name[128];
    size_t cap = 1 << 16, len = 0, indent = 0;
    char *out = NULL;
    bool inside = false;
    while (fgets(line, sizeof line, f)) {
        const char *p = skip_ws(line);
        bool open_task = strncmp(p, "//>", 3) == 0 && sscanf(p + 3, " %*s %127s", name) == 1;
        bool open_book = strncmp(p, "//[", 3) == 0 && sscanf(p + 3, " %127s", name) == 1;
        if (!inside && (open_task || open_book) && strcmp(name, tag) == 0) {
            inside = true;
            indent = (size_t)(p - line);
            out = malloc(cap);
            continue;
        }
        if (!inside) continue;
        if (strncmp(p, "//<", 3) == 0 || strncmp(p, "//]", 3) == 0) break;
        if (strncmp(p, "//?", 3) == 0 || strncmp(p, "//=", 3) == 0 || strncmp(p, "//[", 3) == 0) continue;
        const char *text = strlen(line) > indent && (size_t)(p - line) >= indent ? line + indent : p;
        size_t n = strlen(text);
        if (len + n + 1 > cap) out = realloc(out, cap = (len + n + 1) * 2);
        memcpy(out + len, text, n);
        len += n;
    }
    fclose(f);
    if (out) out[len] = '\0';
    return out;
}

typedef struct { char lab[64], task[128], file[512]; } task;

// Every `//> Mn task` region in DIR/*SUFFIX files, with the lab its file is tagged with.
static size_t scan_tasks(const char *dir_name, const char *suffix, task *tasks, size_t n, size_t max) {
    DIR *d = opendir(dir_name);
    struct dirent *e;
    size_t slen = strlen(suffix);
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= slen || strcmp(e->d_name + len - slen, suffix) != 0) continue;
        char path[512], line[MAX_LINE], lab[64] = "";
        snprintf(path, sizeof path, "%s/%s", dir_name, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(line, sizeof line, f)) sscanf(line, "// lab: %63s", lab);
        while (fgets(line, sizeof line, f) && n < max) {
            const char *p = skip_ws(line);
            if (strncmp(p, "//>", 3) == 0 && sscanf(p + 3, " %*s %127s", tasks[n].task) == 1) {
                snprintf(tasks[n].lab, sizeof tasks[n].lab, "%s", lab);
                snprintf(tasks[n].file, sizeof tasks[n].file, "%s", path);
                n++;
            }
        }
        fclose(f);
    }
    if (d) closedir(d);
    return n;
}

// The learner's tasks: regions in the C solutions and in the Metal shaders.
static size_t list_tasks(task *tasks, size_t max) {
    size_t n = scan_tasks("solutions", ".c", tasks, 0, max);
    return scan_tasks("shaders", ".metal", tasks, n, max);
}

// Expands the quotes of one chapter into `out` (may be NULL: only check). Returns the error count.
static int expand(const char *chapter, FILE *out) {
    char *text = slurp(chapter);
    if (!text) { fprintf(stderr, "%s: cannot read\n", chapter); return 1; }
    int errors = 0, line_no = 1;
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
        char file[256], tag[128];
        if (strncmp(p, "{{code ", 7) == 0 && sscanf(p + 7, "%255s %127[^} ]", file, tag) == 2) {
            char *code = region(file, tag);
            if (!code) {
                fprintf(stderr, "%s:%d: quote {{code %s %s}} names no region in that file\n", chapter, line_no, file, tag);
                errors++;
            } else if (out) {
                fprintf(out, "```c\n// %s — %s\n%s```\n", file, tag, code);
            }
            free(code);
        } else if (out) {
            fwrite(p, 1, n, out);
        }
        p += n;
        line_no++;
    }
    free(text);
    return errors;
}

static int check(const char *book) {
    int errors = 0;
    static task tasks[2048];
    size_t n = list_tasks(tasks, 2048);
    for (size_t i = 0; i < n; i++) {
        char path[512], anchor[200];
        snprintf(path, sizeof path, "%s/%s.md", book, tasks[i].lab);
        char *text = slurp(path);
        snprintf(anchor, sizeof anchor, "<a id=\"%s\"></a>", tasks[i].task);
        if (!text) {
            fprintf(stderr, "%s: missing chapter (lab %s has tasks, e.g. %s in %s)\n", path, tasks[i].lab, tasks[i].task, tasks[i].file);
            errors++;
        } else if (!strstr(text, anchor)) {
            fprintf(stderr, "%s: no %s for task %s (%s)\n", path, anchor, tasks[i].task, tasks[i].file);
            errors++;
        }
        free(text);
    }
    DIR *d = opendir(book);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".md") != 0) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", book, e->d_name);
        errors += expand(path, NULL);
    }
    if (d) closedir(d);
    if (!errors) printf("book: %zu tasks anchored, every quote resolves\n", n);
    return errors ? 1 : 0;
}

static int render(const char *book, const char *outdir) {
    char cmd[2048];
    mkdir(outdir, 0755);
    DIR *d = opendir(book);
    struct dirent *e;
    int errors = 0;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".md") != 0) continue;
        char src[512], md[512], html[512];
        snprintf(src, sizeof src, "%s/%s", book, e->d_name);
        snprintf(md, sizeof md, "%s/%.*s.expanded.md", outdir, (int)(len - 3), e->d_name);
        snprintf(html, sizeof html, "%s/%.*s.html", outdir, (int)(len - 3), e->d_name);
        FILE *f = fopen(md, "w");
        if (!f) { fprintf(stderr, "cannot write %s\n", md); return 1; }
        errors += expand(src, f);
        fclose(f);
        // Links between chapters point at .md files in the repository and at .html on the site.
        snprintf(cmd, sizeof cmd,
                 "{ sed -n 's/^# \\(.*\\)/<!doctype html><meta charset=utf-8><title>\\1<\\/title>/p;q' '%s';"
                 " echo '<link rel=stylesheet href=style.css><nav><a href=index.html>protostar</a></nav><main>';"
                 " cmark-gfm --unsafe -e table -e autolink '%s' | sed 's/href=\"\\([a-z0-9-]*\\)\\.md/href=\"\\1.html/g';"
                 " echo '</main>'; } > '%s'", md, md, html);
        if (system(cmd) != 0) { fprintf(stderr, "rendering %s failed\n", src); errors++; }
        remove(md);
    }
    if (d) closedir(d);
    snprintf(cmd, sizeof cmd, "cp %s/style.css %s/ 2>/dev/null; [ -d %s/img ] && cp -r %s/img %s/; true", book, outdir, book, book, outdir);
    if (system(cmd) != 0) errors++;
    if (!errors) printf("book: rendered into %s/index.html\n", outdir);
    return errors ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--check") == 0) return check(argv[2]);
    if (argc == 3) return render(argv[1], argv[2]);
    fprintf(stderr, "usage: mkbook --check BOOK_DIR | mkbook BOOK_DIR OUT_DIR\n");
    return 2;
}
