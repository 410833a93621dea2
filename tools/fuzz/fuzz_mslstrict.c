// Fuzz target: the MSL emulator's strict front-end (tools/mslstrict_rules.c: mslstrict_check),
// which reads what a learner writes in a .metal file (after the C preprocessor) before the
// emulator compiles it. The input is that text, in an exact-size heap copy, so a read past its
// end is seen. It must return a count or -1, and never crash whatever the text. Seeds
// (tools/fuzz/make_seeds.py): the strict suite's good and bad shaders, the engine's own, and a
// few cut-off files.
#include <stdlib.h>

#include "../mslstrict.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    char *text = fuzz_strndup(data, size);
    if (mslstrict_check("fuzz.metal", text) < -1) fuzz_fail("mslstrict_check returned below -1");
    free(text);
    return 0;
}
