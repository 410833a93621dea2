// mslpp's last pass: one trampoline per kernel, which maps [[buffer(n)]], [[threadgroup(n)]]
// and the position built-ins to the kernel's arguments (types from decltype(kernel)), and the
// table that registers the file's kernels with the runtime before main() runs.
#include <stdlib.h>

#include "mslpp.h"

static const char *builtins[][2] = {
    {"thread_position_in_grid", "t->pos_grid"}, {"thread_position_in_threadgroup", "t->pos_tg"},
    {"threadgroup_position_in_grid", "t->tg_pos"}, {"threads_per_threadgroup", "t->tg_size"},
    {"threadgroups_per_grid", "t->ngroups"}, {"threads_per_grid", "t->grid_size"},
    {"thread_index_in_threadgroup", "&t->index_tg"}, {"thread_index_in_simdgroup", "&t->lane"},
    {"simdgroup_index_in_threadgroup", "&t->simd"}, {"simdgroups_per_threadgroup", "&t->nsimd"},
    {"threads_per_simdgroup", "&msl::simd_width"}, {"thread_execution_width", "&msl::simd_width"}};

static char *param_arg(int a, int b, int index) {  // one kernel parameter [a, b)
    int at = a;
    while (at < b && !is(at, "[[")) at++;
    if (at == b) die(toks[a].line, "kernel parameter without an [[attribute]]");
    char *P = fmt("msl::param<%d, F>::type", index), *r = NULL;
    int x = at + 1;
    if ((is(x, "buffer") || is(x, "threadgroup")) && is(x + 1, "(") && toks[x + 2].kind == T_NUM) {
        int n = atoi(toks[x + 2].s);
        if (n < 0 || n > 30) die(toks[x].line, "%s index must be 0..30", text(x));
        r = fmt("msl::%s<%s>(t, %d)", is(x, "buffer") ? "buffer" : "tgbuf", P, n);
    }
    for (size_t k = 0; !r && k < sizeof builtins / sizeof *builtins; k++)
        if (is(x, builtins[k][0])) r = fmt("msl::builtin<%s>(%s)", P, builtins[k][1]);
    if (!r) die(toks[x].line, "kernel parameter attribute [[%s]] is not supported by the MSL emulator", text(x));
    free(P);
    return r;
}

// Parameter [a, b) is `device T *name [[buffer(n)]]` without const: the kernel may write
// buffer n (the checking build watches it for races). Returns its bit, or 0.
static unsigned writable_buffer(int a, int b) {
    int dev = 0, cnst = 0, star = 0;
    for (int k = a; k < b && !is(k, "[["); k++) {
        if (is(k, "device")) dev = 1;
        if (is(k, "const") && !star) cnst = 1;
        if (is(k, "*")) star = 1;
    }
    for (int k = a; k + 3 < b; k++)
        if (is(k, "[[") && is(k + 1, "buffer") && is(k + 2, "(") && toks[k + 3].kind == T_NUM)
            return dev && star && !cnst ? 1u << (atoi(toks[k + 3].s) & 31) : 0;
    return 0;
}

void emit_trampolines(FILE *out) {
    int nk = 0;
    unsigned *writes = calloc((size_t)nfn + 1, sizeof *writes);
    fprintf(out, "\n# 1 \"<mslpp: trampolines for %s>\"\n", src_name);
    for (int i = 0; i < nfn; i++) {
        Func *f = &fns[i];
        if (!f->is_kernel) continue;
        char *name = text(f->name);
        fprintf(out, "static void msl_entry_%s(MslThread *t) {\n    typedef decltype(%s) F;\n"
                     "    (void)t;\n    %s(", name, name, name);
        int a = f->lparen + 1, index = 0;
        for (int k = a, depth = 0; k <= f->rparen; k++) {
            if (is(k, "(") || is(k, "<") || is(k, "[[")) depth++;
            if (is(k, ")") || is(k, ">") || is(k, "]]")) depth--;
            if ((is(k, ",") && depth == 0) || (k == f->rparen && k > a)) {
                char *arg = param_arg(a, k, index);
                writes[i] |= writable_buffer(a, k);
                fprintf(out, "%s\n        %s", index ? "," : "", arg);
                free(arg);
                a = k + 1, index++;
            }
        }
        fprintf(out, ");\n}\n");
        free(name);
        nk++;
    }
    fprintf(out, "const MslKernel msl_kernels[] = {\n");
    for (int i = 0; i < nfn; i++) {
        Func *f = &fns[i];
        if (!f->is_kernel) continue;
        const char *kind = f->uses_barrier || f->uses_tg ? "MSL_FULL" : f->uses_simd ? "MSL_SIMD" : "MSL_PLAIN";
        fprintf(out, "    {\"%.*s\", msl_entry_%.*s, %s, %d, %d, 0x%xu},\n", toks[f->name].len,
                toks[f->name].s, toks[f->name].len, toks[f->name].s, kind, toks[f->name].line,
                check_mode, writes[i]);
    }
    if (!nk) fprintf(out, "    {\"\", 0, MSL_PLAIN, 0, 0, 0},\n");
    free(writes);
    fprintf(out, "};\n}  // namespace\n\n__attribute__((constructor)) static void msl_register_kernels() {\n"
                 "    msl_register(\"%s\", msl_kernels, %d);\n}\n", src_name, nk);
}
