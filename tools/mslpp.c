// mslpp: the MSL emulator's pre-pass. Turns a preprocessed .metal file into C++ that compiles
// against the fake <metal_stdlib> (shared/msl/include) and runs on the emulator's runtime.
//
//   c++ -E -x c++ -Ishared/msl/pp shaders/foo.metal > foo.i     (shader macros expanded)
//   mslpp [-check] shaders/foo.metal < foo.i > foo.cpp          (this tool)
//
// It rewrites tokens in place and never adds or removes a newline, so with the preprocessor's
// line markers every compiler error, sanitizer report and emulator diagnostic names the
// .metal line. What it rewrites (everything else is already valid C++):
//   [[attributes]]            removed (kernel parameter attributes are read first)
//   device, thread            removed: the CPU has one address space
//   constant                  const
//   kernel-scope threadgroup  a reference into the threadgroup's shared arena (a plain macro
//   declarations              would silently give every thread its own copy)
//   other threadgroup         removed (pointer parameters, casts)
//   v.xy, v.zyx               v.template swz<0, 1>() ...
//   1.5h, 2.0                 half(1.5f), 2.0f (Metal has no double; literals are float)
//   simd_sum(x), barriers     simd_sum(msl::site{id, line}, x): which call, for the scheduler
//   helper(...) with a        (msl::call(id), helper)(...), and loops around them get their
//   barrier or collective     iteration counted (msl::loop): barriers and collectives are
//                             matched by dynamic instance, not by place
// and at the end adds one trampoline per kernel that maps [[buffer(n)]], [[threadgroup(n)]] and
// the position built-ins to arguments (types from decltype(kernel)), plus the registration.
// With -check, every threadgroup variable (any type) becomes an msl::tg_array and every
// `threadgroup T *` an msl::tg_ptr<T>, whose uses carry their line (msl_tgcheck.h).
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mslpp.h"

Tok *toks;
int ntok;
Func *fns;
int nfn;
const char *src_name;
int check_mode;

void die(int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d: error: ", src_name, line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (mslpp, the MSL emulator's pre-pass)\n");
    va_end(ap);
    exit(1);
}

char *fmt(const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    if (vasprintf(&s, f, ap) < 0) exit(2);
    va_end(ap);
    return s;
}

int is(int i, const char *s) {
    return i >= 0 && i < ntok && toks[i].len == (int)strlen(s) && !memcmp(toks[i].s, s, toks[i].len);
}
char *text(int i) { return fmt("%.*s", toks[i].len, toks[i].s); }

// ---- tokenizer: just enough C++ to find identifiers, numbers, strings and brackets ----
static void tokenize(const char *p) {
    int line = 1, cap = 0;
    const char *gap = p;
    int at_line_start = 1;
    while (*p) {
        if (*p == '\n') { line++, p++, at_line_start = 1; continue; }
        if (isspace((unsigned char)*p)) { p++; continue; }
        if (ntok == cap) toks = realloc(toks, sizeof(Tok) * (size_t)(cap = cap ? cap * 2 : 4096));
        Tok *t = &toks[ntok++];
        t->gap = gap, t->gaplen = (int)(p - gap), t->s = p, t->line = line, t->rep = NULL;
        if (*p == '#' && at_line_start) {  // "# 12 "file.metal"": the next line is line 12
            const char *e = strchr(p, '\n');
            t->kind = T_DIRECTIVE, t->len = e ? (int)(e - p) : (int)strlen(p);
            char *end;
            long n = strtol(p + 1, &end, 10);
            if (end != p + 1) line = (int)n - 1;
            else if (!strncmp(p + 1, "line ", 5)) line = atoi(p + 6) - 1;
        } else if (isalpha((unsigned char)*p) || *p == '_') {
            const char *e = p;
            while (isalnum((unsigned char)*e) || *e == '_') e++;
            t->kind = T_ID, t->len = (int)(e - p);
        } else if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
            const char *e = p;  // a pp-number: digits, letters, dots, exponent signs
            while (isalnum((unsigned char)*e) || *e == '.' || *e == '_' ||
                   ((*e == '+' || *e == '-') && strchr("eEpP", e[-1])))
                e++;
            t->kind = T_NUM, t->len = (int)(e - p);
        } else if (*p == '"' || *p == '\'') {
            const char *e = p + 1;
            while (*e && *e != *p) e += *e == '\\' && e[1] ? 2 : 1;
            t->kind = T_STR, t->len = (int)(e - p) + (*e ? 1 : 0);
        } else {
            static const char *two[] = {"[[", "]]", "::", "->", "==", "!=", "<=", ">=", "&&",
                                        "||", "++", "--", "+=", "-=", "*=", "/=", "<<", ">>"};
            t->kind = T_PUNCT, t->len = 1;
            for (size_t k = 0; k < sizeof two / sizeof *two; k++)
                if (!strncmp(p, two[k], 2)) t->len = 2;
        }
        p += t->len;
        gap = p;
        at_line_start = 0;
    }
    toks = realloc(toks, sizeof(Tok) * (size_t)(ntok + 1));
    toks[ntok] = (Tok){T_PUNCT, line, "", gap, (int)(p - gap), 0, NULL};  // end: trailing gap
}

