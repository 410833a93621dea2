// What the two files of mslpp (the MSL emulator's pre-pass) share: the tokens, the functions
// found in them, and the helpers to look at them. mslpp.c tokenizes and rewrites;
// mslpp_emit.c writes the trampolines and the kernel registration.
#ifndef MSLPP_H
#define MSLPP_H

#include <stdio.h>

enum { T_ID, T_NUM, T_STR, T_PUNCT, T_DIRECTIVE };

typedef struct {
    int kind, line;
    const char *s, *gap;  // token text and the whitespace before it
    int len, gaplen;
    char *rep;            // replacement text, NULL = unchanged
} Tok;

typedef struct {
    int name, lparen, rparen, lbrace, rbrace;  // token indices
    int is_kernel, uses_barrier, uses_simd, uses_tg;
} Func;

extern Tok *toks;
extern int ntok;
extern Func *fns;
extern int nfn;
extern const char *src_name;
extern int check_mode;   // -check: the checking build

__attribute__((format(printf, 2, 3), noreturn)) void die(int line, const char *fmt, ...);
char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
int is(int i, const char *s);  // token i is s
char *text(int i);             // token i as a new string

void emit_trampolines(FILE *out);  // mslpp_emit.c

#endif
