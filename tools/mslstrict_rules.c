// mslstrict's checks (mslstrict.h); tools/mslstrict.c says what they refuse, and runs them.
#include "mslstrict.h"

#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T_ID, T_NUM, T_STR, T_PUNCT };
enum { AS_NONE, AS_DEVICE, AS_CONSTANT, AS_THREADGROUP, AS_THREAD, AS_IMAGEBLOCK };
static const char *space_names[] = {"no", "device", "constant", "threadgroup", "thread",
                                    "threadgroup_imageblock"};

typedef struct { int kind, len, line, file, attr; const char *s; } Tok;
typedef struct { int name, space, is_ptr, float_atomic; } Var;  // a pointer, array or atomic
typedef struct { int name, lparen, rparen, lbrace, rbrace, is_kernel, nparams; Var *params; } Func;

static Tok *toks;
static char **files;
static Func *fns;
static Var *vars;  // of the function being checked, plus program-scope constants
static int ntok, nfiles, nfn, nvars, nglobals, nerrors;

static const char *R_RESTRICT = "§1.5.4 Restrictions: C++ features Metal does not support";
static const char *R_SPACE = "§4 Address spaces: every pointer names its address space";
static const char *R_CONVERT = "§4 Address spaces: a pointer cannot change address space";

static void *grow(void *p, size_t size) {
    p = realloc(p, size);
    if (!p) { fprintf(stderr, "mslstrict: out of memory\n"); exit(2); }
    return p;
}

__attribute__((format(printf, 3, 4))) static void error(int i, const char *rule, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const Tok *t = &toks[i < ntok ? i : ntok - 1];
    fprintf(stderr, "%s:%d: error: ", files[t->file], t->line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (MSL spec %s)\n", rule);
    va_end(ap);
    nerrors++;
}

static int is(int i, const char *s) {
    return i >= 0 && i < ntok && toks[i].len == (int)strlen(s) && !memcmp(toks[i].s, s, (size_t)toks[i].len);
}
static int kw(int i, const char *s) { return is(i, s) && !toks[i].attr; }  // not inside [[...]]
static int same(int a, int b) {
    return toks[a].len == toks[b].len && !memcmp(toks[a].s, toks[b].s, (size_t)toks[a].len);
}
static int id(int i) { return i >= 0 && i < ntok && toks[i].kind == T_ID && !toks[i].attr; }
static int member(int i) { return is(i - 1, ".") || is(i - 1, "->") || is(i - 1, "::"); }
static int space_of(int i) {
    for (int s = AS_DEVICE; s <= AS_IMAGEBLOCK; s++)
        if (kw(i, space_names[s]) && !member(i)) return s;
    return AS_NONE;
}

// ---- tokens; `# N "file"` line markers set the file and line of what follows ----
static int file_index(const char *name, int len) {
    for (int f = 0; f < nfiles; f++)
        if ((int)strlen(files[f]) == len && !memcmp(files[f], name, (size_t)len)) return f;
    files = grow(files, sizeof *files * (size_t)(nfiles + 1));
    files[nfiles] = grow(NULL, (size_t)len + 1);
    memcpy(files[nfiles], name, (size_t)len);
    files[nfiles][len] = 0;
    return nfiles++;
}

static void tokenize(const char *p, const char *source) {
    int line = 1, file = file_index(source, (int)strlen(source)), line_start = 1, cap = 0;
    while (*p) {
        if (*p == '\n') { line++, p++, line_start = 1; continue; }
        if (isspace((unsigned char)*p)) { p++; continue; }
        if (*p == '#' && line_start) {  // a line marker or a #pragma: not a token
            const char *q = p + 1, *e;
            while (*q == ' ') q++;
            if (!strncmp(q, "line", 4)) q += 4;
            char *end;
            long n = strtol(q, &end, 10);
            if (end != q) {
                line = (int)n - 1;
                while (*end == ' ') end++;
                if (*end == '"' && (e = strchr(end + 1, '"'))) file = file_index(end + 1, (int)(e - end - 1));
            }
            while (*p && *p != '\n') p++;
            continue;
        }
        line_start = 0;
        if (ntok + 1 >= cap) toks = grow(toks, sizeof *toks * (size_t)(cap = cap ? 2 * cap : 4096));
        Tok *t = &toks[ntok++];
        *t = (Tok){T_PUNCT, 1, line, file, 0, p};
        if (isalpha((unsigned char)*p) || *p == '_') {
            while (isalnum((unsigned char)p[t->len]) || p[t->len] == '_') t->len++;
            t->kind = T_ID;
        } else if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
            while (isalnum((unsigned char)p[t->len]) || p[t->len] == '.' ||
                   ((p[t->len] == '+' || p[t->len] == '-') && strchr("eEpP", p[t->len - 1])))
                t->len++;
            t->kind = T_NUM;
        } else if (*p == '"' || *p == '\'') {
            while (p[t->len] && p[t->len] != *p) t->len += p[t->len] == '\\' && p[t->len + 1] ? 2 : 1;
            if (p[t->len]) t->len++;
            t->kind = T_STR;
        } else {  // `]]` stays two tokens: a[b[i]] ends with it too
            static const char *two[] = {"[[", "::", "->", "&&", "||", "==", "!=", "<=", ">=", "++",
                                        "--", "+=", "-=", "*=", "/=", "<<"};
            for (size_t k = 0; k < sizeof two / sizeof *two; k++)
                if (!strncmp(p, two[k], 2)) t->len = 2;
        }
        p += t->len;
    }
    toks = grow(toks, sizeof *toks * (size_t)(ntok + 1));
    toks[ntok] = (Tok){T_PUNCT, 0, line, file, 0, p};
    for (int i = 0; i < ntok; i++)  // mark [[attribute]] tokens
        if (is(i, "[[")) {
            int depth = 0;
            for (; i < ntok && !(depth == 0 && is(i, "]") && is(i + 1, "]")); i++) {
                toks[i].attr = 1;
                depth += is(i, "(") - is(i, ")");
            }
            if (i < ntok) toks[i].attr = toks[i + 1].attr = 1, i++;
        }
}

