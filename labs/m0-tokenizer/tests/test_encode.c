// M0 tests, part 3: loading tokenizer.json, BPE, added tokens and whole encodes, for the Qwen3
// tokenizer (`make tokenizer`; skipped when absent) and the tiny model's (committed).
// Golden data: golden/m0/{qwen3,tiny}.psg from Hugging Face tokenizers (tools/oracle_m0.py).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
// stb_ds's hm* macros use GNU `typeof`, which -std=c11 only knows as `__typeof__`.
#define typeof __typeof__
#include "stb_ds.h"
#include "tokenizer.h"

#define QWEN3 "models/qwen3-0.6b/tokenizer.json"
#define TINY "models/tiny/tokenizer.json"

static Tokenizer *load(const char *path) {
    if (!ps_file_exists(path))
        PS_SKIP("%s is missing: run `make tokenizer` (it fetches Qwen3's tokenizer.json)", path);
    Tokenizer *t = tokenizer_load(path);
    PS_CHECK(t != NULL, "tokenizer_load(\"%s\") failed", path);
    return t;
}

static const char *golden_for(const char *path) {
    return strcmp(path, QWEN3) == 0 ? "golden/m0/qwen3.psg" : "golden/m0/tiny.psg";
}

// Compares ids; on a difference prints the input, the first differing position and both id
// sequences around it with the token strings, then fails the test.
static void check_ids(const Tokenizer *t, const char *what, const char *text, size_t len,
                      const int32_t *got, size_t ngot, const int32_t *want, size_t nwant) {
    size_t k = 0;
    while (k < ngot && k < nwant && got[k] == want[k]) k++;
    if (k == ngot && k == nwant) return;
    printf("  input: \"");
    ps_print_escaped(text, len, 400);
    printf("\"\n  first difference at id %zu (we made %zu ids, Hugging Face %zu)\n", k, ngot, nwant);
    const char *names[2] = {"ours", "want"};
    const int32_t *seqs[2] = {got, want};
    size_t lens[2] = {ngot, nwant};
    for (int s = 0; s < 2; s++) {
        printf("  %s:", names[s]);
        for (size_t i = k > 3 ? k - 3 : 0; i < lens[s] && i < k + 4; i++) {
            const char *tok = tokenizer_token_text(t, seqs[s][i]);
            printf(" %s%d \"%s\"", i == k ? "[" : "", (int)seqs[s][i], tok ? tok : "?");
            if (i == k) printf("]");
        }
        printf("\n");
    }
    PS_FAIL("%s: ids differ", what);
}

static void check_vocab(const char *path) {
    Tokenizer *t = load(path);
    PsGolden *g = ps_golden_open(golden_for(path));
    int32_t size = *(const int32_t *)ps_golden_get(g, "vocab.size")->data;
    PS_CHECK(tokenizer_vocab_size(t) == size, "vocab size %d, Hugging Face says %d", (int)tokenizer_vocab_size(t), (int)size);
    PsList tokens = ps_golden_list(g, "probe.token");
    const int32_t *ids = ps_golden_get(g, "probe.id")->data;
    for (size_t i = 0; i < tokens.n; i++) {
        char token[512];
        int n = tokens.off[i + 1] - tokens.off[i];
        PS_CHECK(n < (int)sizeof token, "probe %zu too long", i);
        memcpy(token, (const char *)tokens.data + tokens.off[i], (size_t)n);
        token[n] = '\0';
        PS_CHECK(tokenizer_token_id(t, token) == ids[i], "token \"%s\": id %d, want %d", token,
                 (int)tokenizer_token_id(t, token), (int)ids[i]);
        const char *text = tokenizer_token_text(t, ids[i]);
        PS_CHECK(text && strcmp(text, token) == 0, "id %d: text \"%s\", want \"%s\"", (int)ids[i], text ? text : "(null)", token);
    }
    PS_CHECK(tokenizer_token_id(t, "no such token, surely") == -1, "a missing token must give -1");
    PS_CHECK(tokenizer_token_text(t, size) == NULL && tokenizer_token_text(t, -1) == NULL, "ids out of range give NULL");
    ps_golden_close(g);
    tokenizer_free(t);
}

