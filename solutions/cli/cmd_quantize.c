// protostar quantize -m IN_DIR -o OUT_DIR --type q8_0|q4_0|q4_affine [--keep-embedding] [--force]
// Writes a quantized copy of a model directory (format and policy: solutions/m5-quantization/quant_model.h);
// the copy is loaded back before it takes OUT_DIR's name, so it is usable by generate, logits and inspect.
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli_args.h"
#include "quant_model.h"

static int usage(FILE *out) {
    fprintf(out,
            "usage: protostar quantize -m IN_DIR -o OUT_DIR --type q8_0|q4_0|q4_affine [--keep-embedding] [--force]\n"
            "  --type            q8_0: 8.5 bits per weight (llama.cpp Q8_0)\n"
            "                    q4_0: 4.5 bits per weight (llama.cpp Q4_0, symmetric)\n"
            "                    q4_affine: 4.5 bits per weight (MLX-style scale + bias, groups of 64)\n"
            "  --keep-embedding  leave the embedding (and a tied lm_head) in f32\n"
            "  --force           replace OUT_DIR when it already exists\n"
            "OUT_DIR appears complete or not at all: it is written beside it, checked to load, then renamed.\n");
    return cli_usage_status(out);
}

int cmd_quantize(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *type_name = NULL;
    QuantWriteOptions opt = {0};
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) return usage(stdout);
        if (strcmp(argv[i], "-m") == 0 && i + 1 < argc) {
            in = argv[++i];
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
            type_name = argv[++i];
        } else if (strcmp(argv[i], "--keep-embedding") == 0) {
            opt.keep_embedding = true;
        } else if (strcmp(argv[i], "--force") == 0) {
            opt.replace = true;
        } else {
            fprintf(stderr, "quantize: unknown option or missing value: %s\n", argv[i]);
            return usage(stderr);
        }
    }
    if (!in || !out || !type_name) return usage(stderr);
    if (quant_type_parse(type_name, &opt.type) != 0) {
        fprintf(stderr, "quantize: unknown --type '%s' (q8_0, q4_0 or q4_affine)\n", type_name);
        return 2;
    }
    if (quant_model_write_opts(in, out, &opt) != 0) return 1;
    fprintf(stderr, "%s: loads; try `protostar generate -m %s -p \"...\"`\n", out, out);
    return 0;
}