// A bracket never closed: match() gives up on the file, back to mslstrict_check.
static jmp_buf unbalanced;
static int unbalanced_at;
static int match(int i) {  // i at an opening bracket: its partner
    const int start = i;
    const char *open = toks[i].s[0] == '(' ? "(" : toks[i].s[0] == '{' ? "{" : "[";
    const char *close = *open == '(' ? ")" : *open == '{' ? "}" : "]";
    for (int depth = 0; i < ntok; i++) {
        if (is(i, open) || (*open == '[' && is(i, "[["))) depth += is(i, "[[") ? 2 : 1;
        if (is(i, close) && --depth == 0) return i;
    }
    unbalanced_at = start;
    longjmp(unbalanced, 1);
}

// ---- program scope: functions, and variables that must be constant ----
static void program_scope_statement(int a, int b) {  // tokens [a, b), b at ';'
    static const char *skip[] = {"typedef", "using", "struct", "class", "enum", "union",
                                 "template", "static_assert", "namespace", "extern"};
    if (a >= b) return;
    for (size_t k = 0; k < sizeof skip / sizeof *skip; k++)
        if (kw(a, skip[k])) return;
    int name = -1, constant = 0;
    for (int i = a; i < b; i++) {
        if (kw(i, "constant") || kw(i, "constexpr")) constant = 1;
        if (is(i, "(")) return;  // a function declaration (before any '=')
        if (is(i, "=") || is(i, "[") || is(i, "{")) break;
        if (id(i)) name = i;
    }
    if (name < 0) return;
    if (!constant) {
        error(name, "§4.2 constant address space: program-scope variables are constant",
              "program-scope variable '%.*s' must be declared 'constant' (one mutable copy shared "
              "by every thread does not exist on the GPU)", toks[name].len, toks[name].s);
        return;
    }
    vars = grow(vars, sizeof *vars * (size_t)(nvars + 1));
    vars[nvars++] = (Var){name, AS_CONSTANT, 1, 0};
    nglobals = nvars;
}

static int prev_sig(int i) {  // the token before i, skipping [[attributes]] and const
    for (i--; i >= 0 && (toks[i].attr || is(i, "const")); i--) {}
    return i;
}

