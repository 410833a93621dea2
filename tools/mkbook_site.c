// mkbook: the whole site. Loads every chapter (quotes expanded, through cmark-gfm), processes it
// (mkbook_page.c), then checks its links and the repository's references into the book, or writes
// the pages, the search index and the assets.
#define _XOPEN_SOURCE 700  // popen, pclose, mkdtemp, realpath
#include "mkbook.h"
#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"

const Chapter *book_find(const Book *bk, const char *name, size_t n) {
    for (size_t i = 0; i < bk->n; i++)
        if (strlen(bk->ch[i].name) == n && memcmp(bk->ch[i].name, name, n) == 0) return &bk->ch[i];
    return NULL;
}

// Reading order: index, m0..m7, appendices, glossary, then anything else by name.
static int order_rank(const char *name) {
    if (strcmp(name, "index") == 0) return 0;
    if (name[0] == 'm' && isdigit((unsigned char)name[1])) return 1;
    if (strncmp(name, "appendix", 8) == 0) return 2;
    if (strcmp(name, "glossary") == 0) return 3;
    return 4;
}

static int by_order(const void *a, const void *b) {
    const Chapter *x = a, *y = b;
    int rx = order_rank(x->name), ry = order_rank(y->name);
    return rx != ry ? rx - ry : strcmp(x->name, y->name);
}

static char *run_cmark(const char *md_path) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cmark-gfm --unsafe -e table -e autolink -e strikethrough '%s'", md_path);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    StrBuf b = {0};
    char chunk[1 << 14];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, p)) > 0) buf_add(&b, chunk, got);
    if (pclose(p) != 0 || !b.s) { buf_free(&b); return NULL; }
    return b.s;
}

// Every chapter of DIR, expanded and converted, in reading order, glossary terms collected and
// every page processed. Returns the error count.
static int book_load(Book *bk, const char *dir, bool strict) {
    bk->dir = dir;
    int errors = 0;
    if (system("command -v cmark-gfm >/dev/null 2>&1") != 0) {
        fprintf(stderr, "mkbook: cmark-gfm is not installed (tools/setup.sh installs it)\n");
        return 1;
    }
    const char *tmp_root = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s/mkbook-XXXXXX", tmp_root);
    if (!mkdtemp(tmp)) { perror("mkbook: mkdtemp"); return 1; }
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!ends_with(e->d_name, ".md") || bk->n == MAX_CHAPTERS) continue;
        Chapter *c = &bk->ch[bk->n];
        *c = (Chapter){0};
        int stem = (int)(strlen(e->d_name) - 3);   // without ".md"
        if (snprintf(c->name, sizeof c->name, "%.*s", stem, e->d_name) >= (int)sizeof c->name) {
            fprintf(stderr, "%s/%s: a chapter's name has at most %zu bytes\n", dir, e->d_name, sizeof c->name - 1);
            errors++;
            continue;
        }
        char src[512], md[700];
        snprintf(src, sizeof src, "%s/%s", dir, e->d_name);
        snprintf(md, sizeof md, "%s/%s", tmp, e->d_name);
        FILE *f = fopen(md, "w");
        if (!f) { fprintf(stderr, "mkbook: cannot write %s\n", md); errors++; continue; }
        errors += expand_quotes(src, f, strict);
        fclose(f);
        c->html = run_cmark(md);
        remove(md);
        if (!c->html) { fprintf(stderr, "%s: cmark-gfm failed\n", src); errors++; continue; }
        bk->n++;
    }
    if (d) closedir(d);
    rmdir(tmp);
    qsort(bk->ch, bk->n, sizeof *bk->ch, by_order);
    // titles first (the map shows them), then the glossary (its terms link from the others)
    for (size_t i = 0; i < bk->n; i++) {
        const char *h = strstr(bk->ch[i].html, "<h1>"), *end = h ? strstr(h, "</h1>") : NULL;
        StrBuf t = {0};
        for (const char *p = h ? h + 4 : ""; end && p < end; p++) {
            if (*p == '<') { p = strchr(p, '>'); continue; }
            buf_add(&t, p, 1);
        }
        // A heading too long for the title (map, page title, search) is refused, not cut silently.
        Chapter *c = &bk->ch[i];
        int len = snprintf(c->title, sizeof c->title, "%s", t.s ? t.s : c->name);
        if (len < 0 || (size_t)len >= sizeof c->title) {
            fprintf(stderr, "%s/%s.md: the first heading is %d bytes, longer than the %zu a title may have\n", dir,
                    c->name, len, sizeof c->title - 1);
            errors++;
        }
        buf_free(&t);
    }
    Chapter *glossary = (Chapter *)book_find(bk, "glossary", 8);
    if (glossary) {
        page_process(bk, glossary);
        bk->terms = calloc(glossary->toc.n + 1, sizeof *bk->terms);
        for (size_t i = 0; i < glossary->toc.n; i++) {
            GlossTerm *t = &bk->terms[bk->n_terms];
            if (sscanf(glossary->toc.v[i], "3 %127s %127[^\n]", t->slug, t->term) == 2) bk->n_terms++;
        }
        // longest first: "KV cache" wins over "cache"
        for (size_t i = 1; i < bk->n_terms; i++)
            for (size_t j = i; j > 0 && strlen(bk->terms[j].term) > strlen(bk->terms[j - 1].term); j--) {
                GlossTerm swap = bk->terms[j];
                bk->terms[j] = bk->terms[j - 1], bk->terms[j - 1] = swap;
            }
    }
    for (size_t i = 0; i < bk->n; i++) {
        if (&bk->ch[i] != glossary) page_process(bk, &bk->ch[i]);
        errors += bk->ch[i].errors;
    }
    return errors;
}