static int match(int i, const char *open, const char *close) {  // index of the closing bracket
    int depth = 0;
    for (; i < ntok; i++) {
        if (is(i, open)) depth++;
        if (is(i, close) && --depth == 0) return i;
    }
    die(toks[ntok - 1].line, "unbalanced '%s'", open);
}
static int attr_end(int i) {  // i at "[[": index of its "]]"
    while (i < ntok && !is(i, "]]")) i++;
    if (i == ntok) die(toks[ntok - 1].line, "unterminated [[attribute");
    return i;
}
static int prev_sig(int i) {  // the token before i, skipping [[attributes]] and const
    for (i--; i >= 0; i--) {
        if (is(i, "]]")) { while (i > 0 && !is(i, "[[")) i--; continue; }
        if (is(i, "const") || is(i, "noexcept")) continue;
        return i;
    }
    return -1;
}
static int before_member(int i) { return is(i - 1, ".") || is(i - 1, "->") || is(i - 1, "::"); }

// ---- pass 1: functions, what they call, how kernels must run ----
static const char *collectives[] = {
    "threadgroup_barrier", "simdgroup_barrier", "simd_sum", "simd_product", "simd_max",
    "simd_min", "simd_prefix_exclusive_sum", "simd_prefix_inclusive_sum", "simd_shuffle",
    "simd_shuffle_down", "simd_shuffle_up", "simd_shuffle_xor", "simd_broadcast",
    "simd_broadcast_first", "simd_is_first", "simd_all", "simd_any", "simd_ballot"};
static int collective(int i) {
    if (toks[i].kind != T_ID || !is(i + 1, "(") || (before_member(i) && !is(i - 1, "::")))
        return 0;
    for (size_t k = 0; k < sizeof collectives / sizeof *collectives; k++)
        if (is(i, collectives[k])) return 1;
    return 0;
}
static int same(int a, int b) {
    return toks[a].len == toks[b].len && !memcmp(toks[a].s, toks[b].s, (size_t)toks[a].len);
}
// A call of a helper that (maybe indirectly) uses collectives or barriers: the runtime must
// know which call a thread is in (msl::call), so one barrier reached through two calls is two.
static int uses_sync(int i) {
    for (int k = 0; k < nfn; k++)
        if (same(fns[k].name, i) && (fns[k].uses_simd || fns[k].uses_barrier) && fns[k].name != i)
            return 1;
    return 0;
}
static int defined_fn(int i) {
    for (int k = 0; k < nfn; k++)
        if (same(fns[k].name, i)) return 1;
    return 0;
}
static int stmt_start(int i) { return is(i - 1, ";") || is(i - 1, "{") || is(i - 1, "}"); }

static void find_functions(void) {
    int in_fn_until = -1;
    for (int i = 0; i < ntok; i++) {
        if (i <= in_fn_until || !is(i, "{")) continue;
        int rp = prev_sig(i);
        if (!is(rp, ")")) continue;
        int lp = rp, depth = 0;
        for (; lp >= 0; lp--) {
            if (is(lp, ")")) depth++;
            if (is(lp, "(") && --depth == 0) break;
        }
        if (lp <= 0 || toks[lp - 1].kind != T_ID) continue;
        Func f = {lp - 1, lp, rp, i, match(i, "{", "}"), 0, 0, 0, 0};
        for (int k = f.name - 1; k >= 0 && !is(k, ";") && !is(k, "}") && !is(k, "{"); k--) {
            if (is(k, "kernel") || (is(k, "[[") && is(k + 1, "kernel"))) f.is_kernel = 1;
            if (is(k, "template") && f.is_kernel)
                die(toks[k].line, "kernel templates are not supported by the MSL emulator");
        }
        for (int k = f.lbrace; k < f.rbrace; k++) {
            if (is(k, "threadgroup_barrier") && is(k + 1, "(")) f.uses_barrier = 1;
            else if (collective(k)) f.uses_simd = 1;
            if (is(k, "threadgroup") && stmt_start(k)) f.uses_tg = 1;
        }
        for (int k = f.lparen; k < f.rparen; k++)
            if (is(k, "[[") && is(k + 1, "threadgroup")) f.uses_tg = 1;
        fns = realloc(fns, sizeof(Func) * (size_t)(nfn + 1));
        fns[nfn++] = f;
        in_fn_until = f.rbrace;
    }
    // A barrier inside a helper makes every caller a barrier user: close over the call graph.
    for (int changed = 1; changed;) {
        changed = 0;
        for (int a = 0; a < nfn; a++)
            for (int k = fns[a].lbrace; k < fns[a].rbrace; k++) {
                if (toks[k].kind != T_ID || !is(k + 1, "(")) continue;
                for (int b = 0; b < nfn; b++) {
                    if (b == a || !same(fns[b].name, k)) continue;
                    int *fa[] = {&fns[a].uses_barrier, &fns[a].uses_simd, &fns[a].uses_tg};
                    int fb[] = {fns[b].uses_barrier, fns[b].uses_simd, fns[b].uses_tg};
                    for (int q = 0; q < 3; q++)
                        if (fb[q] && !*fa[q]) *fa[q] = changed = 1;
                }
            }
    }
}