static void t_vocab_qwen3(void) { check_vocab(QWEN3); }

// The tiny tokenizer, then files that must be refused with a message, not crash.
static void t_vocab_tiny(void) {
    check_vocab(TINY);
    PS_CHECK(tokenizer_load("models/no/such/tokenizer.json") == NULL, "a missing file must fail");
    char path[600];
    snprintf(path, sizeof path, "%s/bad-tokenizer.json", ps_test_dir());
    const char *bad[] = {
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}",      // cut short
        "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}",      // another kind of model
        "[1, 2, 3]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *f = fopen(path, "w");
        fputs(bad[i], f);
        fclose(f);
        PS_CHECK(tokenizer_load(path) == NULL, "loading %s must fail", bad[i]);
    }
}

// BPE alone: Hugging Face's pieces (no added tokens, text already NFC) through bpe_encode_piece.
static void check_bpe(const char *path) {
    Tokenizer *t = load(path);
    PsGolden *g = ps_golden_open("golden/m0/qwen3.psg");  // the pieces are the same for both
    PsGolden *gi = ps_golden_open(golden_for(path));
    PsList text = ps_golden_list(g, "cases.text"), nfc = ps_golden_list(g, "cases.nfc");
    PsList pieces = ps_golden_list(g, "cases.pieces");
    PsList ids = ps_golden_list(gi, "cases.ids");
    size_t checked = 0;
    for (size_t c = 0; c < text.n; c++) {
        const char *s = (const char *)text.data + text.off[c];
        size_t len = (size_t)(text.off[c + 1] - text.off[c]);
        bool is_nfc = len == (size_t)(nfc.off[c + 1] - nfc.off[c]) && memcmp(s, (const char *)nfc.data + nfc.off[c], len) == 0;
        if (!is_nfc || memmem(s, len, "<", 1)) continue;  // leave out normalization and added tokens
        int32_t *got = NULL;
        size_t start = 0;
        for (int32_t p = pieces.off[c]; p < pieces.off[c + 1]; p++) {
            size_t end = (size_t)((const int32_t *)pieces.data)[p];
            bpe_encode_piece(t, s + start, end - start, &got);
            start = end;
        }
        const int32_t *want = (const int32_t *)ids.data + ids.off[c];
        check_ids(t, "bpe", s, len, got, arrlenu(got), want, (size_t)(ids.off[c + 1] - ids.off[c]));
        arrfree(got);
        checked++;
    }
    PS_CHECK(checked > 200, "only %zu cases checked", checked);
    ps_golden_close(gi);
    ps_golden_close(g);
    tokenizer_free(t);
}

static void t_bpe_qwen3(void) { check_bpe(QWEN3); }
static void t_bpe_tiny(void) { check_bpe(TINY); }

// 200 000 letters in one piece: an O(n^2) merge loop would not finish in time.
static void t_bpe_long(void) {
    Tokenizer *t = load(TINY);
    size_t n = 200000;
    char *word = malloc(n);
    for (size_t i = 0; i < n; i++) word[i] = "abcdefghij"[(i * 7 + i / 13) % 10];
    int32_t *ids = NULL;
    bpe_encode_piece(t, word, n, &ids);
    size_t total = 0;  // ASCII letters are their own byte-level characters
    for (size_t i = 0; i < arrlenu(ids); i++) total += strlen(tokenizer_token_text(t, ids[i]));
    PS_CHECK(total == n, "the tokens spell %zu letters, not %zu", total, n);
    PS_CHECK(arrlenu(ids) < n, "no merges happened");
    arrfree(ids);
    free(word);
    tokenizer_free(t);
}

