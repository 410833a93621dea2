// mkbook: the book's build and its consistency check.
//
//     mkbook --check BOOK_DIR     checks everything below; prints the errors, exits 1 on any
//     mkbook BOOK_DIR OUT_DIR     writes OUT_DIR/*.html (through cmark-gfm), style.css, img/,
//                                 assets/ (book.js, and search-index.js built here)
//
// Chapters quote code from the solutions at build time, so the book and the code cannot drift:
//
//     {{code FILE TAG}}        a book-only region `//[ TAG` ... `//]`: context the learner does not
//                              write. May be indented (inside a list item); the indentation is kept.
//     {{reference FILE TAG}}   a task region `//> Mn TAG` ... `//<`, rendered as a collapsed
//                              <details> block, closed by default; on its own line, at column 0.
//
// Quoting a task with {{code}} would print the answer under the task's own heading, so --check
// rejects it (and rendering falls back to the collapsed block). FILE is a path from the repository
// root; `solutions/x.c` and `solutions/<lab>/x.c` both find the file wherever it lives now.
//
// The site (mkbook_site.c, mkbook_page.c): chapters in the order index, m0..m7, appendix-*,
// glossary, then any other; each page gets previous/next links, a table of contents of its h2-h4
// headings, GitHub's heading ids (so `chapter.md#measured-speed` works on GitHub and on the site),
// build-time syntax colouring (mkbook_highlight.c), offline search (assets/search-index.js), and
// links for plain-text references to chapters in prose or inline code (`book/m2-forward.md#matmul`,
// `m2-forward.md`). A link in the map whose text is the chapter's file name shows its title.
//
// Glossary: book/glossary.md, when present, holds one level-3 heading per term, `### term` (the
// term in plain text; its id is the heading's slug, e.g. `### KV cache` -> #kv-cache). The first
// use of each term in every other chapter (whole words, any case, a plural `s` allowed; not in
// headings, links or code) links to glossary.html#slug.
//
// --check fails on: a quote that does not resolve, a task quoted with {{code}}, a task without its
// `<a id="TASK">`, an unexpanded `{{` in a chapter's text, a broken relative link or anchor in the
// book, and any `book/X.md#anchor` cited in the repository (solutions/ shared/ shaders/ labs/
// tools/ book/ README.md DEVELOPERS.md; also through `#define ANCHOR(task) "book/X.md#" task`)
// whose chapter or anchor does not exist.
#define _POSIX_C_SOURCE 200809L  // popen, pclose
#include "mkbook.h"
#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_LINE 4096

char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc(n > 0 ? (size_t)n + 1 : 1);
    if (n < 0 || fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
    s[n] = '\0';
    fclose(f);
    return s;
}

void buf_add(StrBuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2 + 256;
        b->s = realloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

void buf_str(StrBuf *b, const char *s) { buf_add(b, s, strlen(s)); }

void buf_fmt(StrBuf *b, const char *fmt, ...) {
    char small[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) { buf_add(b, small, (size_t)n); return; }
    char *big = malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf_add(b, big, (size_t)n);
    free(big);
}

void buf_html(StrBuf *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const char *e = s[i] == '<' ? "&lt;" : s[i] == '>' ? "&gt;" : s[i] == '&' ? "&amp;" : s[i] == '"' ? "&quot;" : NULL;
        if (e) buf_str(b, e);
        else buf_add(b, s + i, 1);
    }
}

void buf_free(StrBuf *b) { free(b->s); *b = (StrBuf){0}; }

void list_add(StrList *l, const char *s, size_t n) {
    if (l->n == l->cap) l->v = realloc(l->v, (l->cap = l->cap * 2 + 32) * sizeof *l->v);
    l->v[l->n] = malloc(n + 1);
    memcpy(l->v[l->n], s, n);
    l->v[l->n++][n] = '\0';
}

bool list_has(const StrList *l, const char *s, size_t n) {
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->v[i]) == n && memcmp(l->v[i], s, n) == 0) return true;
    return false;
}

void list_free(StrList *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    *l = (StrList){0};
}

