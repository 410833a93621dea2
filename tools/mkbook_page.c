// mkbook: one chapter's HTML. cmark-gfm's output is walked once, tag by tag: headings get ids and
// feed the table of contents and the search index; code blocks are coloured; `x.md` links become
// `x.html`; plain-text references to chapters and the first use of each glossary term become
// links; every id and relative link is recorded for the checks (mkbook_site.c).
#define _POSIX_C_SOURCE 200809L
#include "mkbook.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>  // strncasecmp

// A heading's id as GitHub makes it, so `chapter.md#measured-speed` works there and on the site:
// the text without tags and entities, lowercased; letters, digits, '-' and '_' kept, spaces turned
// into '-', everything else dropped; a repeat gets -1, -2, ... (ids already in the page count).
void heading_slug(const char *html, size_t n, StrList *used, char *out, size_t cap) {
    size_t len = 0;
    for (size_t i = 0; i < n && len + 1 < cap; i++) {
        unsigned char c = (unsigned char)html[i];
        if (c == '<' || c == '&') {
            const char *end = memchr(html + i, c == '<' ? '>' : ';', n - i);
            if (end) { i = (size_t)(end - html); continue; }
        }
        if (isalnum(c) || c == '-' || c == '_') out[len++] = (char)tolower(c);
        else if (c == ' ') out[len++] = '-';
    }
    out[len] = '\0';
    if (used && list_has(used, out, len)) {
        char base[128];
        snprintf(base, sizeof base, "%s", out);
        for (int k = 1; list_has(used, out, strlen(out)); k++) snprintf(out, cap, "%.100s-%d", base, k);
    }
    if (used) list_add(used, out, strlen(out));
}

// HTML text without its tags (entities kept).
static void strip_tags(StrBuf *out, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '<') {
            const char *end = memchr(s + i, '>', n - i);
            if (end) { i = (size_t)(end - s); continue; }
        }
        buf_add(out, s + i, 1);
    }
}

// HTML text as plain text: tags dropped, the entities cmark writes decoded, runs of space collapsed.
static void plain_text(StrBuf *out, const char *s, size_t n) {
    StrBuf t = {0};
    strip_tags(&t, s, n);
    static const struct { const char *entity, *ch; } ENT[] = {
        {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}, {"&quot;", "\""}, {"&#39;", "'"}};
    for (size_t i = 0; i < t.n; i++) {
        size_t k = 0;
        for (; k < sizeof ENT / sizeof *ENT; k++) {
            size_t len = strlen(ENT[k].entity);
            if (i + len <= t.n && memcmp(t.s + i, ENT[k].entity, len) == 0) {
                buf_str(out, ENT[k].ch);
                i += len - 1;
                break;
            }
        }
        if (k < sizeof ENT / sizeof *ENT) continue;
        bool space = isspace((unsigned char)t.s[i]);
        if (space && (out->n == 0 || out->s[out->n - 1] == ' ')) continue;
        buf_add(out, space ? " " : t.s + i, 1);
    }
    buf_free(&t);
}

static void js_string(StrBuf *out, const char *s, size_t n) {
    buf_str(out, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') buf_fmt(out, "\\%c", c);
        else if (c < 0x20 || c == '<') buf_fmt(out, "\\u%04x", c);
        else buf_add(out, s + i, 1);
    }
    buf_str(out, "\"");
}

// A reference to a chapter at S: `book/NAME.md`, `NAME.md`, either with `#anchor`; its length, or 0.
static size_t match_reference(const Book *bk, const char *s, size_t n, const Chapter **ch, size_t *name_at,
                              size_t *name_len) {
    size_t i = n >= 5 && memcmp(s, "book/", 5) == 0 ? 5 : 0, j = i;
    while (j < n && (islower((unsigned char)s[j]) || isdigit((unsigned char)s[j]) || s[j] == '-' || s[j] == '_')) j++;
    if (j == i || j + 3 > n || memcmp(s + j, ".md", 3) != 0) return 0;
    if (j + 3 < n && (isalnum((unsigned char)s[j + 3]) || s[j + 3] == '_')) return 0;
    *ch = book_find(bk, s + i, j - i);
    *name_at = i, *name_len = j - i;
    size_t k = j + 3;
    if (k < n && s[k] == '#') {
        size_t a = k + 1;
        while (a < n && (isalnum((unsigned char)s[a]) || s[a] == '-' || s[a] == '_')) a++;
        if (a > k + 1) k = a;
    }
    return k;
}

