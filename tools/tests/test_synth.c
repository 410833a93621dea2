// tools/synth must write the same bytes on every run, compiler and platform: the golden files in
// golden/m1 and golden/m2 were computed by transformers from exactly these models (their sha256s
// are in the MANIFESTs), so a generator that drifted would make every M1/M2 test meaningless.
// The pinned FNV-1a values below were taken from the files the oracle read; gcc and clang builds
// produce them identically.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

// $PS_SYNTH picks another build of the tool (make check runs this test on the clang build too).
static const char *synth(void) {
    const char *p = getenv("PS_SYNTH");
    return p && *p ? p : "build/tools/synth";
}

static const struct { const char *preset; uint64_t config, weights; } PINNED[] = {
    {"tiny-mha-f32", 0xe277aeed7d36d38aull, 0x7ff901a44407b359ull},
    {"tiny-gqa2-bf16", 0x34bebc88915f290bull, 0xe6f0266fd6362cbdull},
    {"small-gqa4-bf16", 0x71e4815c86daae36ull, 0xef7dd957132869efull},
    {"small-tiedcopy-f32", 0xf980106f68323a3aull, 0x62ab2df7adc52899ull},
};

static uint64_t fnv1a_file(const char *path) {
    FILE *f = fopen(path, "rb");
    PS_CHECK(f != NULL, "cannot read %s", path);
    uint64_t h = 0xcbf29ce484222325ull;
    int c;
    while ((c = getc(f)) != EOF) h = (h ^ (uint64_t)c) * 0x100000001b3ull;
    fclose(f);
    return h;
}

static void run_synth(const char *preset, const char *out, const char *extra) {
    if (!ps_file_exists(synth()) && !ps_make("build/tools/synth"))
        PS_SKIP("cannot build %s", synth());
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s %s %s %s", synth(), preset, out, extra);
    PS_CHECK(system(cmd) == 0, "'%s' failed", cmd);
}

// Two runs, pinned checksums.
static void t_pinned(void) {
    const char *tmp = ps_test_dir();   // the harness removes it
    for (size_t i = 0; i < PS_COUNT(PINNED); i++) {
        for (int run = 0; run < 2; run++) {
            char dir[300], path[340];
            snprintf(dir, sizeof dir, "%s/%s-%d", tmp, PINNED[i].preset, run);
            run_synth(PINNED[i].preset, dir, "");
            snprintf(path, sizeof path, "%s/config.json", dir);
            uint64_t c = fnv1a_file(path);
            snprintf(path, sizeof path, "%s/model.safetensors", dir);
            uint64_t w = fnv1a_file(path);
            PS_CHECK(c == PINNED[i].config && w == PINNED[i].weights,
                     "%s (run %d): fnv1a config %016llx weights %016llx, pinned %016llx %016llx", PINNED[i].preset,
                     run + 1, (unsigned long long)c, (unsigned long long)w, (unsigned long long)PINNED[i].config,
                     (unsigned long long)PINNED[i].weights);
        }
    }
}

// The seed matters (and only the weights depend on it); a bad preset name or seed is refused.
static void t_seed_and_errors(void) {
    const char *tmp = ps_test_dir();   // the harness removes it
    char dir[300], path[340];
    snprintf(dir, sizeof dir, "%s/seeded", tmp);
    run_synth("tiny-mha-f32", dir, "--seed 2");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    PS_CHECK(fnv1a_file(path) != PINNED[0].weights, "--seed 2 must give different weights than the default seed 1");
    snprintf(path, sizeof path, "%s/config.json", dir);
    PS_CHECK(fnv1a_file(path) == PINNED[0].config, "the config does not depend on the seed");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s no-such-preset %s/x 2>/dev/null", synth(), tmp);
    PS_CHECK(system(cmd) != 0, "an unknown preset must fail");
    snprintf(cmd, sizeof cmd, "%s tiny-mha-f32 %s/y --seed 12abc 2>/dev/null", synth(), tmp);
    PS_CHECK(system(cmd) != 0, "a malformed seed must fail");
}

static const PsTest TESTS[] = {
    {"synth.pinned", t_pinned, "tools/synth.c", 60},
    {"synth.seed-and-errors", t_seed_and_errors, "tools/synth.c", 30},
};

int main(int argc, char **argv) { return ps_main("tools", TESTS, PS_COUNT(TESTS), argc, argv); }
