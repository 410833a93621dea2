// Fuzz target: tokenizer_encode on arbitrary bytes, with the committed tiny tokenizer
// (models/tiny/tokenizer.json, loaded once). The first input byte picks split_special; the rest is
// the text. Checks: every id in range, and for ASCII text (which NFC leaves alone) decoding the
// ids gives the text back byte for byte.
#include <stdbool.h>
#include <string.h>

#include "fuzz_util.h"
#define typeof __typeof__   // stb_ds's macros use GNU typeof; -std=c11 spells it __typeof__
#include "stb_ds.h"
#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    const Tokenizer *tok = fuzz_tiny_tokenizer();
    if (size == 0) return 0;
    bool split_special = data[0] & 1;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int32_t *ids = NULL;
    if (tokenizer_encode(tok, text, len, split_special, &ids) == 0) {
        int32_t n = tokenizer_vocab_size(tok);
        for (size_t i = 0; i < arrlenu(ids); i++)
            if (ids[i] < 0 || ids[i] >= n) fuzz_fail("tokenizer_encode returned an id out of range");
        bool ascii = true;
        for (size_t i = 0; i < len && ascii; i++) ascii = (unsigned char)text[i] < 0x80;
        char *back = NULL;
        if (tokenizer_decode(tok, ids, arrlenu(ids), &back) != 0) fuzz_fail("decode refused encode's ids");
        if (ascii && (arrlenu(back) != len || (len && memcmp(back, text, len) != 0)))
            fuzz_fail("decode(encode(ascii text)) is not the text");
        arrfree(back);
    } else if (arrlenu(ids) != 0) {
        fuzz_fail("tokenizer_encode failed but appended ids");
    }
    arrfree(ids);
    return 0;
}