// LINK (from chapter C) names a page, id or file that exists.
static bool link_ok(const Book *bk, const Chapter *c, const char *link) {
    const char *hash = strchr(link, '#');
    size_t path_len = hash ? (size_t)(hash - link) : strlen(link);
    const char *frag = hash ? hash + 1 : "";
    const Chapter *target = c;
    if (path_len > 0) {
        target = ends_with(link, ".html") || (hash && path_len > 5 && memcmp(hash - 5, ".html", 5) == 0)
                     ? book_find(bk, link, path_len - 5)
                     : NULL;
        if (!target) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%.*s", bk->dir, (int)path_len, link);
            return is_file(path) || is_dir(path);
        }
    }
    return !*frag || list_has(&target->ids, frag, strlen(frag));
}

// A cited `book/NAME.md#anchor` (anchor may be empty) exists; else one error line naming WHERE.
static int check_citation(const Book *bk, const char *where, int line, const char *name, size_t n, const char *anchor,
                          size_t k) {
    if (n == 4 && memcmp(name, "demo", 4) == 0) return 0;  // the harness's own test cites a made-up chapter
    const Chapter *c = book_find(bk, name, n);
    if (c && (k == 0 || list_has(&c->ids, anchor, k))) return 0;
    fprintf(stderr, "%s:%d: cites book/%.*s.md%s%.*s: %s\n", where, line, (int)n, name, k ? "#" : "", (int)k, anchor,
            c ? "no such anchor in that chapter" : "no such chapter");
    return 1;
}

static size_t name_end(const char *s) {
    size_t i = 0;
    while (islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-' || s[i] == '_') i++;
    return i;
}

static size_t anchor_end(const char *s) {
    size_t i = 0;
    while (isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_') i++;
    return i;
}

// The citations in one file: `book/NAME.md[#anchor]`, and `MACRO("anchor")` after
// `#define MACRO(task) "book/NAME.md#" task`.
static int check_file_citations(const Book *bk, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0 || st.st_size > (4 << 20)) return 0;
    char *text = slurp(path);
    if (!text || strlen(text) != (size_t)st.st_size) { free(text); return 0; }  // binary
    int errors = 0, line = 1;
    char macro[64] = "", macro_chapter[128] = "";
    for (const char *p = text; *p; p++) {
        if (*p == '\n') { line++; continue; }
        char m[64], ch[128];
        if (*p == '#' && sscanf(p, "#define %63[A-Za-z0-9_](%*[a-z]) \"book/%127[a-z0-9_-].md#\"", m, ch) == 2)
            snprintf(macro, sizeof macro, "%s", m), snprintf(macro_chapter, sizeof macro_chapter, "%s", ch);
        size_t k = strlen(macro);
        if (k && strncmp(p, macro, k) == 0 && strncmp(p + k, "(\"", 2) == 0 && (p == text || !isalnum((unsigned char)p[-1]))) {
            size_t a = anchor_end(p + k + 2);
            if (p[k + 2 + a] == '"') errors += check_citation(bk, path, line, macro_chapter, strlen(macro_chapter), p + k + 2, a);
        }
        if (strncmp(p, "book/", 5) != 0 || (p > text && (isalnum((unsigned char)p[-1]) || strchr("_-./", p[-1])))) continue;
        size_t n = name_end(p + 5);
        if (n == 0 || strncmp(p + 5 + n, ".md", 3) != 0) continue;
        const char *anchor = p + 5 + n + 3;
        size_t a = *anchor == '#' ? anchor_end(anchor + 1) : 0;
        errors += check_citation(bk, path, line, p + 5, n, anchor + 1, a);
    }
    free(text);
    return errors;
}

static int check_tree_citations(const Book *bk, const char *path) {
    if (is_file(path)) return check_file_citations(bk, path);
    DIR *d = opendir(path);
    if (!d) return 0;
    int errors = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        errors += check_tree_citations(bk, sub);
    }
    closedir(d);
    return errors;
}

