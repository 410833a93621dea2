// M0 tests, part 4: decoding, at once and streamed, against Hugging Face's decode(ids) of every
// test case, and of byte sequences that are not valid UTF-8 (golden/m0/{qwen3,tiny}.psg).
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "stb_ds.h"
#include "tokenizer.h"
#include "unicode.h"

#define QWEN3 "models/qwen3-0.6b/tokenizer.json"
#define TINY "models/tiny/tokenizer.json"

static Tokenizer *load(const char *path) {
    if (!ps_file_exists(path))
        PS_SKIP("%s is missing: run `make tokenizer` (it fetches Qwen3's tokenizer.json)", path);
    Tokenizer *t = tokenizer_load(path);
    PS_CHECK(t != NULL, "tokenizer_load(\"%s\") failed", path);
    return t;
}

static void check_text(const char *what, size_t c, const char *got, size_t ngot, const char *want, size_t nwant) {
    if (ngot == nwant && (nwant == 0 || memcmp(got, want, nwant) == 0)) return;
    size_t k = 0;
    while (k < ngot && k < nwant && got[k] == want[k]) k++;
    printf("  ours: \"%.*s\"\n  want: \"%.*s\"\n", (int)(ngot < 300 ? ngot : 300), got,
           (int)(nwant < 300 ? nwant : 300), want);
    PS_FAIL("%s %zu: texts differ from byte %zu (ours %zu bytes, Hugging Face %zu)", what, c, k, ngot, nwant);
}

// ids -> text for every case (ids are Hugging Face's, so decode is tested on its own), then the
// broken-UTF-8 sequences, which become U+FFFD the way Rust's from_utf8_lossy does it.
static void check_decode(const char *path, const char *golden) {
    Tokenizer *t = load(path);
    PsGolden *g = ps_golden_open(golden);
    const char *lists[][2] = {{"cases.ids", "cases.decoded"}, {"lossy.ids", "lossy.text"}};
    for (int l = 0; l < 2; l++) {
        PsList ids = ps_golden_list(g, lists[l][0]), text = ps_golden_list(g, lists[l][1]);
        for (size_t c = 0; c < ids.n; c++) {
            char *got = NULL;
            const int32_t *id = (const int32_t *)ids.data + ids.off[c];
            PS_CHECK(tokenizer_decode(t, id, (size_t)(ids.off[c + 1] - ids.off[c]), &got) == 0, "%s %zu: decode failed",
                     lists[l][0], c);
            check_text(lists[l][1], c, got, arrlenu(got), (const char *)text.data + text.off[c],
                       (size_t)(text.off[c + 1] - text.off[c]));
            arrfree(got);
        }
    }
    ps_golden_close(g);
    tokenizer_free(t);
}

static void t_decode_qwen3(void) { check_decode(QWEN3, "golden/m0/qwen3.psg"); }
static void t_decode_tiny(void) { check_decode(TINY, "golden/m0/tiny.psg"); }

static void t_decode_bad_id(void) {
    Tokenizer *t = load(TINY);
    int32_t size = tokenizer_vocab_size(t);
    int32_t ids[][2] = {{0, size}, {-1, 0}, {1, 2000000000}};
    for (int i = 0; i < 3; i++) {
        char *text = NULL;
        PS_CHECK(tokenizer_decode(t, ids[i], 2, &text) == -1, "ids %d %d must be refused", (int)ids[i][0], (int)ids[i][1]);
        arrfree(text);
    }
    TokenStream s;
    token_stream_init(&s, t);
    size_t len;
    PS_CHECK(token_stream_feed(&s, size, &len) == NULL, "the stream must refuse id %d", (int)size);
    token_stream_free(&s);
    tokenizer_free(t);
}

// Feeding ids one at a time must give the same text as decoding them at once, and every piece
// handed out must be whole UTF-8 (a character split across tokens is held back).
static void check_stream(const char *path, const char *golden) {
    Tokenizer *t = load(path);
    PsGolden *g = ps_golden_open(golden);
    const char *lists[][2] = {{"cases.ids", "cases.decoded"}, {"lossy.ids", "lossy.text"}};
    for (int l = 0; l < 2; l++) {
        PsList ids = ps_golden_list(g, lists[l][0]), text = ps_golden_list(g, lists[l][1]);
        for (size_t c = 0; c < ids.n; c++) {
            TokenStream s;
            token_stream_init(&s, t);
            char *all = NULL;
            for (int32_t k = ids.off[c]; k <= ids.off[c + 1]; k++) {
                size_t len;
                const char *piece = k < ids.off[c + 1] ? token_stream_feed(&s, ((const int32_t *)ids.data)[k], &len)
                                                       : token_stream_finish(&s, &len);
                PS_CHECK(piece != NULL, "%s %zu: stream refused id %d", lists[l][0], c, (int)((const int32_t *)ids.data)[k]);
                PS_CHECK(utf8_first_invalid((const uint8_t *)piece, len) == len,
                         "%s %zu: the stream handed out broken UTF-8 after id %d", lists[l][0], c, (int)(k - ids.off[c]));
                if (len) memcpy(arraddnptr(all, len), piece, len);
            }
            check_text(lists[l][1], c, all, arrlenu(all), (const char *)text.data + text.off[c],
                       (size_t)(text.off[c + 1] - text.off[c]));
            arrfree(all);
            token_stream_free(&s);
        }
    }
    ps_golden_close(g);
    tokenizer_free(t);
}

static void t_stream_qwen3(void) { check_stream(QWEN3, "golden/m0/qwen3.psg"); }
static void t_stream_tiny(void) { check_stream(TINY, "golden/m0/tiny.psg"); }

// "你" is three bytes, and a token can end inside a character: feed the
// single-byte tokens of U+4F60 by hand and watch the stream hold them back.
static void t_stream_holds_back(void) {
    Tokenizer *t = load(TINY);
    const uint8_t bytes[] = {0xE4, 0xBD, 0xA0};
    TokenStream s;
    token_stream_init(&s, t);
    size_t len;
    for (int i = 0; i < 3; i++) {
        const char *out = token_stream_feed(&s, t->byte_token[bytes[i]], &len);
        PS_CHECK(out != NULL, "byte token %d refused", i);
        if (i < 2) PS_CHECK(len == 0, "after %d of 3 bytes nothing may come out (got %zu bytes)", i + 1, len);
        else PS_CHECK(len == 3 && memcmp(out, bytes, 3) == 0, "after the third byte: U+4F60 (got %zu bytes)", len);
    }
    token_stream_feed(&s, t->byte_token[0xE4], &len);
    const char *tail = token_stream_finish(&s, &len);
    PS_CHECK(len == 3 && memcmp(tail, "\xEF\xBF\xBD", 3) == 0, "an unfinished character ends as U+FFFD");
    token_stream_free(&s);
    tokenizer_free(t);
}

static const PsTest TESTS[] = {
    {"decode.qwen3", t_decode_qwen3, "book/m0-tokenizer.md#decode", 0},
    {"decode.tiny", t_decode_tiny, "book/m0-tokenizer.md#decode", 0},
    {"decode.bad-id", t_decode_bad_id, "book/m0-tokenizer.md#decode", 0},
    {"stream.qwen3", t_stream_qwen3, "book/m0-tokenizer.md#stream-decode", 0},
    {"stream.tiny", t_stream_tiny, "book/m0-tokenizer.md#stream-decode", 0},
    {"stream.holds-back", t_stream_holds_back, "book/m0-tokenizer.md#stream-decode", 0},
};

int main(int argc, char **argv) { return ps_main("M0", TESTS, PS_COUNT(TESTS), argc, argv); }
