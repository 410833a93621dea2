// Decoding: ids -> the bytes each token stands for -> UTF-8 text, at once or one id at a time.
#include <stdio.h>
#include <string.h>

#include "stb_ds.h"
#include "tokenizer.h"
#include "unicode.h"

static int bad_id(const Tokenizer *t, int32_t id) {
    fprintf(stderr, "tokenizer: token id %ld is not in the vocabulary (ids are 0..%ld)\n", (long)id,
            (long)t->vocab_size - 1);
    return -1;
}

// Appends the bytes that token id stands for to *bytes. Returns 0, or -1 for an unknown id.
static int token_bytes(const Tokenizer *t, int32_t id, uint8_t **bytes) {
    if (id < 0 || id >= t->vocab_size || !t->token_text[id]) return bad_id(t, id);
    const char *text = t->token_text[id];
    size_t len = strlen(text);
    //> M0 decode
    //? An ordinary token is written in the byte-level alphabet: map each of its characters back
    //? to a byte with t->char_to_byte. If any character is not in the alphabet (added tokens
    //? like "<|im_end|>" are plain text; so is anything unusual), the token's own UTF-8 bytes are
    //? its bytes, which is what Hugging Face's ByteLevel decoder does.
    size_t start = arrlenu(*bytes);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int n = utf8_next((const uint8_t *)text + i, len - i, &cp);
        int byte = n > 0 && cp < 512 ? t->char_to_byte[cp] : -1;
        if (byte < 0) {  // not byte-level text: take it literally
            arrsetlen(*bytes, start);
            memcpy(arraddnptr(*bytes, len), text, len);
            return 0;
        }
        arrput(*bytes, (uint8_t)byte);
        i += (size_t)n;
    }
    return 0;
    //<
}

int tokenizer_decode(const Tokenizer *t, const int32_t *ids, size_t n, char **text) {
    uint8_t *bytes = NULL;
    for (size_t i = 0; i < n; i++) {
        if (token_bytes(t, ids[i], &bytes) != 0) {
            arrfree(bytes);
            return -1;
        }
    }
    // Tokens can end in the middle of a character; only the whole sequence is UTF-8 (or not:
    // then each broken piece becomes U+FFFD, as Rust's from_utf8_lossy does in Hugging Face).
    utf8_lossy_append(bytes, arrlenu(bytes), true, text);
    arrfree(bytes);
    return 0;
}

void token_stream_init(TokenStream *s, const Tokenizer *t) {
    memset(s, 0, sizeof *s);
    s->tok = t;
}

const char *token_stream_feed(TokenStream *s, int32_t id, size_t *len) {
    arrfree(s->out);  // the previous call's text
    uint8_t *bytes = NULL;
    for (int i = 0; i < s->npending; i++) arrput(bytes, s->pending[i]);
    if (token_bytes(s->tok, id, &bytes) != 0) {
        arrfree(bytes);
        return NULL;
    }
    //> M0 stream-decode
    //? Convert the held-back bytes plus this token's bytes with utf8_lossy_append(..., final =
    //? false, ...): it stops before an incomplete character at the end. Keep those last bytes
    //? (at most 3) in s->pending for the next call.
    size_t n = arrlenu(bytes);
    size_t used = utf8_lossy_append(bytes, n, false, &s->out);
    s->npending = (int)(n - used);
    if (n > used) memcpy(s->pending, bytes + used, n - used);
    //<
    arrfree(bytes);
    arrput(s->out, '\0');  // so callers may also treat it as a C string
    *len = arrlenu(s->out) - 1;
    return s->out;
}

const char *token_stream_finish(TokenStream *s, size_t *len) {
    arrfree(s->out);
    utf8_lossy_append(s->pending, (size_t)s->npending, true, &s->out);
    s->npending = 0;
    arrput(s->out, '\0');
    *len = arrlenu(s->out) - 1;
    return s->out;
}

void token_stream_free(TokenStream *s) {
    arrfree(s->out);
    s->npending = 0;
}
