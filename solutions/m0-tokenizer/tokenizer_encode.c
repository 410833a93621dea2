// Encoding, the whole pipeline: added tokens first, then NFC, the pre-tokenizer and BPE.
#include <stdio.h>
#include <string.h>

#include "stb_ds.h"
#include "tokenizer.h"
#include "unicode.h"

const AddedToken *added_token_at(const Tokenizer *t, const char *text, size_t len) {
    //> M0 special-tokens
    //? Compare each added token's text with the start of text; keep the longest that matches
    //? (Hugging Face matches "leftmost-longest": "<think>" must not win over a longer token that
    //? starts the same way). They all start with a byte like '<', so most positions fail fast.
    const AddedToken *best = NULL;
    for (size_t k = 0; k < arrlenu(t->added); k++) {
        const AddedToken *a = &t->added[k];
        if (a->len <= len && a->text[0] == text[0] && memcmp(a->text, text, a->len) == 0 &&
            (!best || a->len > best->len))
            best = a;
    }
    return best;
    //<
}

// Encodes ordinary text (no added tokens in it): NFC, pre-tokenize, BPE each piece.
static void encode_segment(const Tokenizer *t, const char *text, size_t len, int32_t **ids) {
    if (len == 0) return;
    char *normal = NULL;   // stb_ds arrays
    size_t *ends = NULL;
    unicode_nfc_append((const uint8_t *)text, len, &normal);
    pretokenize(normal, arrlenu(normal), &ends);
    size_t start = 0;
    for (size_t k = 0; k < arrlenu(ends); k++) {
        bpe_encode_piece(t, normal + start, ends[k] - start, ids);
        start = ends[k];
    }
    arrfree(ends);
    arrfree(normal);
}

int tokenizer_encode(const Tokenizer *t, const char *text, size_t len, bool split_special, int32_t **ids) {
    size_t bad = utf8_first_invalid((const uint8_t *)text, len);
    if (bad < len) {
        fprintf(stderr, "tokenizer: input is not valid UTF-8 (byte 0x%02X at offset %zu)\n",
                (unsigned)(uint8_t)text[bad], bad);
        return -1;
    }
    //> M0 encode
    //? Walk the text looking for added tokens (added_token_at); encode the ordinary text between
    //? them with encode_segment and emit each added token's id as it is. Without split_special,
    //? tokens flagged special are ordinary text (the others, like "<think>", still split).
    size_t segment = 0;  // start of the ordinary text not yet encoded
    for (size_t i = 0; i < len; i++) {
        if (!t->starts_added[(uint8_t)text[i]]) continue;  // the usual case: no token starts here
        const AddedToken *a = added_token_at(t, text + i, len - i);
        if (!a || (a->special && !split_special)) continue;
        encode_segment(t, text + segment, i - segment, ids);
        arrput(*ids, a->id);
        i += a->len - 1;
        segment = i + 1;
    }
    encode_segment(t, text + segment, len - segment, ids);
    //<
    return 0;
}
