// protostar logits -m MODEL_DIR (--ids "1 2 3" | --prompt TEXT) -o FILE
// Runs the forward pass and writes the logits of every position as little-endian float32, row-major
// [n_ids × vocab_size], to FILE (compare them with transformers' output). Prints the top tokens of
// the last position.
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "cli_args.h"
#include "forward.h"
#include "gguf_model.h"
#include "mlx_model.h"
#include "model.h"
#include "stb_ds.h"
#include "tokenizer.h"

static int usage(FILE *out) {
    fprintf(out, "usage: protostar logits -m MODEL_DIR (--ids \"1 2 3\" | --prompt TEXT) -o FILE\n"
                 "  --ids     token ids, separated by spaces or commas\n"
                 "  --prompt  text, tokenized with MODEL_DIR/tokenizer.json\n");
    return cli_usage_status(out);
}

// The file appears whole or not at all (atomic_file.h): a failed write leaves the old one.
static int write_f32_le(const char *path, const float *x, size_t n) {
    AtomicFile out;
    FILE *f = atomic_file_open(&out, path, "wb");
    if (!f) return -1;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        unsigned char b[4] = {(unsigned char)bits, (unsigned char)(bits >> 8), (unsigned char)(bits >> 16),
                              (unsigned char)(bits >> 24)};
        fwrite(b, 1, 4, f);
    }
    return atomic_file_commit(&out);
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

// The ids to run: --ids as given, or --prompt through the tokenizer. 0, or the exit status after a
// message.
static int input_ids(const char *ids_text, const char *prompt, const Tokenizer *tok, const char *tok_path,
                     int32_t **ids) {
    if (ids_text) return cli_parse_ids("logits: --ids", ids_text, ids) ? 0 : 2;   // bad usage
    if (!tok) {
        fprintf(stderr, "logits: --prompt needs %s (or give --ids)\n", tok_path);
        return 1;
    }
    return tokenizer_encode(tok, prompt, strlen(prompt), true, ids) == 0 ? 0 : 1;   // it says why
}

// Runs the model over ids and writes the logits. 0, or 1 after a message.
static int run(const Model *m, const int32_t *ids, int n, const char *out, const Tokenizer *tok) {
    int vocab = m->cfg.vocab_size;
    if (n > m->cfg.max_seq_len) {
        fprintf(stderr, "logits: %d ids, but the model's context (max_position_embeddings) holds %d\n", n,
                m->cfg.max_seq_len);
        return 1;
    }
    float *logits = malloc((size_t)n * (size_t)vocab * sizeof *logits);
    int rc = 1;
    if (!logits) {
        fprintf(stderr, "logits: out of memory\n");
    } else if (forward(m, ids, n, logits, NULL) == 0 && write_f32_le(out, logits, (size_t)n * vocab) == 0) {
        printf("%d positions x %d logits (float32 little-endian) written to %s\n", n, vocab, out);
        print_top(logits + (size_t)(n - 1) * vocab, vocab, tok);
        rc = 0;
    }
    free(logits);
    return rc;
}

int cmd_logits(int argc, char **argv) {
    const char *dir = NULL, *ids_text = NULL, *prompt = NULL, *out = NULL;
    for (int i = 1; i < argc; i += 2) {   // every option takes a value
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        const char **dest = NULL;
        if (cli_is_help(a)) return usage(stdout);
        if (strcmp(a, "-m") == 0) dest = &dir;
        else if (strcmp(a, "--ids") == 0) dest = &ids_text;
        else if (strcmp(a, "--prompt") == 0) dest = &prompt;
        else if (strcmp(a, "-o") == 0) dest = &out;
        if (!dest || !val) {
            fprintf(stderr, "logits: unknown option or missing value: %s\n", a);
            return usage(stderr);
        }
        *dest = val;
    }
    if (!dir || !out || !ids_text == !prompt) return usage(stderr);
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    Tokenizer *tok = NULL;
    bool gguf = gguf_path_is_gguf(dir);   // a .gguf file: the model and its tokenizer
    if (gguf || access(path, F_OK) == 0) {
        tok = gguf ? gguf_tokenizer_load(dir) : tokenizer_load(path);
        if (!tok) return 1;
    }
    int32_t *ids = NULL;
    int rc = input_ids(ids_text, prompt, tok, path, &ids);
    if (!rc && arrlen(ids) == 0) {
        fprintf(stderr, "logits: no tokens to run\n");
        rc = 1;
    }
    Model m;
    bool mlx = !gguf && mlx_path_is_mlx(dir);   // an mlx_lm folder
    if (!rc && (gguf ? gguf_model_load(&m, dir) : mlx ? mlx_model_load(&m, dir) : model_load(&m, dir, PS_MAP_MMAP)) != 0)
        rc = 1;
    if (!rc) {
        rc = run(&m, ids, (int)arrlen(ids), out, tok);
        model_free(&m);
    }
    arrfree(ids);
    if (tok) tokenizer_free(tok);
    return rc;
}
