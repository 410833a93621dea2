// Fuzz target: a tokenizer.json (the input, written to a scratch file) through tokenizer_load.
// A tokenizer that loads is then used: a fixed text is encoded and decoded and every id's text
// looked up, so a vocabulary the loader accepted but left inconsistent shows up here.
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#define typeof __typeof__   // stb_ds's macros use GNU typeof; -std=c11 spells it __typeof__
#include "stb_ds.h"
#include "tokenizer.h"

static const char SAMPLE[] = "Hello, world! <|im_start|>user\n caf\xc3\xa9 \xe4\xb8\xad 123\r\n\t<|endoftext|>";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    const char *path = fuzz_write_file(fuzz_scratch_dir(), "tokenizer.json", data, size);
    Tokenizer *t = tokenizer_load(path);
    if (!t) return 0;
    int32_t n = tokenizer_vocab_size(t);
    if (n <= 0) fuzz_fail("tokenizer_load accepted an empty vocabulary");
    int32_t *ids = NULL;
    char *text = NULL;
    for (int split = 0; split < 2; split++) {
        arrfree(ids);   // (arrsetlen(.., 0) trips -Wtype-limits inside stb_ds)
        if (tokenizer_encode(t, SAMPLE, sizeof SAMPLE - 1, split, &ids) == 0) {
            for (size_t i = 0; i < arrlenu(ids); i++)
                if (ids[i] < 0 || ids[i] >= n) fuzz_fail("tokenizer_encode returned an id out of range");
            arrfree(text);
            tokenizer_decode(t, ids, arrlenu(ids), &text);
        }
    }
    // Every id, through the lookup and through decoding (at most a few thousand: speed).
    int32_t last = n < 4096 ? n : 4096;
    for (int32_t id = 0; id < last; id++) {
        const char *s = tokenizer_token_text(t, id);
        if (s) (void)strlen(s);
        arrfree(text);
        tokenizer_decode(t, &id, 1, &text);
    }
    arrfree(ids);
    arrfree(text);
    tokenizer_free(t);
    return 0;
}