static void book_free(Book *bk) {
    for (size_t i = 0; i < bk->n; i++) {
        Chapter *c = &bk->ch[i];
        free(c->html), buf_free(&c->body), buf_free(&c->search);
        list_free(&c->ids), list_free(&c->links), list_free(&c->toc);
    }
    free(bk->terms);
}

int book_check(const char *dir) {
    static Book bk;
    int errors = check_task_anchors(dir);
    errors += book_load(&bk, dir, true);
    size_t links = 0;
    for (size_t i = 0; i < bk.n; i++) {
        const Chapter *c = &bk.ch[i];
        for (size_t j = 0; j < c->links.n; j++, links++) {
            if (link_ok(&bk, c, c->links.v[j])) continue;
            fprintf(stderr, "%s/%s.md: broken link %s%s\n", dir, c->name, c->links.v[j],
                    strstr(c->links.v[j], ".html") ? " (a chapter.md link or reference, as the site names it)" : "");
            errors++;
        }
    }
    static const char *const CITING[] = {"solutions", "shared", "shaders", "labs", "tools", "book", "README.md", "DEVELOPERS.md", NULL};
    for (const char *const *p = CITING; *p; p++) errors += check_tree_citations(&bk, *p);
    if (errors) fflush(stdout), fprintf(stderr, "book: %d errors\n", errors);
    else
        printf("book: %zu pages: every quote, %zu links and every book/*.md#anchor cited in the repository resolve, "
               "no task quoted inline, no unexpanded {{\n",
               bk.n, links);
    book_free(&bk);
    return errors;
}

// 0, or 1 when it could not be written (message printed).
static int write_search_index(const Book *bk, const char *outdir) {
    char path[600];
    snprintf(path, sizeof path, "%s/assets/search-index.js", outdir);
    AtomicFile file;
    FILE *f = atomic_file_open(&file, path, "w");
    if (!f) return 1;
    fputs("// Written by tools/mkbook: [page, anchor, chapter, heading, text] per section.\nwindow.BOOK_INDEX = [\n", f);
    for (size_t i = 0; i < bk->n; i++)
        if (bk->ch[i].search.s) fputs(bk->ch[i].search.s, f);
    fputs("];\n", f);
    return atomic_file_commit(&file) != 0;
}

// The relative way from directory FROM to directory TO ("../../book/"), both made absolute.
static void way_between(const char *from, const char *to, char *out, size_t cap) {
    char a[4096], b[4096];
    out[0] = '\0';
    if (!realpath(from, a) || !realpath(to, b)) return;
    size_t common = 0;
    for (size_t i = 0; a[i] && a[i] == b[i]; i++)
        if ((a[i + 1] == '/' || a[i + 1] == '\0') && (b[i + 1] == '/' || b[i + 1] == '\0')) common = i + 1;
    StrBuf way = {0};
    for (const char *p = a + common; *p; p++)
        if (*p == '/') buf_str(&way, "../");
    if (b[common]) buf_fmt(&way, "%s/", b + common + 1);
    snprintf(out, cap, "%s", way.s ? way.s : "");
    buf_free(&way);
}

static void mkdir_p(const char *path) {
    char p[1024];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') *s = '\0', mkdir(p, 0755), *s = '/';
    mkdir(p, 0755);
}

int book_render(const char *dir, const char *outdir) {
    static Book bk;
    mkdir_p(outdir);
    way_between(outdir, dir, bk.site_to_book, sizeof bk.site_to_book);
    int errors = book_load(&bk, dir, false);
    char assets[600];
    snprintf(assets, sizeof assets, "%s/assets", outdir);
    mkdir(assets, 0755);
    for (size_t i = 0; i < bk.n; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/%s.html", outdir, bk.ch[i].name);
        AtomicFile file;
        FILE *out = atomic_file_open(&file, path, "w");
        if (!out) { errors++; continue; }
        page_write(out, &bk, i);
        errors += atomic_file_commit(&file) != 0;
    }
    errors += write_search_index(&bk, outdir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp '%s/style.css' '%s/' && for d in img assets; do [ ! -d '%s'/$d ] || cp -R '%s'/$d '%s/' || exit 1; done",
             dir, outdir, dir, dir, outdir);
    if (system(cmd) != 0) { fprintf(stderr, "mkbook: copying style.css, img/, assets/ failed\n"); errors++; }
    if (!errors) printf("book: rendered %zu pages into %s/index.html\n", bk.n, outdir);
    book_free(&bk);
    return errors;
}