// ---- pass 2: rewrite tokens in place ----
static char *join(int a, int b) {  // tokens [a, b) as one line of text
    char *s = fmt("%s", "");
    for (int i = a; i < b; i++) {
        char *n = fmt("%s%s%.*s", s, i > a ? " " : "", toks[i].len, toks[i].s);
        free(s);
        s = n;
    }
    return s;
}

static Func *func_at(int i) {  // the function whose parameters or body hold token i
    for (int k = 0; k < nfn; k++)
        if (i > fns[k].lparen && i < fns[k].rbrace) return &fns[k];
    return NULL;
}

// Checking build: every later use of a threadgroup variable or pointer (token `name`, up to
// token `end`) carries its line: `sh[i]` -> `sh.at(12)[i]` (msl_tgcheck.h).
static void mark_uses(int name, int from, int end, int is_pointer) {
    char *n = text(name);
    for (int k = from; k < end; k++) {
        if (!same(k, name) || before_member(k) || toks[k].rep) continue;
        if (is(k - 1, "(") && is(k - 2, "sizeof"))  // the variable's size, not its handle's
            toks[k].rep = is_pointer ? fmt("void *") : fmt("decltype(%s)::type", n);
        else if (is_pointer)
            toks[k].rep = fmt("%s.at(%d, \"%s\")", n, toks[k].line, n);
        else
            toks[k].rep = fmt("%s.at(%d)", n, toks[k].line);
    }
    free(n);
}

// Checking build: `threadgroup T *` (a parameter, a local, a cast) becomes `msl::tg_ptr<T>`, in
// place: `threadgroup` -> `msl::tg_ptr<`, `*` -> `>`; `device T *` and `constant T *` become
// msl::dev_ptr<T> and msl::dev_ptr<const T>. A declared name is followed to the end of its
// function. Returns 0 when this is no pointer (a reference stays unchecked).
static int checked_pointer(int i, Func *in) {
    int star = i + 1;
    while (star < ntok && (toks[star].kind == T_ID || is(star, "::"))) star++;
    if (is(star, "<")) star = match(star, "<", ">") + 1;
    while (star < ntok && (is(star, "const") || is(star, "volatile"))) star++;
    if (!is(star, "*")) return 0;
    toks[i].rep = fmt(is(i, "threadgroup") ? "msl::tg_ptr<" : is(i, "device") ? "msl::dev_ptr<"
                                   : is(i + 1, "const") ? "msl::dev_ptr<" : "msl::dev_ptr<const ");
    toks[star].rep = fmt(">");
    int name = star + 1;
    while (is(name, "const") || is(name, "volatile")) name++;
    Func *f = in ? in : func_at(i);
    if (f && toks[name].kind == T_ID &&
        (is(name + 1, ",") || is(name + 1, ")") || is(name + 1, "=") || is(name + 1, ";") || is(name + 1, "[[")))
        mark_uses(name, name + 1, f->rbrace, 1);
    return 1;
}