static void put_reference_href(StrBuf *out, const char *ref, size_t len, size_t name_at, size_t name_len) {
    const char *hash = memchr(ref, '#', len);
    buf_add(out, ref + name_at, name_len);
    buf_str(out, ".html");
    if (hash) buf_add(out, hash, (size_t)(ref + len - hash));
}

typedef struct {
    const Book *bk;
    Chapter *c;
    bool *term_used;
    StrBuf section_text;
    char section_id[128];
    char heading_id[128];  // the open heading's, for its self-link
    StrBuf section_heading;
} PageWalk;

static void flush_section(PageWalk *w) {
    if (w->section_text.n == 0 && w->section_heading.n == 0) return;
    StrBuf title = {0};
    plain_text(&title, w->c->title, strlen(w->c->title));
    char page[160];
    snprintf(page, sizeof page, "%s.html", w->c->name);
    buf_str(&w->c->search, "[");
    js_string(&w->c->search, page, strlen(page));
    buf_str(&w->c->search, ",");
    js_string(&w->c->search, w->section_id, strlen(w->section_id));
    buf_str(&w->c->search, ",");
    js_string(&w->c->search, title.s ? title.s : "", title.n);
    buf_str(&w->c->search, ",");
    js_string(&w->c->search, w->section_heading.s ? w->section_heading.s : "", w->section_heading.n);
    buf_str(&w->c->search, ",");
    js_string(&w->c->search, w->section_text.s ? w->section_text.s : "", w->section_text.n);
    buf_str(&w->c->search, "],\n");
    buf_free(&title);
    w->section_text.n = w->section_heading.n = 0;
}

// Text outside code, headings and links: references and first uses of glossary terms become links.
static void put_prose(PageWalk *w, const char *s, size_t n) {
    StrBuf *out = &w->c->body;
    bool glossary_page = strcmp(w->c->name, "glossary") == 0;
    for (size_t i = 0; i < n;) {
        bool boundary = i == 0 || !(isalnum((unsigned char)s[i - 1]) || strchr("_/.-", s[i - 1]));
        const Chapter *ch = NULL;
        size_t at = 0, len = 0, ref = boundary ? match_reference(w->bk, s + i, n - i, &ch, &at, &len) : 0;
        if (ref && ch) {
            buf_str(out, "<a href=\"");
            put_reference_href(out, s + i, ref, at, len);
            buf_str(out, "\">");
            buf_add(out, s + i, ref);
            buf_str(out, "</a>");
            StrBuf href = {0};
            put_reference_href(&href, s + i, ref, at, len);
            list_add(&w->c->links, href.s, href.n);
            buf_free(&href);
            i += ref;
            continue;
        }
        if (ref && !ch && at == 5) {
            fprintf(stderr, "%s/%s.md: reference %.*s: no chapter %.*s.md\n", w->bk->dir, w->c->name, (int)ref, s + i, (int)len,
                    s + i + at);
            w->c->errors++;
        }
        size_t t = 0;
        for (; boundary && !glossary_page && t < w->bk->n_terms; t++) {
            size_t k = strlen(w->bk->terms[t].term);
            if (w->term_used[t] || k > n - i || strncasecmp(s + i, w->bk->terms[t].term, k) != 0) continue;
            if (k < n - i && s[i + k] == 's') k++;
            else if (k + 1 < n - i && s[i + k] == 'e' && s[i + k + 1] == 's') k += 2;
            if (k < n - i && (isalnum((unsigned char)s[i + k]) || s[i + k] == '_')) continue;
            buf_fmt(out, "<a class=\"gloss\" href=\"glossary.html#%s\" title=\"in the glossary\">", w->bk->terms[t].slug);
            buf_add(out, s + i, k);
            buf_str(out, "</a>");
            StrBuf href = {0};
            buf_fmt(&href, "glossary.html#%s", w->bk->terms[t].slug);
            list_add(&w->c->links, href.s, href.n);
            buf_free(&href);
            w->term_used[t] = true;
            i += k;
            break;
        }
        if (t < w->bk->n_terms && boundary && !glossary_page) continue;
        buf_add(out, s + i, 1);
        i++;
    }
}

