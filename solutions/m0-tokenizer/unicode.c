// UTF-8 decoding and the Unicode character classes the pre-tokenizer needs.
#include "unicode.h"

#include "stb_ds.h"

//[ utf8-next
int utf8_next(const uint8_t *s, size_t n, uint32_t *cp) {
    //> M0 utf8-decode
    //? The lead byte says how many bytes follow (0xxxxxxx: none, 110xxxxx: 1, 1110xxxx: 2,
    //? 11110xxx: 3); each following byte is 10xxxxxx and adds 6 bits. Reject what Unicode calls
    //? ill-formed: stray continuation bytes, C0/C1/F5..FF, overlong forms (E0 needs A0..BF next,
    //? F0 needs 90..BF), surrogates (ED needs 80..9F) and values past U+10FFFF (F4 needs 80..8F).
    //? On an error return -(number of bytes read before the problem was certain), at least -1.
    uint8_t lead = s[0];
    if (lead < 0x80) {
        *cp = lead;
        return 1;
    }
    int len;
    uint32_t value;
    uint8_t lo = 0x80, hi = 0xBF;  // the range allowed for the second byte
    if (lead >= 0xC2 && lead <= 0xDF) {
        len = 2, value = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        len = 3, value = lead & 0x0F;
        if (lead == 0xE0) lo = 0xA0;   // below would be an overlong 2-byte form
        if (lead == 0xED) hi = 0x9F;   // above would be a surrogate, D800..DFFF
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        len = 4, value = lead & 0x07;
        if (lead == 0xF0) lo = 0x90;   // overlong 3-byte form
        if (lead == 0xF4) hi = 0x8F;   // past U+10FFFF
    } else {
        return -1;  // a continuation byte on its own, or a byte that never appears in UTF-8
    }
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n) return -i;  // cut short by the end of the buffer
        uint8_t b = s[i];
        if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF)) return -i;
        value = (value << 6) | (b & 0x3F);
    }
    *cp = value;
    return len;
    //<
}
//]

bool utf8_incomplete(const uint8_t *s, size_t n) {
    uint32_t cp;
    int r = n ? utf8_next(s, n, &cp) : 1;
    return r < 0 && (size_t)-r == n && s[0] >= 0xC2 && s[0] <= 0xF4;
}

int utf8_encode(uint32_t cp, uint8_t out[4]) {
    if (cp < 0x80) return out[0] = (uint8_t)cp, 1;
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

size_t utf8_first_invalid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {  // ASCII is most text: skip it without a call
            i++;
            continue;
        }
        uint32_t cp;
        int r = utf8_next(s + i, n - i, &cp);
        if (r < 0) return i;
        i += (size_t)r;
    }
    return n;
}

size_t utf8_lossy_append(const uint8_t *s, size_t n, bool final, char **out) {
    static const char REPLACEMENT[] = "\xEF\xBF\xBD";  // U+FFFD
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        int r = utf8_next(s + i, n - i, &cp);
        if (r > 0) {
            for (int k = 0; k < r; k++) arrput(*out, (char)s[i + k]);
            i += (size_t)r;
        } else if (!final && utf8_incomplete(s + i, n - i)) {
            break;  // wait for the rest of this character
        } else {
            for (int k = 0; k < 3; k++) arrput(*out, REPLACEMENT[k]);
            i += (size_t)-r;
        }
    }
    return i;
}

// Binary search in sorted, non-overlapping [first, last] ranges.
static bool in_ranges(uint32_t cp, const uint32_t (*ranges)[2], size_t count) {
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < ranges[mid][0]) hi = mid;
        else if (cp > ranges[mid][1]) lo = mid + 1;
        else return true;
    }
    return false;
}

// ASCII answers come from arithmetic: they are the hot path on English text and code.
bool unicode_is_letter(uint32_t cp) {
    if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    return in_ranges(cp, UNICODE_LETTER, UNICODE_LETTER_COUNT);
}

bool unicode_is_number(uint32_t cp) {
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    return in_ranges(cp, UNICODE_NUMBER, UNICODE_NUMBER_COUNT);
}

bool unicode_is_space(uint32_t cp) {
    if (cp < 0x80) return cp == ' ' || (cp >= '\t' && cp <= '\r');
    return in_ranges(cp, UNICODE_SPACE, UNICODE_SPACE_COUNT);
}
