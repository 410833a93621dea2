// The macOS backend cannot run on Linux, so we check what we can: every selector it sends
// (each written as sel("...") in shared/mtl_macos.c) must appear in shared/mtl_selectors.txt,
// the list of Metal and Foundation selectors copied from Apple's documentation. A typo in a
// selector would otherwise only show up on a Mac, as "unrecognized selector sent to instance".
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "test_emu.h"

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    PS_CHECK(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    PS_CHECK(s && fread(s, 1, (size_t)n, f) == (size_t)n, "cannot read %s", path);
    s[n] = 0;
    fclose(f);
    return s;
}

static int listed(const char *list, const char *sel) {  // a whole line starts with sel
    size_t n = strlen(sel);
    for (const char *p = list; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, sel, n) && (p[n] == ' ' || p[n] == '\n' || p[n] == '\t' || !p[n]))
            return 1;
    return 0;
}

void t_selectors(void) {
    char *src = slurp("shared/mtl_macos.c"), *list = slurp("shared/mtl_selectors.txt");
    int count = 0;
    for (const char *p = strstr(src, "sel(\""); p; p = strstr(p + 1, "sel(\"")) {
        const char *a = p + 5, *b = strchr(a, '"');
        PS_CHECK(b && b - a < 128, "unterminated sel(\"...\") in shared/mtl_macos.c");
        char name[128];
        memcpy(name, a, (size_t)(b - a));
        name[b - a] = 0;
        PS_CHECK(listed(list, name), "selector \"%s\" (shared/mtl_macos.c) is not in "
                 "shared/mtl_selectors.txt: check its spelling against Apple's documentation", name);
        count++;
    }
    PS_CHECK(count >= 20, "only %d selectors found in shared/mtl_macos.c", count);
    int raw = 0;  // selectors must go through sel("..."), or this test would not see them
    for (const char *p = strstr(src, "sel_registerName("); p; p = strstr(p + 1, "sel_registerName("))
        raw++;
    PS_CHECK(raw == 1, "sel_registerName is called %d times; only sel() may call it", raw);
    free(src);
    free(list);
}