// The value of attribute NAME in the tag TAG[0..n), or NULL; *len its length.
static const char *attr(const char *tag, size_t n, const char *name, size_t *len) {
    size_t k = strlen(name);
    for (size_t i = 1; i + k + 2 < n; i++) {
        if (tag[i - 1] == ' ' && memcmp(tag + i, name, k) == 0 && tag[i + k] == '=' && tag[i + k + 1] == '"') {
            const char *v = tag + i + k + 2, *end = memchr(v, '"', (size_t)(tag + n - v));
            if (!end) return NULL;
            *len = (size_t)(end - v);
            return v;
        }
    }
    return NULL;
}

static bool relative_url(const char *v, size_t n) {
    for (size_t i = 0; i < n && v[i] != '/' && v[i] != '#'; i++)
        if (v[i] == ':') return false;  // http:, mailto:, data:
    return n > 0 && v[0] != '/';
}

// Copies an opening tag, `x.md` in its href sent to `x.html`; records its id and relative link.
static void put_tag(PageWalk *w, const char *tag, size_t n, const char **rest) {
    StrBuf *out = &w->c->body;
    size_t len;
    const char *v = attr(tag, n, "href", &len);
    if (!v) v = attr(tag, n, "src", &len);
    if (!v || !relative_url(v, len)) { buf_add(out, tag, n); return; }
    StrBuf href = {0};
    const Chapter *ch = NULL;
    size_t at = 0, name_len = 0, ref = match_reference(w->bk, v, len, &ch, &at, &name_len);
    if (ref == len && at == 0) put_reference_href(&href, v, len, at, name_len);
    else buf_add(&href, v, len);
    buf_add(out, tag, (size_t)(v - tag));
    if (strncmp(v, "../", 3) == 0) buf_str(out, w->bk->site_to_book);
    buf_add(out, href.s, href.n);
    buf_add(out, v + len, (size_t)(tag + n - v - len));
    list_add(&w->c->links, href.s, href.n);
    // a map entry [m0-tokenizer](m0-tokenizer.md) shows the chapter's title
    if (ch && ref == len && strncmp(*rest, ch->name, strlen(ch->name)) == 0 && strncmp(*rest + strlen(ch->name), "</a>", 4) == 0) {
        buf_str(out, ch->title);
        *rest += strlen(ch->name);
    }
    buf_free(&href);
}

static void put_heading(PageWalk *w, int level, const char *inner, size_t n) {
    char id[128];
    heading_slug(inner, n, &w->c->ids, id, sizeof id);
    buf_fmt(&w->c->body, "<h%d id=\"%s\">", level, id);
    snprintf(w->heading_id, sizeof w->heading_id, "%s", level > 1 ? id : "");
    StrBuf text = {0};
    strip_tags(&text, inner, n);
    if (level == 1 && !w->c->title[0]) snprintf(w->c->title, sizeof w->c->title, "%.*s", (int)text.n, text.s);
    if (level >= 2 && level <= 4) {
        StrBuf e = {0};
        buf_fmt(&e, "%d %s %.*s", level, id, (int)text.n, text.s);
        list_add(&w->c->toc, e.s, e.n);
        buf_free(&e);
    }
    if (level <= 3) {
        flush_section(w);
        snprintf(w->section_id, sizeof w->section_id, "%s", level == 1 ? "" : id);
        plain_text(&w->section_heading, inner, n);
    }
    buf_free(&text);
}