static void find_program_scope(void) {
    int start = 0;
    for (int i = 0; i < ntok; i++) {
        if (toks[i].attr) continue;
        if (is(i, ";")) { program_scope_statement(start, i); start = i + 1; continue; }
        if (is(i, "}")) { start = i + 1; continue; }  // the end of a namespace
        if (!is(i, "{")) continue;
        if (kw(i - 1, "namespace") || kw(i - 2, "namespace") || (i > 0 && toks[i - 1].kind == T_STR && kw(i - 2, "extern"))) {
            start = i + 1;
            continue;
        }
        int end = match(i), rp = prev_sig(i);
        if (is(rp, ")")) {
            int lp = rp;
            for (int depth = 0; lp >= 0; lp--) {
                depth += is(lp, ")") - is(lp, "(");
                if (depth == 0) break;
            }
            if (id(lp - 1)) {
                Func f = {lp - 1, lp, rp, i, end, 0, 0, NULL};
                for (int k = start; k < lp - 1; k++)
                    if (kw(k, "kernel") || (is(k, "[[") && is(k + 1, "kernel"))) f.is_kernel = 1;
                fns = grow(fns, sizeof *fns * (size_t)(nfn + 1));
                fns[nfn++] = f;
                start = end + 1;
            }
        }
        i = end;  // a function, struct or initializer body: the statement goes on after it
    }
}

// ---- declarations ----
static const char *builtin_types[] = {"bool", "char", "uchar", "short", "ushort", "int", "uint",
    "long", "ulong", "half", "float", "bfloat", "void", "size_t", "ptrdiff_t", "int8_t", "uint8_t",
    "int16_t", "uint16_t", "int32_t", "uint32_t", "int64_t", "uint64_t", "unsigned", "signed",
    "atomic_int", "atomic_uint", "atomic_bool", "atomic_float", "atomic", "auto"};
static int is_type_name(int i) {
    if (!id(i)) return 0;
    for (size_t k = 0; k < sizeof builtin_types / sizeof *builtin_types; k++) {
        size_t n = strlen(builtin_types[k]);
        if ((size_t)toks[i].len >= n && !memcmp(toks[i].s, builtin_types[k], n)) {
            const char *rest = toks[i].s + n;  // float4, half3x3 ...
            int left = toks[i].len - (int)n;
            if (left == 0 || (left == 1 && strchr("234", rest[0])) ||
                (left == 3 && strchr("234", rest[0]) && rest[1] == 'x' && strchr("234", rest[2])))
                return 1;
        }
    }
    for (int k = 0; k < ntok; k++)  // a struct or typedef of this file
        if (same(k, i) && (kw(k - 1, "struct") || kw(k - 1, "class") ||
                           (is(k + 1, ";") && kw(k - 1, "}")) || (kw(k - 1, "using") && is(k + 1, "="))))
            return 1;
    return 0;
}
static int is_type_start(int i) {
    while (kw(i, "const") || kw(i, "volatile") || kw(i, "static") || space_of(i)) i++;
    if (is(i, "metal") && is(i + 1, "::")) i += 2;
    return is_type_name(i);
}
static int float_atomic(int a, int b) {  // atomic_float or atomic<float> among tokens [a, b)
    for (int i = a; i < b; i++)
        if (kw(i, "atomic_float") || (kw(i, "atomic") && is(i + 1, "<") && is(i + 2, "float"))) return 1;
    return 0;
}

// A declaration of a pointer, array or atomic starting at token a (parameter or statement).
// Returns the index of the declared name, or -1. *out gets what is known about it.
static int declaration(int a, int b, Var *out, int is_param) {
    if (!is_type_start(a)) return -1;
    int space = AS_NONE, ptr = 0, depth = 0, i = a;
    for (; i < b; i++) {
        if (toks[i].attr) continue;
        if (space_of(i)) space = space_of(i);
        else if ((is(i, "(") && depth == 0) || is(i, ";") || is(i, "{")) return -1;  // (*f)(), f(): no
        else if (is(i, "<")) depth++;
        else if (is(i, ">")) depth--;
        else if (depth == 0 && is(i, "*")) ptr = 1;
        else if (depth == 0 && is(i, "&") && is_param) ptr = 2;
        else if (depth == 0 && id(i) && (i + 1 == b || is(i + 1, "=") || is(i + 1, ";") || is(i + 1, ",") ||
                                         is(i + 1, "[") || is(i + 1, "[[") || is(i + 1, ")")))
            break;
    }
    if (i >= b) return -1;
    *out = (Var){i, space, ptr, float_atomic(a, i)};
    if (is(i + 1, "[") && !ptr) out->is_ptr = 3, out->space = space ? space : AS_THREAD;  // an array
    return i;
}