// `threadgroup T name[N][M];` at the start of a statement in a function body.
static void rewrite_tg_decl(int i, Func *f) {
    int semi = i;
    while (semi < f->rbrace && !is(semi, ";")) semi++;
    int br = i + 1, star = 0;
    while (br < semi && !is(br, "[") && !is(br, ",") && !is(br, "=")) star |= is(br++, "*");
    if (star) {  // a pointer: `threadgroup float *p = sh + 32;`
        if (!check_mode || !checked_pointer(i, f)) toks[i].rep = fmt("%s", "");
        return;
    }
    if (is(br, ",") || is(br, "="))
        die(toks[br].line, "declare one threadgroup variable per statement, without initializer");
    int name = br - 1;
    if (toks[name].kind != T_ID || name <= i + 1) die(toks[i].line, "unrecognized threadgroup declaration");
    char *type = join(i + 1, name), *dims = join(br, semi), *n = text(name);
    char *alloc = fmt("msl_tg_alloc(sizeof(%s %s), alignof(%s %s))", type, dims, type, dims);
    if (check_mode) {  // every access checked, whatever the type (msl_tgcheck.h)
        toks[i].rep = fmt("msl::tg_array<%s %s> %s(%s, \"%s\")", type, dims, n, alloc, n);
        mark_uses(name, semi + 1, f->rbrace, 0);
    } else if (br == semi) {  // a scalar: `threadgroup float x;`
        toks[i].rep = fmt("%s &%s = *static_cast<%s *>(%s)", type, n, type, alloc);
    } else {
        toks[i].rep = fmt("%s (&%s)%s = *static_cast<%s (*)%s>(%s)", type, n, dims, type, dims, alloc);
    }
    for (int k = i + 1; k < semi; k++) toks[k].rep = fmt("%s", "");
    free(type), free(dims), free(n), free(alloc);
}

// Does [a, b) hold a barrier, a collective or a call of a helper that has one?
static int sync_in(int a, int b) {
    for (int k = a; k < b; k++)
        if (collective(k) || (toks[k].kind == T_ID && is(k + 1, "(") && !before_member(k) && uses_sync(k)))
            return 1;
    return 0;
}

// A for/while loop around a barrier or collective: its iteration joins the thread's path (see
// msl::loop), in place:
//   for (msl::loop L(id); L.once();) for (init; L.next() && (cond); step) body
//   for (msl::loop L(id); L.once();) while (L.next() && (cond)) body
static void wrap_loop(int i, int *site) {
    int lp = i + 1;
    if (!is(lp, "(")) return;
    int rp = match(lp, "(", ")");
    if (is(rp + 1, ";")) return;  // the end of a do ... while: not handled
    int end = rp + 1;             // the body: a block, or one statement
    if (is(end, "{")) end = match(end, "{", "}");
    else
        for (int depth = 0; end < ntok && !(depth == 0 && is(end, ";")); end++)
            depth += is(end, "(") || is(end, "{") ? 1 : is(end, ")") || is(end, "}") ? -1 : 0;
    if (!sync_in(lp, end)) return;
    int cond_from = lp, cond_to = rp;  // while: the whole parenthesis
    if (is(i, "for")) {
        int s1 = 0, s2 = 0;
        for (int k = lp + 1, depth = 0; k < rp; k++) {
            depth += is(k, "(") || is(k, "{") || is(k, "[") ? 1 : is(k, ")") || is(k, "}") || is(k, "]") ? -1 : 0;
            if (depth == 0 && is(k, ";")) {
                if (!s1) s1 = k;
                else if (!s2) s2 = k;
            }
        }
        if (!s2) return;  // a range-for: no condition to hook
        cond_from = s1, cond_to = s2;
    }
    int id = (*site)++;
    toks[i].rep = fmt("for (msl::loop msl_loop%d(%d); msl_loop%d.once();) %.*s", id, id, id,
                      toks[i].len, toks[i].s);
    const char *open = is(cond_from, "(") ? "(" : ";";
    if (cond_to == cond_from + 1) {  // for (init;; step)
        toks[cond_from].rep = fmt("%s msl_loop%d.next()", open, id);
    } else {
        toks[cond_from].rep = fmt("%s msl_loop%d.next() && (", open, id);
        toks[cond_to].rep = fmt(")%.*s", toks[cond_to].len, toks[cond_to].s);
    }
}

static int swizzle(int i, char *out) {  // ".xy" -> "0, 1"; 0 when not a swizzle
    if (toks[i].kind != T_ID || toks[i].len < 2 || toks[i].len > 4) return 0;
    const char *sets[] = {"xyzw", "rgba"};
    for (int s = 0; s < 2; s++) {
        int ok = 1;
        out[0] = 0;
        for (int k = 0; k < toks[i].len && ok; k++) {
            const char *c = strchr(sets[s], toks[i].s[k]);
            if (!c || !*c) ok = 0;
            else sprintf(out + strlen(out), "%s%d", k ? ", " : "", (int)(c - sets[s]));
        }
        if (ok) return 1;
    }
    return 0;
}