void page_process(const Book *bk, Chapter *c) {
    PageWalk w = {.bk = bk, .c = c, .term_used = calloc(bk->n_terms + 1, sizeof(bool))};
    const char *s = c->html;
    // ids written in the chapter itself (`<a id="task">`) come first: a heading never takes one
    for (const char *p = s; (p = strstr(p, " id=\""));) {
        p += 5;
        const char *end = strchr(p, '"');
        if (!end) break;
        list_add(&c->ids, p, (size_t)(end - p));
    }
    int in_a = 0, in_heading = 0;
    while (*s) {
        if (*s != '<') {
            const char *end = strchr(s, '<');
            size_t n = end ? (size_t)(end - s) : strlen(s);
            const char *braces = memmem(s, n, "{{", 2);
            if (braces) {
                const char *eol = memchr(braces, '\n', (size_t)(s + n - braces));
                fprintf(stderr, "%s/%s.md: unexpanded quote or stray braces: %.*s\n", bk->dir, c->name,
                        (int)((eol ? eol : s + n) - braces > 80 ? 80 : (eol ? eol : s + n) - braces), braces);
                c->errors++;
            }
            plain_text(&w.section_text, s, n);
            if (in_a || in_heading) buf_add(&c->body, s, n);
            else put_prose(&w, s, n);
            s += n;
            continue;
        }
        const char *gt = strchr(s, '>');
        if (!gt) { buf_str(&c->body, s); break; }
        size_t n = (size_t)(gt - s) + 1;
        const char *rest = gt + 1;
        if (strncmp(s, "<pre", 4) == 0 && (s[4] == '>' || s[4] == ' ')) {
            const char *end = strstr(s, "</pre>");
            end = end ? end + 6 : s + strlen(s);
            size_t lang_len = 0;
            const char *lang = NULL;
            if (strncmp(rest, "<code", 5) == 0) {
                const char *code_gt = strchr(rest, '>'), *code_end = strstr(rest, "</code>");
                lang = code_gt ? attr(rest, (size_t)(code_gt - rest) + 1, "class", &lang_len) : NULL;
                if (lang && lang_len > 9 && strncmp(lang, "language-", 9) == 0) lang += 9, lang_len -= 9;
                else lang = "", lang_len = 0;
                if (code_gt && code_end && code_gt < code_end && code_end < end) {
                    char name[32];
                    snprintf(name, sizeof name, "%.*s", (int)(lang_len < 31 ? lang_len : 31), lang);
                    buf_fmt(&c->body, "<pre><code class=\"language-%s\">", name[0] ? name : "text");
                    highlight(&c->body, name, code_gt + 1, (size_t)(code_end - code_gt - 1));
                    buf_str(&c->body, "</code></pre>");
                    s = end;
                    continue;
                }
            }
            buf_add(&c->body, s, (size_t)(end - s));
            s = end;
            continue;
        }
        if (strncmp(s, "<code>", 6) == 0 && !in_a) {
            const char *end = strstr(rest, "</code>");
            const Chapter *ch = NULL;
            size_t at = 0, len = 0, ref = end ? match_reference(bk, rest, (size_t)(end - rest), &ch, &at, &len) : 0;
            if (end) plain_text(&w.section_text, rest, (size_t)(end - rest));
            if (ref && ref == (size_t)(end - rest) && ch) {
                StrBuf href = {0};
                put_reference_href(&href, rest, ref, at, len);
                buf_fmt(&c->body, "<a href=\"%.*s\"><code>%.*s</code></a>", (int)href.n, href.s, (int)ref, rest);
                list_add(&c->links, href.s, href.n);
                buf_free(&href);
                s = end + 7;
                continue;
            }
            if (ref && ref == (size_t)(end - rest) && !ch && at == 5) {
                fprintf(stderr, "%s/%s.md: reference %.*s: no such chapter\n", bk->dir, c->name, (int)ref, rest);
                c->errors++;
            }
            if (end) {
                buf_add(&c->body, s, (size_t)(end + 7 - s));
                s = end + 7;
                continue;
            }
        }
        int level = s[1] == 'h' && s[2] >= '1' && s[2] <= '6' && s[3] == '>' ? s[2] - '0' : 0;
        char close[6] = {'<', '/', 'h', (char)('0' + level), '>', '\0'};
        const char *heading_end = level ? strstr(rest, close) : NULL;
        if (heading_end) {
            put_heading(&w, level, rest, (size_t)(heading_end - rest));
            in_heading = 1;
        } else if (s[1] == '/' && s[2] == 'h' && isdigit((unsigned char)s[3])) {
            in_heading = 0;
            if (w.heading_id[0]) {  // a link to the section itself, to copy and share
                buf_fmt(&c->body, "<a class=\"self\" href=\"#%s\" aria-label=\"link to this section\">#</a>", w.heading_id);
                StrBuf href = {0};
                buf_fmt(&href, "#%s", w.heading_id);
                list_add(&c->links, href.s, href.n);
                buf_free(&href);
                w.heading_id[0] = '\0';
            }
            buf_add(&c->body, s, n);
        } else {
            if (strncmp(s, "<a ", 3) == 0) in_a++;
            if (strncmp(s, "</a>", 4) == 0 && in_a > 0) in_a--;
            put_tag(&w, s, n, &rest);
        }
        s = rest;
    }
    flush_section(&w);
    free(w.term_used);
    buf_free(&w.section_text);
    buf_free(&w.section_heading);
}