static void check_declared(const Var *v, int is_kernel_param) {
    int n = v->name;
    if (v->is_ptr == 1 && v->space == AS_NONE)
        error(n, R_SPACE, "pointer '%.*s' has no address space: write device, constant, "
              "threadgroup or thread before its type", toks[n].len, toks[n].s);
    if (v->is_ptr == 2 && v->space == AS_NONE && is_kernel_param)
        error(n, R_SPACE, "kernel reference parameter '%.*s' has no address space (device or "
              "constant)", toks[n].len, toks[n].s);
    if (v->float_atomic && v->space != AS_DEVICE && (v->is_ptr || v->space != AS_NONE))
        error(n, "§2.6 Atomic data types: atomic_float exists in device memory only",
              "'%.*s': atomic_float in %s memory; Metal has float atomics only in device memory",
              toks[n].len, toks[n].s, space_names[v->space]);
}

// ---- kernels: return type and the types of position attributes ----
static void check_kernel_param(int a, int name) {
    static const char *grid[] = {"thread_position_in_grid", "thread_position_in_threadgroup",
        "threadgroup_position_in_grid", "threads_per_threadgroup", "threadgroups_per_grid",
        "threads_per_grid", "dispatch_threads_per_threadgroup"};
    static const char *index[] = {"thread_index_in_threadgroup", "thread_index_in_simdgroup",
        "simdgroup_index_in_threadgroup", "simdgroups_per_threadgroup", "threads_per_simdgroup",
        "thread_execution_width", "thread_index_in_quadgroup", "quadgroup_index_in_threadgroup"};
    int at = name + 1;
    if (!is(at, "[[")) return;
    int vectors = -1;
    for (size_t k = 0; k < sizeof grid / sizeof *grid; k++) if (is(at + 1, grid[k])) vectors = 1;
    for (size_t k = 0; k < sizeof index / sizeof *index; k++) if (is(at + 1, index[k])) vectors = 0;
    if (vectors < 0) return;
    int type = -1, ntype = 0, ok = 0;  // the one type word besides const
    for (int i = a; i < name; i++)  // metal::uint2 is uint2
        if (!kw(i, "const") && !(is(i, "metal") && is(i + 1, "::")) && !is(i, "::")) type = i, ntype++;
    static const char *allowed[] = {"uint", "ushort", "uint2", "ushort2", "uint3", "ushort3"};
    for (int k = 0; k < (vectors ? 6 : 2) && ntype == 1; k++) ok |= is(type, allowed[k]);
    if (!ok)
        error(name, "§5.2.3.6 Kernel function input attributes: position types",
              "[[%.*s]] parameter '%.*s' must be %s", toks[at + 1].len, toks[at + 1].s,
              toks[name].len, toks[name].s,
              vectors ? "uint or ushort, or a 2- or 3-vector of them" : "uint or ushort");
}

static void check_params(Func *f) {
    int a = f->lparen + 1;
    for (int k = a, depth = 0; k <= f->rparen && a < f->rparen; k++) {
        if (is(k, "(") || is(k, "<")) depth++;
        if (is(k, ")") || is(k, ">")) depth--;
        if (!(k == f->rparen || (depth == 0 && is(k, ",") && !toks[k].attr))) continue;
        Var v;
        if (!(kw(a, "void") && k == a + 1) && declaration(a, k, &v, 1) >= 0) {
            check_declared(&v, f->is_kernel);
            if (f->is_kernel) check_kernel_param(a, v.name);
            f->params = grow(f->params, sizeof *f->params * (size_t)(f->nparams + 1));
            f->params[f->nparams++] = v;
        } else {
            f->params = grow(f->params, sizeof *f->params * (size_t)(f->nparams + 1));
            f->params[f->nparams++] = (Var){-1, AS_NONE, 0, 0};
        }
        a = k + 1;
    }
    if (f->is_kernel && !kw(prev_sig(f->name), "void"))
        error(f->name, "§5.1.3 Kernel functions: a kernel returns void",
              "kernel '%.*s' must return void; write results to a device buffer",
              toks[f->name].len, toks[f->name].s);
}

static Var *lookup(int name) {  // the latest declaration of that name in scope
    for (int k = nvars - 1; k >= 0; k--)
        if (same(vars[k].name, name)) return &vars[k];
    return NULL;
}
static int defined_fn(int i, int *count) {  // index of the function named by token i, or -1
    int found = -1;
    *count = 0;
    for (int k = 0; k < nfn; k++)
        if (same(fns[k].name, i)) found = k, ++*count;
    return found;
}

