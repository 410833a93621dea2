// M0 tests, part 1: UTF-8, the character classes and NFC (no tokenizer file needed).
// Golden data: golden/m0/unicode.psg and qwen3.psg, from Hugging Face tokenizers (tools/oracle_m0.py).
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "stb_ds.h"
#include "unicode.h"

#define UNICODE_GOLDEN "golden/m0/unicode.psg"

// Decodes bytes and checks the result: want_len > 0 a character, want_len < 0 an error.
static void expect_utf8(const char *bytes, size_t n, int want_len, uint32_t want_cp) {
    uint32_t cp = 0;
    int got = utf8_next((const uint8_t *)bytes, n, &cp);
    char hex[64] = "";
    for (size_t i = 0; i < n && i < 8; i++) snprintf(hex + strlen(hex), sizeof hex - strlen(hex), "%02X ", (uint8_t)bytes[i]);
    PS_CHECK(got == want_len, "bytes %s: utf8_next returned %d, want %d", hex, got, want_len);
    if (want_len > 0) PS_CHECK(cp == want_cp, "bytes %s: code point U+%04X, want U+%04X", hex, cp, want_cp);
}

static void t_utf8(void) {
    expect_utf8("A", 1, 1, 'A');
    expect_utf8("\xC3\xA9", 2, 2, 0xE9);              // é
    expect_utf8("\xE2\x82\xAC", 3, 3, 0x20AC);        // €
    expect_utf8("\xF0\x9F\x98\x80", 4, 4, 0x1F600);   // 😀
    expect_utf8("\xF4\x8F\xBF\xBF", 4, 4, 0x10FFFF);  // the last code point
    expect_utf8("\x80", 1, -1, 0);                    // a continuation byte alone
    expect_utf8("\xC0\xAF", 2, -1, 0);                // overlong '/': C0 never appears
    expect_utf8("\xE0\x80\xAF", 3, -1, 0);            // overlong: E0 needs A0..BF next
    expect_utf8("\xED\xA0\x80", 3, -1, 0);            // a surrogate (U+D800)
    expect_utf8("\xF4\x90\x80\x80", 4, -1, 0);        // past U+10FFFF
    expect_utf8("\xF5\x80\x80\x80", 4, -1, 0);        // F5..FF never appear
    expect_utf8("\xE4\xBD", 2, -2, 0);                // cut short: 2 bytes of a 3-byte character
    expect_utf8("\xF0\x9F\x98(", 4, -3, 0);           // broken by '(' after 3 good bytes
    PS_CHECK(utf8_incomplete((const uint8_t *)"\xE4\xBD", 2), "E4 BD can still become a character");
    PS_CHECK(!utf8_incomplete((const uint8_t *)"\xE4(", 2), "E4 '(' cannot");
    PS_CHECK(!utf8_incomplete((const uint8_t *)"\x80", 1), "a lone continuation byte cannot");
    // Every code point survives encode -> decode.
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp == 0xD800) cp = 0xE000;
        uint8_t buf[4];
        int n = utf8_encode(cp, buf);
        uint32_t back = 0;
        int got = utf8_next(buf, (size_t)n, &back);
        PS_CHECK(got == n && back == cp, "U+%04X: encoded in %d bytes, decoded %d bytes as U+%04X", cp, n, got, back);
    }
}

// For every code point, our classes against Oniguruma's (the regex engine inside tokenizers).
static void t_classes(void) {
    PsGolden *g = ps_golden_open(UNICODE_GOLDEN);
    const PsTensor *r = ps_golden_get(g, "classes");
    const int32_t *ranges = r->data;
    size_t bad = 0;
    for (int64_t k = 0; k < r->dims[0]; k++) {
        for (int32_t cp = ranges[3 * k]; cp <= ranges[3 * k + 1]; cp++) {
            // Decode the UTF-8 of cp first: the classes are asked of decoded characters.
            uint8_t buf[4];
            uint32_t decoded = 0;
            utf8_next(buf, (size_t)utf8_encode((uint32_t)cp, buf), &decoded);
            int want = ranges[3 * k + 2];
            int got = (unicode_is_letter(decoded) ? 1 : 0) | (unicode_is_number(decoded) ? 2 : 0) |
                      (unicode_is_space(decoded) ? 4 : 0);
            if (got != want && bad++ < 10)
                printf("  U+%04X: ours L=%d N=%d s=%d, Hugging Face L=%d N=%d s=%d\n", cp, got & 1,
                       !!(got & 2), !!(got & 4), want & 1, !!(want & 2), !!(want & 4));
        }
    }
    PS_CHECK(bad == 0, "%zu code points classed differently (tables: Unicode %s)", bad, UNICODE_VERSION);
    ps_golden_close(g);
}

