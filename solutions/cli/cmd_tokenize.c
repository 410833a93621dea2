// `protostar tokenize` and `protostar detokenize`: the M0 tokenizer from the shell.
//
//     printf 'Hello world' | protostar tokenize -t models/qwen3-0.6b      ->  9707 1879
//     echo 9707 1879 | protostar detokenize -t models/qwen3-0.6b          ->  Hello world
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "stb_ds.h"
#include "tokenizer.h"

// Reads all of stdin (any bytes, newlines kept) into an stb_ds array.
static char *read_stdin(void) {
    char *data = NULL;
    char chunk[1 << 16];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) memcpy(arraddnptr(data, n), chunk, n);
    return data;
}

// Parses "-t PATH" (and, for tokenize, --no-special) into *path. true to go on; false when the
// command is done, with its exit status in *status (0 after --help, 2 after bad usage).
static bool parse_args(int argc, char **argv, const char *usage, bool *no_special, const char **path, int *status) {
    *path = NULL;
    for (int i = 1; i < argc; i++) {
        FILE *out = NULL;
        if (cli_is_help(argv[i])) out = stdout;
        else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) *path = argv[++i];
        else if (no_special && strcmp(argv[i], "--no-special") == 0) *no_special = true;
        else out = stderr;
        if (out) {
            fprintf(out, "usage: %s\n", usage);
            *status = cli_usage_status(out);
            return false;
        }
    }
    if (*path) return true;
    fprintf(stderr, "usage: %s\n", usage);
    *status = 2;
    return false;
}

int cmd_tokenize(int argc, char **argv) {
    bool no_special = false;
    const char *path;
    int status;
    if (!parse_args(argc, argv,
                    "protostar tokenize -t TOKENIZER_JSON_OR_MODEL_DIR [--no-special] < text\n"
                    "  prints the token ids of stdin; --no-special: \"<|im_end|>\" etc. are plain text",
                    &no_special, &path, &status))
        return status;
    Tokenizer *t = tokenizer_load(path);
    if (!t) return 1;
    char *text = read_stdin();
    int32_t *ids = NULL;
    int rc = tokenizer_encode(t, text ? text : "", arrlenu(text), !no_special, &ids);
    if (rc == 0) {
        for (size_t i = 0; i < arrlenu(ids); i++) printf(i ? " %d" : "%d", (int)ids[i]);
        printf("\n");
    } else {
        fprintf(stderr, "tokenize: stdin is not UTF-8 text; nothing was printed\n");
    }
    arrfree(ids);
    arrfree(text);
    tokenizer_free(t);
    return rc == 0 ? 0 : 1;
}

int cmd_detokenize(int argc, char **argv) {
    const char *path;
    int status;
    if (!parse_args(argc, argv,
                    "protostar detokenize -t TOKENIZER_JSON_OR_MODEL_DIR < ids\n"
                    "  reads token ids (separated by spaces, newlines or commas) from stdin and writes their text",
                    NULL, &path, &status))
        return status;
    Tokenizer *t = tokenizer_load(path);
    if (!t) return 1;
    char *input = read_stdin();
    arrput(input, '\0');
    int32_t *ids = NULL;
    char *text = NULL;
    int rc = cli_parse_ids("detokenize", input, &ids) ? 0 : 1;
    if (rc == 0 && tokenizer_decode(t, ids, arrlenu(ids), &text) != 0) rc = 1;
    if (rc == 0 && arrlenu(text)) fwrite(text, 1, arrlenu(text), stdout);
    arrfree(text);
    arrfree(ids);
    arrfree(input);
    tokenizer_free(t);
    return rc;
}