// ---- calls: address spaces of pointer arguments, atomics on atomic_float ----
static void check_call(int callee_tok, int lp) {
    int rp = match(lp), count, f = defined_fn(callee_tok, &count);
    static const char *no_float[] = {"atomic_fetch_max_explicit", "atomic_fetch_min_explicit",
        "atomic_fetch_and_explicit", "atomic_fetch_or_explicit", "atomic_fetch_xor_explicit"};
    for (size_t k = 0; k < sizeof no_float / sizeof *no_float; k++) {
        if (!is(callee_tok, no_float[k])) continue;
        int x = lp + 1 + is(lp + 1, "&");
        Var *v = id(x) ? lookup(x) : NULL;
        if (v && v->float_atomic)
            error(callee_tok, "§6.15.4 Atomic functions: atomic_float supports load, store, "
                  "exchange, compare_exchange, fetch_add and fetch_sub",
                  "%s on atomic_float '%.*s' does not exist in Metal", no_float[k],
                  toks[x].len, toks[x].s);
    }
    if (f < 0 || count != 1) return;  // overloads may differ in address space: not judged here
    int a = lp + 1, arg = 0;
    for (int k = a, depth = 0; k <= rp && a < rp; k++) {
        depth += is(k, "(") + is(k, "[") - is(k, ")") - is(k, "]");
        if (!(k == rp || (depth == 0 && is(k, ",")))) continue;
        int x = is(a, "&") && is(a + 2, "[") ? a + 1 : a;
        Var *v = id(x) && (x > a || k == a + 1 || is(a + 1, "+") || is(a + 1, "-")) ? lookup(x) : NULL;
        Var *p = arg < fns[f].nparams ? &fns[f].params[arg] : NULL;
        if (v && p && p->is_ptr == 1 && p->space && v->space && v->space != p->space && (v->is_ptr & 1))
            error(x, R_CONVERT, "'%.*s' points to %s memory but parameter %d of '%.*s' ('%.*s') is "
                  "a %s pointer", toks[x].len, toks[x].s, space_names[v->space], arg + 1,
                  toks[fns[f].name].len, toks[fns[f].name].s, toks[p->name].len, toks[p->name].s,
                  space_names[p->space]);
        a = k + 1, arg++;
    }
}

// ---- function bodies ----
static const char *statement_words[] = {"return", "if", "else", "while", "for", "do", "switch",
    "case", "break", "continue", "default", "sizeof"};

static void check_body(Func *f, int **calls, int *ncalls) {
    nvars = nglobals;
    for (int k = 0; k < f->nparams; k++)
        if (f->params[k].name >= 0) {
            vars = grow(vars, sizeof *vars * (size_t)(nvars + 1));
            vars[nvars++] = f->params[k];
        }
    for (int i = f->lbrace + 1; i < f->rbrace; i++) {
        if (toks[i].attr) continue;
        int starts = is(i - 1, ";") || is(i - 1, "{") || is(i - 1, "}") || (is(i - 1, "(") && kw(i - 2, "for"));
        int word = 0;
        for (size_t k = 0; k < sizeof statement_words / sizeof *statement_words; k++) word |= kw(i, statement_words[k]);
        Var v;
        if (starts && !word && declaration(i, f->rbrace, &v, 0) >= 0) {
            check_declared(&v, 0);
            if (v.is_ptr || v.float_atomic) {
                vars = grow(vars, sizeof *vars * (size_t)(nvars + 1));
                vars[nvars++] = v;
            }
        }
        int count;
        if (is(i, "&") && id(i + 1) && !is(i + 2, "(") && defined_fn(i + 1, &count) >= 0)
            error(i, R_RESTRICT, "function pointers are not supported ('&%.*s')", toks[i + 1].len, toks[i + 1].s);
        if (id(i) && is(i + 1, "(") && !member(i) && !word) {
            check_call(i, i + 1);
            int g = defined_fn(i, &count);  // overloads: which one is called is not known here
            if (g >= 0 && count == 1) {
                *calls = grow(*calls, sizeof **calls * (size_t)(*ncalls + 2));
                (*calls)[(*ncalls)++] = g, (*calls)[(*ncalls)++] = i;
            }
        }
    }
}