static const char *skip_ws(const char *s) {
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

// Where FILE lives now. The solutions are moving from `solutions/x.c` to `solutions/<lab>/x.c`;
// a chapter written against either layout finds the file in both.
static bool resolve(const char *file, char *out, size_t cap) {
    if (is_file(file)) return snprintf(out, cap, "%s", file) < (int)cap;
    if (strncmp(file, "solutions/", 10) != 0) return false;
    const char *base = strrchr(file, '/') + 1;
    if (snprintf(out, cap, "solutions/%s", base) < (int)cap && is_file(out)) return true;
    DIR *d = opendir("solutions");
    struct dirent *e;
    bool found = false;
    while (d && !found && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        found = snprintf(out, cap, "solutions/%s/%s", e->d_name, base) < (int)cap && is_file(out);
    }
    if (d) closedir(d);
    return found;
}

typedef enum { REGION_NONE, REGION_TASK, REGION_BOOK } region_kind;

// The code of region TAG in FILE (markers, hints and replacement lines left out), de-indented by the
// marker's indentation; NULL when there is no such region. *kind says whether it is a task.
static char *region(const char *file, const char *tag, region_kind *kind) {
    *kind = REGION_NONE;
    FILE *f = fopen(file, "r");
    if (!f) return NULL;
    char line[MAX_LINE], name[128];
    size_t cap = 1 << 16, len = 0, indent = 0;
    char *out = NULL;
    while (fgets(line, sizeof line, f)) {
        const char *p = skip_ws(line);
        if (!out) {
            bool open_task = strncmp(p, "//>", 3) == 0 && sscanf(p + 3, " %*s %127s", name) == 1;
            bool open_book = strncmp(p, "//[", 3) == 0 && sscanf(p + 3, " %127s", name) == 1;
            if ((open_task || open_book) && strcmp(name, tag) == 0) {
                *kind = open_task ? REGION_TASK : REGION_BOOK;
                indent = (size_t)(p - line);
                out = malloc(cap);
            }
            continue;
        }
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

typedef struct { char lab[64], id[16], task[128], file[512]; } task;

// The chapter (without .md) of lab ID `M6`: the BOOK/m6-*.md file; "" when there is none.
static void lab_of_id(const char *book, const char *id, char *lab, size_t cap) {
    lab[0] = '\0';
    DIR *d = opendir(book);
    struct dirent *e;
    size_t k = strlen(id);
    while (d && (e = readdir(d))) {
        bool same = k > 0 && strlen(e->d_name) > k;
        for (size_t i = 0; same && i < k; i++) same = tolower((unsigned char)e->d_name[i]) == tolower((unsigned char)id[i]);
        if (same && e->d_name[k] == '-' && ends_with(e->d_name, ".md")) {
            snprintf(lab, cap, "%.*s", (int)(strlen(e->d_name) - 3), e->d_name);
            break;
        }
    }
    if (d) closedir(d);
}

// Every `//> Mn task` region in the DIR files ending in one of SUFFIXES. The lab is FOLDER_LAB (a
// per-lab folder), else the file's `// lab:` tag, else the chapter the marker's id names.
static size_t scan_tasks(const char *book, const char *dir_name, const char *folder_lab, const char *const *suffixes,
                         task *tasks, size_t n, size_t max) {
    DIR *d = opendir(dir_name);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        bool wanted = false;
        for (const char *const *s = suffixes; *s; s++) wanted |= ends_with(e->d_name, *s);
        if (!wanted) continue;
        char path[512], line[MAX_LINE], tag_lab[64] = "";
        snprintf(path, sizeof path, "%s/%s", dir_name, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(line, sizeof line, f)) sscanf(line, "// lab: %63s", tag_lab);
        while (fgets(line, sizeof line, f) && n < max) {
            const char *p = skip_ws(line);
            task *t = &tasks[n];
            if (strncmp(p, "//>", 3) != 0 || sscanf(p + 3, " %15s %127s", t->id, t->task) != 2) continue;
            if (folder_lab) snprintf(t->lab, sizeof t->lab, "%s", folder_lab);
            else if (tag_lab[0]) snprintf(t->lab, sizeof t->lab, "%s", tag_lab);
            else lab_of_id(book, t->id, t->lab, sizeof t->lab);
            snprintf(t->file, sizeof t->file, "%s", path);
            n++;
        }
        fclose(f);
    }
    if (d) closedir(d);
    return n;
}

// The learner's tasks: regions in the C solutions (flat or in per-lab folders) and in the shaders.
static size_t list_tasks(const char *book, task *tasks, size_t max) {
    static const char *const c_files[] = {".c", ".h", NULL}, *const metal[] = {".metal", NULL};
    size_t n = scan_tasks(book, "solutions", NULL, c_files, tasks, 0, max);
    DIR *d = opendir("solutions");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char sub[512];
        snprintf(sub, sizeof sub, "solutions/%s", e->d_name);
        if (e->d_name[0] != '.' && is_dir(sub)) n = scan_tasks(book, sub, e->d_name, c_files, tasks, n, max);
    }
    if (d) closedir(d);
    return scan_tasks(book, "shaders", NULL, metal, tasks, n, max);
}

// Writes CODE as a fenced block, every line prefixed by INDENT (keeps a quote inside a list item).
static void put_code(FILE *out, const char *indent, const char *file, const char *tag, const char *code) {
    const char *lang = ends_with(file, ".metal") ? "cpp" : "c";
    fprintf(out, "%s```%s\n%s// %s — %s\n", indent, lang, indent, file, tag);
    for (const char *p = code; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
        fprintf(out, "%s%.*s", n > 1 ? indent : "", (int)n, p);
        p += n;
    }
    fprintf(out, "%s```\n", indent);
}

// Expands the quotes of one chapter into `out`; with out NULL it only checks (and a task quoted
// with {{code}} is an error). Returns the error count.
int expand_quotes(const char *chapter, FILE *out, bool strict) {
    char *text = slurp(chapter);
    if (!text) { fprintf(stderr, "%s: cannot read\n", chapter); return 1; }
    int errors = 0, line_no = 1;
    bool in_fence = false;
    for (char *p = text; *p; line_no++) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
        const char *q = skip_ws(p);
        int indent = (int)(q - p);
        char file[256], tag[128], path[512], kw[16], indent_str[64];
        bool is_code = strncmp(q, "{{code ", 7) == 0, is_ref = strncmp(q, "{{reference ", 12) == 0;
        if (strncmp(q, "```", 3) == 0 || strncmp(q, "~~~", 3) == 0) in_fence = !in_fence;
        if (in_fence || !(is_code || is_ref) || indent >= (int)sizeof indent_str) {
            if (out) fwrite(p, 1, n, out);
            p += n;
            continue;
        }
        snprintf(kw, sizeof kw, "%s", is_code ? "code" : "reference");
        snprintf(indent_str, sizeof indent_str, "%.*s", indent, p);
        region_kind kind = REGION_NONE;
        char *code = NULL;
        char line[MAX_LINE], close[4] = "";
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), q);
        if (sscanf(line + (is_code ? 7 : 12), "%255s %127[^} \n]%3s", file, tag, close) != 3 || strncmp(close, "}}", 2) != 0) {
            fprintf(stderr, "%s:%d: malformed quote, want {{%s FILE TAG}}\n", chapter, line_no, kw);
            errors++;
        } else if (!resolve(file, path, sizeof path) || !(code = region(path, tag, &kind))) {
            fprintf(stderr, "%s:%d: quote {{%s %s %s}}: %s has no region %s\n", chapter, line_no, kw, file, tag, file, tag);
            errors++;
        } else if (is_code && kind == REGION_TASK && strict) {
            fprintf(stderr, "%s:%d: {{code %s %s}} prints the reference body of task %s inline; use {{reference ...}}\n",
                    chapter, line_no, file, tag, tag);
            errors++;
        } else if (is_ref && kind != REGION_TASK && strict) {
            fprintf(stderr, "%s:%d: {{reference %s %s}}: %s is not a task region (//> Mn %s); quote it with {{code ...}}\n",
                    chapter, line_no, file, tag, tag, tag);
            errors++;
        } else if (is_ref && indent > 0 && strict) {
            fprintf(stderr, "%s:%d: {{reference %s %s}} must start at column 0, on its own line\n", chapter, line_no, file, tag);
            errors++;
        } else if (out && (is_ref || kind == REGION_TASK)) {
            if (is_code) fprintf(stderr, "%s:%d: warning: task %s quoted inline; rendered collapsed\n", chapter, line_no, tag);
            fprintf(out, "%s<details class=\"reference\"><summary>Reference solution for %s (open it after your tests pass)</summary>\n\n",
                    indent_str, tag);
            put_code(out, indent_str, path, tag, code);
            fprintf(out, "\n%s</details>\n", indent_str);
        } else if (out) {
            put_code(out, indent_str, path, tag, code);
        }
        free(code);
        p += n;
    }
    free(text);
    return errors;
}

int check_task_anchors(const char *book) {
    int errors = 0;
    static task tasks[2048];
    size_t n = list_tasks(book, tasks, 2048);
    for (size_t i = 0; i < n; i++) {
        char path[512], anchor[200], id_lab[64];
        lab_of_id(book, tasks[i].id, id_lab, sizeof id_lab);
        if (strcmp(id_lab, tasks[i].lab) != 0) {
            fprintf(stderr, "%s: task %s is marked %s but the file belongs to lab %s\n", tasks[i].file, tasks[i].task,
                    tasks[i].id, tasks[i].lab[0] ? tasks[i].lab : "(none)");
            errors++;
            continue;
        }
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
    if (!errors) printf("book: %zu tasks anchored\n", n);
    return errors;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--check") == 0) return book_check(argv[2]) ? 1 : 0;
    if (argc == 3) return book_render(argv[1], argv[2]) ? 1 : 0;
    fprintf(stderr, "usage: mkbook --check BOOK_DIR | mkbook BOOK_DIR OUT_DIR\n");
    return 2;
}
