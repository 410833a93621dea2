// Fuzz target: config.json text through config_parse. An accepted config must be usable: its
// sizes positive and its derived products representable, which later code relies on.
#include <math.h>
#include <stdlib.h>

#include "config.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    char *json = fuzz_strndup(data, size);
    Config c;
    if (config_parse(&c, json, "config.json") == 0) {
        // What model_load and the forward pass take for granted once a config has been accepted.
        if (c.dim <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.head_dim <= 0 || c.n_layers <= 0 ||
            c.vocab_size <= 0 || c.ffn_dim <= 0 || c.n_heads % c.n_kv_heads != 0)
            fuzz_fail("config_parse accepted a size <= 0 or heads not a multiple of kv heads");
        // The floats the math uses: a value valid as a double that became 0 or inf as a float
        // would make every logit NaN while the run "succeeds".
        if (!(isfinite(c.norm_eps) && c.norm_eps > 0 && isfinite(c.rope_theta) && c.rope_theta > 0))
            fuzz_fail("config_parse accepted rms_norm_eps or rope_theta that is 0 or inf as a float");
    }
    free(json);
    return 0;
}
