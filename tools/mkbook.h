// mkbook's parts: quotes and task anchors (mkbook.c), one page's HTML (mkbook_page.c), syntax
// colouring (mkbook_highlight.c), the whole site and its checks (mkbook_site.c).
#ifndef MKBOOK_H
#define MKBOOK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

// A growing string.
typedef struct { char *s; size_t n, cap; } StrBuf;
void buf_add(StrBuf *b, const char *s, size_t n);
void buf_str(StrBuf *b, const char *s);
void buf_fmt(StrBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_html(StrBuf *b, const char *s, size_t n);  // S with <, >, &, " escaped
void buf_free(StrBuf *b);

// A list of strings (ids, links, table-of-contents entries).
typedef struct { char **v; size_t n, cap; } StrList;
void list_add(StrList *l, const char *s, size_t n);
bool list_has(const StrList *l, const char *s, size_t n);
void list_free(StrList *l);

char *slurp(const char *path);
bool ends_with(const char *s, const char *suffix);
bool is_file(const char *path);
bool is_dir(const char *path);

// Expands the quotes of one chapter into OUT (may be NULL); STRICT (--check) also rejects a task
// quoted with {{code}} and an indented {{reference}}. Returns the error count.
int expand_quotes(const char *chapter, FILE *out, bool strict);
// Every task region has its `<a id="TASK">` in its chapter. Returns the error count.
int check_task_anchors(const char *book);

typedef struct {
    char name[128];   // "m0-tokenizer"
    char title[256];  // the first heading's text, HTML-escaped
    char *html;       // cmark-gfm's output
    StrBuf body;         // the page's main column, after page_process
    StrList ids;      // every id on the page
    StrList links;    // every relative href and src on the page (`other.html#id`, `#id`, `img/x.svg`)
    StrList toc;      // "LEVEL ID TEXT" per h2-h4 heading (TEXT escaped)
    StrBuf search;       // the page's search index entries (JavaScript array items)
    int errors;
} Chapter;

typedef struct { char term[128], slug[128]; } GlossTerm;

#define MAX_CHAPTERS 64
typedef struct {
    const char *dir;         // the book's sources (book/)
    char site_to_book[1024];  // "" or, when rendering, the way from the site back to dir ("../../book/"),
                              // so that a link out of the book (`../solutions/x.c`) works on the site
    Chapter ch[MAX_CHAPTERS];
    size_t n;
    GlossTerm *terms;  // from glossary.md's `### term` headings, longest first
    size_t n_terms;
} Book;

const Chapter *book_find(const Book *bk, const char *name, size_t n);
// Post-processes chapter C's cmark HTML: ids on headings, links, colouring, references, glossary.
void page_process(const Book *bk, Chapter *c);
// Writes chapter I as a whole page (head, navigation, contents, previous/next).
void page_write(FILE *out, const Book *bk, size_t i);
// A heading's id as GitHub makes it (see mkbook_page.c); USED collects the page's ids.
void heading_slug(const char *html, size_t n, StrList *used, char *out, size_t cap);
// Appends CODE (HTML-escaped, as cmark writes it) coloured for LANG ("" when unlabelled).
void highlight(StrBuf *out, const char *lang, const char *code, size_t n);

int book_check(const char *book);
int book_render(const char *book, const char *outdir);
#endif
