// Fuzz target: tokenizer_decode and the streaming decoder on arbitrary ids, with the committed tiny
// tokenizer (loaded once). Each 2 input bytes give one id in [-4, vocab_size + 4), so most ids
// are valid and the edges on both sides are hit. Checks: when every id is valid, the stream's
// pieces put together equal decode's text.
#include <stdbool.h>
#include <string.h>

#include "fuzz_util.h"
#define typeof __typeof__   // stb_ds's macros use GNU typeof; -std=c11 spells it __typeof__
#include "stb_ds.h"
#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    const Tokenizer *tok = fuzz_tiny_tokenizer();
    int32_t vocab = tokenizer_vocab_size(tok);
    size_t n = size / 2;
    int32_t *ids = NULL;
    bool all_valid = true;
    for (size_t i = 0; i < n; i++) {
        unsigned v = (unsigned)data[2 * i] | (unsigned)data[2 * i + 1] << 8;
        int32_t id = (int32_t)(v % (unsigned)(vocab + 8)) - 4;
        all_valid = all_valid && id >= 0 && id < vocab;
        arrput(ids, id);
    }
    char *text = NULL;
    int rc = tokenizer_decode(tok, ids, n, &text);
    if (all_valid && rc != 0) fuzz_fail("tokenizer_decode refused valid ids");

    TokenStream s;
    token_stream_init(&s, tok);
    char *streamed = NULL;
    size_t len;
    for (size_t i = 0; i < n; i++) {
        const char *piece = token_stream_feed(&s, ids[i], &len);
        if (!piece && ids[i] >= 0 && ids[i] < vocab) fuzz_fail("token_stream_feed refused a valid id");
        if (piece && len) memcpy(arraddnptr(streamed, len), piece, len);
    }
    const char *tail = token_stream_finish(&s, &len);
    if (tail && len) memcpy(arraddnptr(streamed, len), tail, len);
    if (all_valid && (arrlenu(streamed) != arrlenu(text) || (arrlenu(text) && memcmp(streamed, text, arrlenu(text)) != 0)))
        fuzz_fail("the stream's pieces differ from tokenizer_decode's text");
    token_stream_free(&s);
    arrfree(streamed);
    arrfree(text);
    arrfree(ids);
    return 0;
}
