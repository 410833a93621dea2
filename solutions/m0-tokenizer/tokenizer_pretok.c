// The pre-tokenizer: Qwen3's regex, written out by hand as a small matcher.
//
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)      contractions, any case
//   |[^\r\n\p{L}\p{N}]?\p{L}+         a word, with at most one non-letter glued in front (" the")
//   |\p{N}                            one digit (numbers are split into single digits)
//   | ?[^\s\p{L}\p{N}]+[\r\n]*        punctuation, with an optional space in front and newlines after
//   |\s*[\r\n]+                       whitespace up to the last newline in it
//   |\s+(?!\S)                        whitespace, leaving its last character to the next word
//   |\s+                              whitespace
//
// At each position the first alternative that matches wins (not the longest), exactly as in a
// backtracking regex engine. Every alternative consumes at least one character, so the pieces
// cover the text without gaps.
#include "stb_ds.h"
#include "tokenizer.h"
#include "unicode.h"

enum { LETTER = 1, NUMBER = 2, SPACE = 4, NEWLINE = 8, OTHER = 16 };

typedef struct {
    const uint8_t *s;
    size_t n;
} TextView;

// The class of the character at byte i (OTHER: none of the above), and its length in *len.
// At the end of the text: 0 and *len = 0.
static int class_at(TextView t, size_t i, size_t *len) {
    if (i >= t.n) return *len = 0, 0;
    uint32_t cp = t.s[i];
    int r = 1;
    if (cp >= 0x80) {
        r = utf8_next(t.s + i, t.n - i, &cp);
        if (r < 0) return *len = (size_t)-r, OTHER;  // not reached: the text was validated
    }
    *len = (size_t)r;
    if (cp == '\r' || cp == '\n') return NEWLINE | SPACE;
    if (unicode_is_letter(cp)) return LETTER;
    if (unicode_is_number(cp)) return NUMBER;
    if (unicode_is_space(cp)) return SPACE;
    return OTHER;
}

static uint32_t char_at(TextView t, size_t i) {
    uint32_t cp = 0;
    if (i < t.n && utf8_next(t.s + i, t.n - i, &cp) < 0) cp = 0;
    return cp;
}

// End of the run of characters whose class has a bit of `mask`, starting at i.
static size_t run_end(TextView t, size_t i, int mask) {
    size_t len;
    while (class_at(t, i, &len) & mask) i += len;
    return i;
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d) at i: the end of the match, or 0. Case-insensitive means Unicode
// case folding: 'S' and also 'ſ' (U+017F, LATIN SMALL LETTER LONG S) match 's'.
static size_t contraction(TextView t, size_t i) {
    if (t.s[i] != '\'') return 0;
    static const char *const SUFFIXES[] = {"s", "t", "re", "ve", "m", "ll", "d"};
    for (size_t k = 0; k < sizeof SUFFIXES / sizeof SUFFIXES[0]; k++) {
        size_t j = i + 1;
        const char *c;
        for (c = SUFFIXES[k]; *c; c++) {
            uint32_t cp = char_at(t, j);
            bool same = cp == (uint32_t)*c || cp == (uint32_t)*c - 32 || (*c == 's' && cp == 0x17F);
            if (!same) break;
            j += cp == 0x17F ? 2 : 1;
        }
        if (!*c) return j;
    }
    return 0;
}

// The end of the piece that starts at byte i (< t.n).
static size_t match_at(TextView t, size_t i) {
    //> M0 pretokenize
    //? Try the alternatives in order; return the end of the first that matches. Helpers:
    //? class_at (LETTER, NUMBER, SPACE, NEWLINE|SPACE for \r and \n, OTHER), run_end, contraction.
    //? The last three need the whole whitespace run first: \s*[\r\n]+ ends after its last
    //? newline; \s+(?!\S) takes all of it at the end of the text, else all but its last character
    //? (if that leaves at least one); \s+ takes all of it.
    size_t end = contraction(t, i);
    if (end) return end;
    size_t len, next_len;
    int c = class_at(t, i, &len);
    int next = class_at(t, i + len, &next_len);
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if ((c & (SPACE | OTHER)) && !(c & NEWLINE) && next == LETTER) return run_end(t, i + len, LETTER);
    if (c == LETTER) return run_end(t, i, LETTER);
    // \p{N}
    if (c == NUMBER) return i + len;
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    size_t start = t.s[i] == ' ' && next == OTHER ? i + 1 : i;
    if (class_at(t, start, &len) == OTHER) return run_end(t, run_end(t, start, OTHER), NEWLINE);
    // the whitespace alternatives: c is SPACE here
    size_t last_newline = 0, last_char = i, j = i;
    bool has_newline = false;
    int k;
    while ((k = class_at(t, j, &len)) & SPACE) {
        if (k & NEWLINE) last_newline = j, has_newline = true;
        last_char = j;
        j += len;
    }
    if (has_newline) return last_newline + 1;   // \s*[\r\n]+ (\r and \n are one byte)
    if (j == t.n || last_char == i) return j;   // \s+(?!\S) at the end, or a lone \s+
    return last_char;                           // \s+(?!\S): all but the last
    //<
}

void pretokenize(const char *text, size_t len, size_t **ends) {
    TextView t = {(const uint8_t *)text, len};
    for (size_t i = 0; i < len;) {
        i = match_at(t, i);
        arrput(*ends, i);
    }
}
