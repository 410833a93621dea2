// Fuzz target: generation_config.json through generation_defaults_load (it reads the file from a
// model directory: the input is written to a scratch one).
#include "fuzz_util.h"
#include "generate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    const char *dir = fuzz_scratch_dir();
    fuzz_write_file(dir, "generation_config.json", data, size);
    GenerationDefaults g;
    if (generation_defaults_load(&g, dir, 2) == 0 && (g.n_stop < 0 || g.n_stop > MAX_STOP_IDS))
        fuzz_fail("generation_defaults_load: stop id count out of range");
    return 0;
}
