// NFC normalization (Unicode Standard Annex #15), the tokenizer's first step on ordinary text.
//
// NFC = canonical decomposition, canonical ordering of combining marks, canonical composition.
// "e" + U+0301 (combining acute) and "é" (U+00E9) look the same and must tokenize the same; NFC
// turns both into U+00E9. Hangul syllables decompose and compose by arithmetic, not by table.
#include "unicode.h"

#include <stdlib.h>
#include <string.h>

#include "stb_ds.h"

// Hangul: syllable = SBASE + (L * VCOUNT + V) * TCOUNT + T (Unicode §3.12).
enum { SBASE = 0xAC00, LBASE = 0x1100, VBASE = 0x1161, TBASE = 0x11A7,
       LCOUNT = 19, VCOUNT = 21, TCOUNT = 28, NCOUNT = VCOUNT * TCOUNT, SCOUNT = LCOUNT * NCOUNT };

int unicode_combining_class(uint32_t cp) {
    if (cp < 0x300) return 0;  // nothing below U+0300 combines
    size_t lo = 0, hi = UNICODE_CCC_COUNT;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < UNICODE_CCC[mid][0]) hi = mid;
        else if (cp > UNICODE_CCC[mid][1]) lo = mid + 1;
        else return (int)UNICODE_CCC[mid][2];
    }
    return 0;
}

// The one-level canonical decomposition of cp, or NULL.
static const uint32_t *decomposition(uint32_t cp) {
    if (cp < 0xC0) return NULL;
    size_t lo = 0, hi = UNICODE_DECOMP_COUNT;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < UNICODE_DECOMP[mid][0]) hi = mid;
        else if (cp > UNICODE_DECOMP[mid][0]) lo = mid + 1;
        else return UNICODE_DECOMP[mid];
    }
    return NULL;
}

// Appends the full canonical decomposition of cp to *cps.
static void decompose(uint32_t cp, uint32_t **cps) {
    if (cp >= SBASE && cp < SBASE + SCOUNT) {
        uint32_t s = cp - SBASE;
        arrput(*cps, LBASE + s / NCOUNT);
        arrput(*cps, VBASE + (s % NCOUNT) / TCOUNT);
        if (s % TCOUNT) arrput(*cps, TBASE + s % TCOUNT);
        return;
    }
    const uint32_t *d = decomposition(cp);
    if (!d) {
        arrput(*cps, cp);
        return;
    }
    decompose(d[1], cps);  // mappings nest at most a few levels deep
    if (d[2]) decompose(d[2], cps);
}

// The primary composite of (a, b), or 0 when they do not compose.
static uint32_t compose(uint32_t a, uint32_t b) {
    if (a >= LBASE && a < LBASE + LCOUNT && b >= VBASE && b < VBASE + VCOUNT)
        return SBASE + ((a - LBASE) * VCOUNT + (b - VBASE)) * TCOUNT;
    if (a >= SBASE && a < SBASE + SCOUNT && (a - SBASE) % TCOUNT == 0 && b > TBASE && b < TBASE + TCOUNT)
        return a + (b - TBASE);
    size_t lo = 0, hi = UNICODE_COMPOSE_COUNT;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const uint32_t *e = UNICODE_COMPOSE[mid];
        if (a < e[0] || (a == e[0] && b < e[1])) hi = mid;
        else if (a > e[0] || b > e[1]) lo = mid + 1;
        else return e[2];
    }
    return 0;
}

// NFC of a chunk that needs the full treatment.
static void nfc_slow(const uint8_t *s, size_t n, char **out) {
    uint32_t *cps = NULL;
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0xFFFD;
        int len = utf8_next(s + i, n - i, &cp);
        decompose(cp, &cps);
        i += len > 0 ? (size_t)len : (size_t)-len;  // callers pass valid UTF-8; never loop forever
    }
    // Canonical ordering: within each run of combining marks (class > 0), a stable sort by class.
    size_t count = arrlenu(cps);
    for (size_t k = 1; k < count; k++) {
        uint32_t cp = cps[k];
        int cc = unicode_combining_class(cp);
        if (cc == 0) continue;
        size_t j = k;
        while (j > 0 && unicode_combining_class(cps[j - 1]) > cc) {
            cps[j] = cps[j - 1];
            j--;
        }
        cps[j] = cp;
    }
    // Canonical composition: each mark joins the last starter unless something between them
    // "blocks" it (a character of class 0 or of a class >= its own).
    size_t kept = 0, starter = 0;
    bool have_starter = false;
    int last_cc = 0;  // class of cps[kept - 1]
    for (size_t k = 0; k < count; k++) {
        uint32_t cp = cps[k];
        int cc = unicode_combining_class(cp);
        if (have_starter) {
            bool adjacent = kept == starter + 1;
            uint32_t composite = (adjacent || (last_cc != 0 && last_cc < cc)) ? compose(cps[starter], cp) : 0;
            if (composite) {
                cps[starter] = composite;
                continue;
            }
        }
        if (cc == 0) starter = kept, have_starter = true;
        cps[kept++] = cp;
        last_cc = cc;
    }
    for (size_t k = 0; k < kept; k++) {
        uint8_t buf[4];
        int len = utf8_encode(cps[k], buf);
        memcpy(arraddnptr(*out, len), buf, (size_t)len);
    }
    arrfree(cps);
}

static void copy(const uint8_t *s, size_t n, char **out) {
    if (n) memcpy(arraddnptr(*out, n), s, n);
}

// A character below U+0300 (lead byte < 0xCC) never changes and never combines with what comes
// before it, so the text splits there into independent chunks: most of it (ASCII, Latin-1) is
// copied as it is, and only the stretches around a character >= U+0300 go through nfc_slow.
void unicode_nfc_append(const uint8_t *s, size_t n, char **out) {
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] < 0xCC) j++;  // bytes of characters below U+0300
        if (j == n) {
            copy(s + i, n - i, out);
            return;
        }
        size_t k = j;  // the character before s[j] may be a starter that combines with it
        if (k > i) {
            k--;
            while (k > i && (s[k] & 0xC0) == 0x80) k--;
        }
        copy(s + i, k - i, out);
        size_t m = j + 1;  // the next character below U+0300 ends the chunk
        while (m < n && !(s[m] < 0x80 || (s[m] >= 0xC0 && s[m] < 0xCC))) m++;
        nfc_slow(s + k, m - k, out);
        i = m;
    }
}