// The merge of (left, right) in the tokenizer's table, by token text; NULL when it has none.
static const BpeMerge *merge_of(const Tokenizer *t, const char *left, const char *right) {
    int32_t a = tokenizer_token_id(t, left), b = tokenizer_token_id(t, right);
    PS_CHECK(a >= 0 && b >= 0, "the tiny tokenizer has the tokens \"%s\" and \"%s\"", left, right);
    MergeEntry *merges = t->merges;  // hmgeti writes to the map's header
    ptrdiff_t i = hmgeti(merges, (uint64_t)(uint32_t)a << 32 | (uint32_t)b);
    return i < 0 ? NULL : &merges[i].value;
}

// word must become the tokens want[0..n) (given as token text).
static void check_merged(const Tokenizer *t, const char *word, const char *why, const char *const *want, size_t n) {
    int32_t *got = NULL, want_ids[8];
    for (size_t i = 0; i < n; i++) want_ids[i] = tokenizer_token_id(t, want[i]);
    bpe_encode_piece(t, word, strlen(word), &got);
    if (arrlenu(got) != n || memcmp(got, want_ids, n * sizeof *got) != 0) {
        printf("  \"%s\" should become", word);
        for (size_t i = 0; i < n; i++) printf(" \"%s\"", want[i]);
        printf("; we made");
        for (size_t i = 0; i < arrlenu(got); i++) printf(" \"%s\"", tokenizer_token_text(t, got[i]));
        printf("\n  %s\n", why);
        PS_FAIL("\"%s\": wrong merge order", word);
    }
    arrfree(got);
}

// Which pair merges first, with the tiny tokenizer (offline). Hugging Face merges the pair of lowest
// rank, and among pairs of equal rank (the same pair twice) the leftmost. The expected tokens follow
// from the merge table alone, and the test first checks the table says what the comments claim.
static void t_bpe_order(void) {
    Tokenizer *t = load(TINY);
    // "sea": (e, a) ranks before (s, e), so e+a merges although s+e comes first in the word.
    const BpeMerge *se = merge_of(t, "s", "e"), *ea = merge_of(t, "e", "a");
    PS_CHECK(se && ea && ea->rank < se->rank, "the table: (e, a) must rank before (s, e)");
    PS_CHECK(!merge_of(t, "s", "ea") && !merge_of(t, "se", "a"), "the table: neither s+ea nor se+a merges");
    const char *sea[] = {"s", "ea"};
    check_merged(t, "sea", "the lowest rank merges first, wherever it is in the word", sea, 2);
    // "lll", "lllll": (l, l) occurs twice or four times, all with one rank, and nothing merges with
    // "ll" (no ll+l, l+ll or ll+ll): which l's pair up shows whether the leftmost went first.
    PS_CHECK(merge_of(t, "l", "l") != NULL, "the table: l+l merges");
    PS_CHECK(!merge_of(t, "ll", "l") && !merge_of(t, "l", "ll") && !merge_of(t, "ll", "ll"),
             "the table: nothing merges with ll");
    const char *lll[] = {"ll", "l"}, *l5[] = {"ll", "ll", "l"};
    const char *why = "among pairs of equal rank the leftmost merges first (a heap must order by rank, then position)";
    check_merged(t, "lll", why, lll, 2);
    check_merged(t, "lllll", why, l5, 3);
    tokenizer_free(t);
}

static void t_added_token_at(void) {
    Tokenizer *t = load(TINY);
    int32_t im_end = tokenizer_token_id(t, "<|im_end|>");
    PS_CHECK(im_end >= 0, "the tiny tokenizer has <|im_end|>");
    const char *s = "<|im_end|>\nrest";
    const AddedToken *a = added_token_at(t, s, strlen(s));
    PS_CHECK(a && a->id == im_end && a->len == 10, "\"%s\" starts with <|im_end|>", s);
    PS_CHECK(added_token_at(t, "<|im_end|", 9) == NULL, "a cut-off token is not a token");
    PS_CHECK(added_token_at(t, "x<|im_end|>", 11) == NULL, "only a token at the very start counts");
    PS_CHECK(added_token_at(t, "<|IM_END|>", 10) == NULL, "matching is case-sensitive");
    tokenizer_free(t);
}

