// protostar logits -m MODEL_DIR (--ids "1 2 3" | --prompt TEXT) -o FILE [--read]
// Runs the forward pass and writes the logits of every position as little-endian float32, row-major
// [n_ids × vocab_size], to FILE (compare them with transformers' output). Prints the top tokens of
// the last position.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "model.h"
#include "stb_ds.h"
#include "tokenizer.h"

static int usage(void) {
    fprintf(stderr, "usage: protostar logits -m MODEL_DIR (--ids \"1 2 3\" | --prompt TEXT) -o FILE [--read]\n"
                    "  --ids     token ids, separated by spaces or commas\n"
                    "  --prompt  text, tokenized with MODEL_DIR/tokenizer.json\n"
                    "  --read    read the weights into memory instead of mmap'ing the file\n");
    return 2;
}

// "1 2, 3" → stb_ds array; -1 with a message on anything that is not a list of integers.
static int parse_ids(const char *s, int32_t **ids) {
    while (*s) {
        if (*s == ' ' || *s == ',' || *s == '\t') { s++; continue; }
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno || v < 0 || v > INT32_MAX)
            return fprintf(stderr, "logits: --ids: '%.20s' is not a token id\n", s), -1;
        arrput(*ids, (int32_t)v);
        s = end;
    }
    return 0;
}

static int write_f32_le(const char *path, const float *x, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return fprintf(stderr, "%s: %s\n", path, strerror(errno)), -1;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        unsigned char b[4] = {(unsigned char)bits, (unsigned char)(bits >> 8), (unsigned char)(bits >> 16),
                              (unsigned char)(bits >> 24)};
        fwrite(b, 1, 4, f);
    }
    if (ferror(f) | fclose(f)) return fprintf(stderr, "%s: write failed\n", path), -1;
    return 0;
}

static void print_top(const float *logits, int vocab, const Tokenizer *tok) {
    int best[5] = {-1, -1, -1, -1, -1};
    for (int i = 0; i < vocab; i++)
        for (int r = 0; r < 5; r++)
            if (best[r] < 0 || logits[i] > logits[best[r]]) {
                memmove(best + r + 1, best + r, (size_t)(4 - r) * sizeof best[0]);
                best[r] = i;
                break;
            }
    printf("last position, top 5:\n");
    for (int r = 0; r < 5 && best[r] >= 0; r++) {
        const char *text = tok ? tokenizer_token_text(tok, best[r]) : NULL;
        printf("  %6d  %9.4f  %s\n", best[r], logits[best[r]], text ? text : "");
    }
}

int cmd_logits(int argc, char **argv) {
    const char *dir = NULL, *ids_text = NULL, *prompt = NULL, *out = NULL;
    ps_map_mode mode = PS_MAP_MMAP;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-m") == 0 && val) dir = val, i++;
        else if (strcmp(a, "--ids") == 0 && val) ids_text = val, i++;
        else if (strcmp(a, "--prompt") == 0 && val) prompt = val, i++;
        else if (strcmp(a, "-o") == 0 && val) out = val, i++;
        else if (strcmp(a, "--read") == 0) mode = PS_MAP_READ;
        else return usage();
    }
    if (!dir || !out || !ids_text == !prompt) return usage();
    int32_t *ids = NULL;
    Tokenizer *tok = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    FILE *probe = fopen(path, "rb");
    if (probe) fclose(probe), tok = tokenizer_load(path);
    int rc = 1;
    Model m;
    float *logits = NULL;
    if (prompt && !tok) {
        fprintf(stderr, "logits: --prompt needs %s (or give --ids)\n", path);
        goto done;
    }
    if (ids_text ? parse_ids(ids_text, &ids) : tokenizer_encode(tok, prompt, strlen(prompt), true, &ids)) goto done;
    if (arrlen(ids) == 0) {
        fprintf(stderr, "logits: no tokens to run\n");
        goto done;
    }
    if (model_load(&m, dir, mode) != 0) goto done;
    int n = (int)arrlen(ids), vocab = m.cfg.vocab_size;
    logits = malloc((size_t)n * vocab * sizeof *logits);
    if (!logits) fprintf(stderr, "logits: out of memory\n");
    else if (forward(&m, ids, n, logits, NULL) == 0 && write_f32_le(out, logits, (size_t)n * vocab) == 0) {
        printf("%d positions x %d logits (float32 little-endian) written to %s\n", n, vocab, out);
        print_top(logits + (size_t)(n - 1) * vocab, vocab, tok);
        rc = 0;
    }
    model_free(&m);
done:
    free(logits);
    arrfree(ids);
    if (tok) tokenizer_free(tok);
    return rc;
}