// ---- recursion: a cycle in the call graph of the file's functions ----
static int **callees, *ncallees, *on_path;
static int reaches(int from, int target, int depth, int *path) {
    if (depth > nfn) return 0;
    for (int k = 0; k < ncallees[from]; k += 2) {
        int g = callees[from][k];
        path[depth] = g;
        if (g == target) return depth + 1;
        if (on_path[g]) continue;
        on_path[g] = 1;
        int n = reaches(g, target, depth + 1, path);
        on_path[g] = 0;
        if (n) return n;
    }
    return 0;
}

static void check_recursion(void) {
    int *reported = calloc((size_t)nfn + 1, sizeof *reported), *path = calloc((size_t)nfn + 2, sizeof *path);
    on_path = calloc((size_t)nfn + 1, sizeof *on_path);
    for (int f = 0; f < nfn; f++) {
        if (reported[f]) continue;
        int n = reaches(f, f, 0, path);
        if (!n) continue;
        char chain[512] = "";
        size_t len = (size_t)snprintf(chain, sizeof chain, "%.*s", toks[fns[f].name].len, toks[fns[f].name].s);
        for (int k = 0; k < n && len < sizeof chain; k++) {
            len += (size_t)snprintf(chain + len, sizeof chain - len, " -> %.*s", toks[fns[path[k]].name].len,
                                    toks[fns[path[k]].name].s);
            reported[path[k]] = 1;
        }
        int site = fns[f].name;  // the call in f that starts the cycle
        for (int k = 0; k < ncallees[f]; k += 2)
            if (callees[f][k] == path[0]) { site = callees[f][k + 1]; break; }
        error(site, R_RESTRICT, "recursive call: %s", chain);
    }
    free(reported), free(path), free(on_path);
}

// ---- the whole file ----
static void check_tokens(void) {
    static const char *banned[][2] = {
        {"double", "'double' is not a Metal type: use float"}, {"virtual", "virtual functions are not supported"},
        {"new", "'new' is not supported"}, {"delete", "'delete' is not supported"},
        {"goto", "'goto' is not supported"}, {"dynamic_cast", "dynamic_cast is not supported"},
        {"typeid", "typeid is not supported"}, {"throw", "exceptions are not supported"},
        {"try", "exceptions are not supported"}, {"thread_local", "thread_local is not supported"}};
    for (int i = 0; i < ntok; i++) {
        if (is(i, "(") && is(i + 1, "*") && (is(i + 2, ")") || (id(i + 2) && is(i + 3, ")"))) &&
            is(i + 3 + id(i + 2), "("))
            error(i, R_RESTRICT, "function pointers are not supported");
        if (!id(i) || member(i)) continue;
        for (size_t k = 0; k < sizeof banned / sizeof *banned; k++)
            if (is(i, banned[k][0]) && !(is(i, "delete") && is(i - 1, "=")))  // = delete is fine
                error(i, k ? R_RESTRICT : "§2.1 Scalar data types: no double or long double", "%s", banned[k][1]);
    }
}

// Everything a check allocated, freed, and the counts back to zero: one process may check many
// files (the fuzz target does).
static void reset(void) {
    for (int f = 0; f < nfn; f++) free(fns[f].params), free(callees ? callees[f] : NULL);
    free(callees), free(ncallees), free(fns), free(vars), free(toks);
    for (int f = 0; f < nfiles; f++) free(files[f]);
    free(files);
    callees = NULL, ncallees = NULL, fns = NULL, vars = NULL, toks = NULL, files = NULL;
    nfn = nvars = nglobals = ntok = nfiles = nerrors = 0;
}

int mslstrict_check(const char *source, const char *text) {
    reset();
    if (setjmp(unbalanced)) {
        const Tok *t = &toks[unbalanced_at];
        fprintf(stderr, "%s:%d: error: this '%c' is never closed\n", files[t->file], t->line, t->s[0]);
        reset();
        return -1;
    }
    tokenize(text, source);
    check_tokens();
    find_program_scope();
    callees = calloc((size_t)nfn + 1, sizeof *callees), ncallees = calloc((size_t)nfn + 1, sizeof *ncallees);
    if (!callees || !ncallees) fprintf(stderr, "mslstrict: out of memory\n"), exit(2);
    for (int f = 0; f < nfn; f++) check_params(&fns[f]);
    for (int f = 0; f < nfn; f++) check_body(&fns[f], &callees[f], &ncallees[f]);
    check_recursion();
    const int n = nerrors;
    reset();
    return n;
}