static void check_encode(const char *path) {
    Tokenizer *t = load(path);
    PsGolden *g = ps_golden_open(golden_for(path));
    PsList text = ps_golden_list(g, "cases.text"), ids = ps_golden_list(g, "cases.ids");
    for (size_t c = 0; c < text.n; c++) {
        const char *s = (const char *)text.data + text.off[c];
        size_t len = (size_t)(text.off[c + 1] - text.off[c]);
        int32_t *got = NULL;
        PS_CHECK(tokenizer_encode(t, s, len, true, &got) == 0, "case %zu: encode failed", c);
        const int32_t *want = (const int32_t *)ids.data + ids.off[c];
        char what[64];
        snprintf(what, sizeof what, "case %zu", c);
        check_ids(t, what, s, len, got, arrlenu(got), want, (size_t)(ids.off[c + 1] - ids.off[c]));
        arrfree(got);
    }
    // Added tokens as plain text (Hugging Face's split_special_tokens).
    PsList plain = ps_golden_list(g, "plain.text"), plain_ids = ps_golden_list(g, "plain.ids");
    for (size_t c = 0; c < plain.n; c++) {
        const char *s = (const char *)plain.data + plain.off[c];
        size_t len = (size_t)(plain.off[c + 1] - plain.off[c]);
        int32_t *got = NULL;
        PS_CHECK(tokenizer_encode(t, s, len, false, &got) == 0, "plain case %zu: encode failed", c);
        const int32_t *want = (const int32_t *)plain_ids.data + plain_ids.off[c];
        check_ids(t, "without splitting added tokens", s, len, got, arrlenu(got), want,
                  (size_t)(plain_ids.off[c + 1] - plain_ids.off[c]));
        arrfree(got);
    }
    ps_golden_close(g);
    tokenizer_free(t);
}

static void t_encode_qwen3(void) { check_encode(QWEN3); }
static void t_encode_tiny(void) { check_encode(TINY); }

// Invalid UTF-8 has no Hugging Face answer (Python strings cannot hold it): we refuse it.
static void t_encode_invalid(void) {
    Tokenizer *t = load(TINY);
    const char *bad[] = {"\xff", "abc\xc3", "\xed\xa0\x80", "ok \xc0\xaf", "\x80 start"};
    int32_t *ids = NULL;
    PS_CHECK(tokenizer_encode(t, "fine", 4, true, &ids) == 0 && arrlenu(ids) > 0, "valid text encodes");
    size_t valid = arrlenu(ids);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        PS_CHECK(tokenizer_encode(t, bad[i], strlen(bad[i]), true, &ids) == -1, "invalid input %zu must be refused", i);
        PS_CHECK(arrlenu(ids) == valid, "nothing may be emitted for invalid input %zu", i);
    }
    arrfree(ids);
    tokenizer_free(t);
}

static const PsTest TESTS[] = {
    {"load.qwen3", t_vocab_qwen3, "book/m0-tokenizer.md#load-vocab", 0},
    {"load.tiny", t_vocab_tiny, "book/m0-tokenizer.md#load-vocab", 0},
    {"bpe.qwen3", t_bpe_qwen3, "book/m0-tokenizer.md#bpe-merge", 0},
    {"bpe.tiny", t_bpe_tiny, "book/m0-tokenizer.md#bpe-merge", 0},
    {"bpe.merge-order", t_bpe_order, "book/m0-tokenizer.md#bpe-merge", 0},
    {"bpe.long-piece", t_bpe_long, "book/m0-tokenizer.md#bpe-merge", 0},
    {"special.added-token-at", t_added_token_at, "book/m0-tokenizer.md#special-tokens", 0},
    {"encode.qwen3", t_encode_qwen3, "book/m0-tokenizer.md#encode", 0},
    {"encode.tiny", t_encode_tiny, "book/m0-tokenizer.md#encode", 0},
    {"encode.invalid-utf8", t_encode_invalid, "book/m0-tokenizer.md#encode", 0},
};

int main(int argc, char **argv) { return ps_main("M0", TESTS, PS_COUNT(TESTS), argc, argv); }