static void rewrite(void) {
    int site = 0;
    for (int i = 0; i < ntok; i++) {
        Tok *t = &toks[i];
        if (t->rep) continue;  // already rewritten as part of a threadgroup declaration
        Func *in = NULL;
        for (int k = 0; k < nfn; k++)
            if (i > fns[k].lbrace && i < fns[k].rbrace) in = &fns[k];
        if (is(i, "[[")) {  // attributes go; kernel parameters read theirs in emit_trampolines
            for (int e = attr_end(i); i <= e; i++) toks[i].rep = fmt("%s", "");
            i--;
        } else if ((is(i, "device") || is(i, "constant")) && !before_member(i) && check_mode &&
                   checked_pointer(i, in)) {
            // a checked device pointer (bounds)
        } else if ((is(i, "device") || is(i, "thread") || is(i, "kernel")) && !before_member(i)) {
            t->rep = fmt("%s", "");
        } else if (is(i, "constant") && !before_member(i)) {
            t->rep = fmt("%s", is(i - 1, "const") || is(i + 1, "const") ? "" : "const");
        } else if (is(i, "threadgroup") && !before_member(i)) {
            if (in && stmt_start(i)) rewrite_tg_decl(i, in);
            else if (!check_mode || !checked_pointer(i, in)) t->rep = fmt("%s", "");
        } else if (t->kind == T_ID && (is(i - 1, ".") || is(i - 1, "->"))) {
            char idx[32];
            if (swizzle(i, idx)) {
                if (is(i + 1, "=") || is(i + 1, "+=") || is(i + 1, "-=") || is(i + 1, "*="))
                    die(t->line, "assigning to a swizzle (v.%s = ...) is not supported by the "
                        "MSL emulator; assign the components", text(i));
                t->rep = fmt("template swz<%s>()", idx);
            }
        } else if (t->kind == T_NUM && strncmp(t->s, "0x", 2) && strncmp(t->s, "0X", 2)) {
            char last = t->s[t->len - 1];
            int is_float = memchr(t->s, '.', (size_t)t->len) || memchr(t->s, 'e', (size_t)t->len) ||
                           memchr(t->s, 'E', (size_t)t->len);
            if (last == 'h' || last == 'H')
                t->rep = fmt("half(%.*s%sf)", t->len - 1, t->s, is_float ? "" : ".0");
            else if (is_float && (isdigit((unsigned char)last) || last == '.'))
                t->rep = fmt("%.*sf", t->len, t->s);
        } else if (in && (is(i, "for") || is(i, "while"))) {
            wrap_loop(i, &site);
        } else if (in && t->kind == T_ID && is(i + 1, "(") && !before_member(i) && uses_sync(i)) {
            t->rep = fmt("(msl::call(%d), %.*s)", site++, t->len, t->s);  // see msl::call
        } else if (collective(i)) {
            toks[i + 1].rep = fmt("(msl::site{%d, %d}%s", site++, t->line, is(i + 2, ")") ? "" : ", ");
        } else if (t->kind == T_ID && is(i + 1, "(") && t->len > 5 && !defined_fn(i) &&
                   (!strncmp(t->s, "simd_", 5) || !strncmp(t->s, "quad_", 5))) {
            die(t->line, "'%s' is not supported by the MSL emulator (shared/msl/include)", text(i));
        }
    }
}

int main(int argc, char **argv) {
    int a = 1;
    if (a < argc && !strcmp(argv[a], "-check")) check_mode = 1, a++;
    if (a + 1 != argc) {
        fprintf(stderr, "usage: mslpp [-check] SOURCE.metal < preprocessed > out.cpp\n"
                        "  SOURCE.metal: the name kernels are registered under (mtl_library_new)\n");
        return 2;
    }
    src_name = argv[a];
    size_t cap = 1 << 16, len = 0, n;
    char *in = malloc(cap);
    while (in && (n = fread(in + len, 1, cap - len - 1, stdin)) > 0)
        if ((len += n) + 1 == cap) in = realloc(in, cap *= 2);
    if (!in) return 2;
    in[len] = 0;
    tokenize(in);
    find_functions();
    rewrite();
    printf("// Generated by tools/mslpp from %s: do not edit.\n%s#include <metal_stdlib>\n"
           "namespace {\n", src_name, check_mode ? "#define MSL_CHECK_BUILD 1\n" : "");
    for (int i = 0; i <= ntok; i++) {
        printf("%.*s", toks[i].gaplen, toks[i].gap);
        if (toks[i].rep) printf("%s", toks[i].rep);
        else printf("%.*s", toks[i].len, toks[i].s);
    }
    emit_trampolines(stdout);
    return 0;
}