static void put_toc(FILE *out, const Book *bk, size_t at) {
    const Chapter *c = &bk->ch[at];
    fputs("<aside class=\"side\"><details class=\"toc\" id=\"book-toc\"><summary>Contents</summary>\n", out);
    if (c->toc.n) fputs("<p class=\"toc-label\">In this chapter</p>\n<ol class=\"toc-page\">", out);
    int levels[8], depth = 0;  // the heading level of each open list, outermost first
    for (size_t i = 0; i < c->toc.n; i++) {
        int level = 0, skip = 0;
        char id[128];
        if (sscanf(c->toc.v[i], "%d %127s %n", &level, id, &skip) != 2) continue;
        if (depth == 0) {
            levels[depth++] = level;
        } else {
            for (; depth > 1 && levels[depth - 1] > level; depth--) fputs("</li></ol>", out);
            if (level > levels[depth - 1] && depth < 8) fputs("<ol>", out), levels[depth++] = level;  // inside the open item
            else fputs("</li>", out);
        }
        fprintf(out, "\n<li><a href=\"#%s\">%s</a>", id, c->toc.v[i] + skip);
    }
    if (depth) fputs("</li>", out);
    for (; depth > 1; depth--) fputs("</ol></li>", out);
    if (c->toc.n) fputs("</ol>\n", out);
    fputs("<p class=\"toc-label\">The book</p>\n<ol class=\"toc-book\">", out);
    for (size_t i = 0; i < bk->n; i++)
        fprintf(out, "\n<li%s><a href=\"%s.html\">%s</a></li>", i == at ? " class=\"current\"" : "", bk->ch[i].name, bk->ch[i].title);
    fputs("</ol>\n</details></aside>\n", out);
}

void page_write(FILE *out, const Book *bk, size_t i) {
    const Chapter *c = &bk->ch[i];
    fputs("<!doctype html>\n<html lang=\"en\">\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta name=\"color-scheme\" content=\"light dark\">\n",
          out);
    fprintf(out, "<title>%s%s</title>\n", c->title, strcmp(c->name, "index") ? " · protostar" : "");
    fputs("<link rel=\"stylesheet\" href=\"style.css\">\n<script src=\"assets/book.js\" defer></script>\n"
          "<header class=\"top\"><a class=\"home\" href=\"index.html\">protostar</a>\n"
          "<div class=\"search\" role=\"search\"><input id=\"book-search\" type=\"search\" placeholder=\"Search the book\" "
          "aria-label=\"Search the book\" autocomplete=\"off\"><ol id=\"book-results\" hidden></ol></div></header>\n"
          "<div class=\"layout\">\n",
          out);
    put_toc(out, bk, i);
    fputs("<main>\n", out);
    fwrite(c->body.s ? c->body.s : "", 1, c->body.n, out);
    fputs("<nav class=\"prevnext\">", out);
    if (i > 0)
        fprintf(out, "<a class=\"prev\" rel=\"prev\" href=\"%s.html\"><small>← Previous</small><span>%s</span></a>", bk->ch[i - 1].name,
                bk->ch[i - 1].title);
    if (i + 1 < bk->n)
        fprintf(out, "<a class=\"next\" rel=\"next\" href=\"%s.html\"><small>Next →</small><span>%s</span></a>", bk->ch[i + 1].name,
                bk->ch[i + 1].title);
    fputs("</nav>\n</main>\n</div>\n", out);
}