static void nfc_of(uint32_t cp, uint32_t *out, size_t *n) {
    uint8_t buf[4];
    char *text = NULL;
    unicode_nfc_append(buf, (size_t)utf8_encode(cp, buf), &text);
    *n = 0;
    for (size_t i = 0; i < arrlenu(text) && *n < 8;) {
        int len = utf8_next((const uint8_t *)text + i, arrlenu(text) - i, &out[(*n)++]);
        PS_CHECK(len > 0, "NFC of U+%04X is not valid UTF-8", cp);
        i += (size_t)len;
    }
    arrfree(text);
}

// NFC of every single code point: the ones Hugging Face changes, into what it changes them; the
// others unchanged.
static void t_nfc_single(void) {
    PsGolden *g = ps_golden_open(UNICODE_GOLDEN);
    const PsTensor *cps = ps_golden_get(g, "nfc.cp");
    const int32_t *changed = cps->data, *out = ps_golden_get(g, "nfc.out")->data;
    const int32_t *off = ps_golden_get(g, "nfc.out.off")->data;
    size_t k = 0;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp == 0xD800) cp = 0xE000;
        uint32_t got[8];
        size_t n;
        nfc_of(cp, got, &n);
        bool is_changed = k < cps->count && (uint32_t)changed[k] == cp;
        size_t want_n = is_changed ? (size_t)(off[k + 1] - off[k]) : 1;
        const int32_t *want = is_changed ? out + off[k] : (const int32_t *)&cp;
        bool same = n == want_n;
        for (size_t i = 0; same && i < n; i++) same = got[i] == (uint32_t)want[i];
        PS_CHECK(same, "NFC(U+%04X): ours %zu code point(s) starting U+%04X, Hugging Face %zu starting U+%04X",
                 cp, n, got[0], want_n, (uint32_t)want[0]);
        if (is_changed) k++;
    }
    ps_golden_close(g);
}

// NFC of whole strings (reordering of marks, composition, Hangul) against HF's normalizer.
static void t_nfc_cases(void) {
    PsGolden *g = ps_golden_open("golden/m0/qwen3.psg");
    const uint8_t *text = ps_golden_get(g, "cases.text")->data, *nfc = ps_golden_get(g, "cases.nfc")->data;
    const int32_t *text_off = ps_golden_get(g, "cases.text.off")->data;
    const int32_t *nfc_off = ps_golden_get(g, "cases.nfc.off")->data;
    size_t n = ps_golden_get(g, "cases.text.off")->count - 1;
    for (size_t c = 0; c < n; c++) {
        char *got = NULL;
        unicode_nfc_append(text + text_off[c], (size_t)(text_off[c + 1] - text_off[c]), &got);
        size_t want_len = (size_t)(nfc_off[c + 1] - nfc_off[c]);
        bool same = arrlenu(got) == want_len && (want_len == 0 || memcmp(got, nfc + nfc_off[c], want_len) == 0);
        PS_CHECK(same, "case %zu \"%.*s\": our NFC has %zu bytes, Hugging Face's %zu", c,
                 (int)(text_off[c + 1] - text_off[c]), (const char *)text + text_off[c], arrlenu(got), want_len);
        arrfree(got);
    }
    ps_golden_close(g);
}

static const PsTest TESTS[] = {
    {"unicode.utf8", t_utf8, "book/m0-tokenizer.md#utf8-decode", 0},
    {"unicode.classes", t_classes, "book/m0-tokenizer.md#unicode", 0},
    {"unicode.nfc-single", t_nfc_single, "book/m0-tokenizer.md#unicode", 0},
    {"unicode.nfc-cases", t_nfc_cases, "book/m0-tokenizer.md#unicode", 0},
};

int main(int argc, char **argv) { return ps_main("M0", TESTS, PS_COUNT(TESTS), argc, argv); }
