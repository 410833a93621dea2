// mslstrict: the MSL emulator's strict front-end. Apple's Metal compiler refuses things that a
// C++ compiler (and so the emulator, which compiles shaders as C++) accepts; a kernel that
// passes on Linux must compile on a Mac. This pass reads the preprocessed .metal file (the same
// .i that tools/mslpp rewrites; its line markers give the .metal file and line) and refuses,
// each with the rule of Apple's Metal Shading Language Specification it breaks:
//   pointers without an address space, a pointer passed to a parameter of another address
//   space, double, recursion, function pointers, virtual, new/delete, goto and the other C++
//   features MSL leaves out, a kernel that does not return void, a position attribute of the
//   wrong type, a mutable program-scope variable, and atomic_float where Metal has none.
//
//   mslstrict SOURCE.metal < preprocessed.i     (silent and 0 when the file is valid MSL; 1 when
//                                                 it is not, or a bracket is never closed)
//
// It is a token-level checker, not a compiler: it knows the shapes these rules take in real
// kernels (declarations, parameter lists, direct calls) and stays quiet where it cannot tell.
// Section numbers follow the MSL specification 3.2; the titles find them in other versions.
#include <stdio.h>
#include <stdlib.h>

#include "mslstrict.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: mslstrict SOURCE.metal < preprocessed.i\n"
                        "  refuses what Apple's Metal compiler refuses, citing the MSL rule\n");
        return 2;
    }
    size_t cap = 1 << 16, len = 0, n;
    char *in = malloc(cap);
    while (in && (n = fread(in + len, 1, cap - len - 1, stdin)) > 0)
        if ((len += n) + 1 == cap) {
            char *more = realloc(in, cap *= 2);
            if (!more) free(in);
            in = more;
        }
    if (!in) return fprintf(stderr, "mslstrict: out of memory\n"), 2;
    in[len] = 0;
    const int errors = mslstrict_check(argv[1], in);
    free(in);
    if (errors > 0)
        fprintf(stderr, "%s: %d error%s: Apple's Metal compiler would refuse this file "
                "(tools/mslstrict, book/appendix-emulator.md)\n", argv[1], errors, errors > 1 ? "s" : "");
    return errors ? 1 : 0;
}
