// Your lab's contract, copied by tools/mkskel from solutions/m0-tokenizer/unicode.h (do not edit: make skeletons rewrites it).
// Unicode for the tokenizer: UTF-8 decoding, the character classes Qwen3's pre-tokenizer regex uses
// (letter, number, whitespace) and NFC normalization. The tables come from the Unicode Character
// Database through tools/gen_unicode.py (solutions/m0-tokenizer/unicode_classes.c, unicode_nfc_data.c).
#ifndef PS_UNICODE_H
#define PS_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// ---- UTF-8 (solutions/m0-tokenizer/unicode.c) ----

// Decodes the UTF-8 sequence at s[0..n), n >= 1. A well-formed sequence: returns its length (1..4)
// and sets *cp. An ill-formed one: returns -k, where k >= 1 is the length of its "maximal subpart"
// (Unicode §3.9: the longest prefix that could still have become well-formed), the bytes that one
// U+FFFD replaces, as Rust's String::from_utf8_lossy (and so Hugging Face's decoder) does.
int utf8_next(const uint8_t *s, size_t n, uint32_t *cp);

// True when s[0..n) is the start of a well-formed sequence that was cut short by the end of the
// buffer (more bytes could complete it). Used by the streaming decoder to hold those bytes back.
bool utf8_incomplete(const uint8_t *s, size_t n);

// Writes cp (<= 0x10FFFF, not a surrogate) as UTF-8 into out; returns the length (1..4).
int utf8_encode(uint32_t cp, uint8_t out[4]);

// Index of the first byte of the first ill-formed sequence in s[0..n), or n when all is well-formed.
size_t utf8_first_invalid(const uint8_t *s, size_t n);

// Appends the text to *out (an stb_ds array of char), replacing each maximal subpart of an
// ill-formed sequence by U+FFFD. When `final` is false, an incomplete sequence at the very end is
// not consumed. Returns the number of input bytes consumed.
size_t utf8_lossy_append(const uint8_t *s, size_t n, bool final, char **out);

// ---- character classes (solutions/m0-tokenizer/unicode.c, tables in unicode_classes.c) ----
bool unicode_is_letter(uint32_t cp);   // \p{L}: general category Lu Ll Lt Lm Lo
bool unicode_is_number(uint32_t cp);   // \p{N}: Nd Nl No
bool unicode_is_space(uint32_t cp);    // \s in Oniguruma: U+0009..U+000D, U+0085, Zs, Zl, Zp

// ---- NFC (solutions/m0-tokenizer/unicode_nfc.c, tables in unicode_nfc_data.c) ----

// Appends the NFC form of the well-formed UTF-8 text s[0..n) to *out (an stb_ds array of char).
void unicode_nfc_append(const uint8_t *s, size_t n, char **out);
int unicode_combining_class(uint32_t cp);

// The generated tables.
extern const char UNICODE_VERSION[];
extern const uint32_t UNICODE_LETTER[][2], UNICODE_NUMBER[][2], UNICODE_SPACE[][2];
extern const size_t UNICODE_LETTER_COUNT, UNICODE_NUMBER_COUNT, UNICODE_SPACE_COUNT;
extern const uint32_t UNICODE_CCC[][3], UNICODE_DECOMP[][3], UNICODE_COMPOSE[][3];
extern const size_t UNICODE_CCC_COUNT, UNICODE_DECOMP_COUNT, UNICODE_COMPOSE_COUNT;

#endif
