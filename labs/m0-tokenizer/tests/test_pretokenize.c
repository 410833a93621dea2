// M0 tests, part 2: the byte-level alphabet and the pre-tokenizer (no tokenizer file needed).
// Golden data from Hugging Face (tools/oracle_m0.py): transformers' bytes_to_unicode, and the pieces
// of tokenizers' Split pre-tokenizer with Qwen3's regex, for every test case.
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "stb_ds.h"
#include "tokenizer.h"

static void t_alphabet(void) {
    PsGolden *g = ps_golden_open("golden/m0/unicode.psg");
    const int32_t *want = ps_golden_get(g, "byte_to_char")->data;
    uint32_t got[256];
    bytelevel_alphabet(got);
    for (int b = 0; b < 256; b++)
        PS_CHECK(got[b] == (uint32_t)want[b], "byte %d (0x%02X) maps to U+%04X, want U+%04X", b, b, got[b],
                 (uint32_t)want[b]);
    ps_golden_close(g);
}

// Prints text with its control and non-ASCII bytes escaped, so whitespace shows.
static void print_escaped(const char *label, const char *s, size_t n) {
    printf("  %s \"", label);
    ps_print_escaped(s, n, 300);
    printf("\"\n");
}

static void t_pieces(void) {
    PsGolden *g = ps_golden_open("golden/m0/qwen3.psg");
    const char *text = ps_golden_get(g, "cases.text")->data;
    const int32_t *text_off = ps_golden_get(g, "cases.text.off")->data;
    const int32_t *ends = ps_golden_get(g, "cases.pieces")->data;
    const int32_t *ends_off = ps_golden_get(g, "cases.pieces.off")->data;
    size_t n_cases = ps_golden_get(g, "cases.text.off")->count - 1;
    for (size_t c = 0; c < n_cases; c++) {
        const char *s = text + text_off[c];
        size_t len = (size_t)(text_off[c + 1] - text_off[c]);
        size_t *got = NULL;
        pretokenize(s, len, &got);
        const int32_t *want = ends + ends_off[c];
        size_t n_want = (size_t)(ends_off[c + 1] - ends_off[c]), k = 0;
        while (k < arrlenu(got) && k < n_want && got[k] == (size_t)want[k]) k++;
        if (k < arrlenu(got) || k < n_want) {
            print_escaped("input", s, len);
            size_t start = k ? (size_t)want[k - 1] : 0;
            if (k < arrlenu(got)) print_escaped("our piece", s + start, got[k] - start);
            else printf("  we ended after %zu pieces\n", k);
            if (k < n_want) print_escaped("Hugging Face's piece", s + start, (size_t)want[k] - start);
            else printf("  Hugging Face ended after %zu pieces\n", k);
            PS_FAIL("case %zu: piece %zu (at byte %zu) differs", c, k, start);
        }
        arrfree(got);
    }
    ps_golden_close(g);
}

static const PsTest TESTS[] = {
    {"bytelevel.alphabet", t_alphabet, "book/m0-tokenizer.md#byte-level-map", 0},
    {"pretokenize.cases", t_pieces, "book/m0-tokenizer.md#pretokenize", 0},
};

int main(int argc, char **argv) { return ps_main("M0", TESTS, PS_COUNT(TESTS), argc, argv); }
