// protostar quantize -m IN_DIR -o OUT_DIR --type q8_0|q4_0|q4_affine [--keep-embedding]
// Writes a quantized copy of a model directory (format and policy: solutions/m5-quantization/quant_model.h), then
// loads it back to prove it is usable by generate, logits and inspect.
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "quant_model.h"

static int usage(void) {
    fprintf(stderr,
            "usage: protostar quantize -m IN_DIR -o OUT_DIR --type q8_0|q4_0|q4_affine [--keep-embedding]\n"
            "  --type            q8_0: 8.5 bits per weight (llama.cpp Q8_0)\n"
            "                    q4_0: 4.5 bits per weight (llama.cpp Q4_0, symmetric)\n"
            "                    q4_affine: 4.5 bits per weight (MLX-style scale + bias, groups of 64)\n"
            "  --keep-embedding  leave the embedding (and a tied lm_head) in f32\n");
    return 2;
}

int cmd_quantize(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *type_name = NULL;
    bool keep_embedding = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-m") == 0 && i + 1 < argc) in = argv[++i];
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) out = argv[++i];
        else if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) type_name = argv[++i];
        else if (strcmp(argv[i], "--keep-embedding") == 0) keep_embedding = true;
        else {
            fprintf(stderr, "quantize: unexpected argument '%s'\n", argv[i]);
            return usage();
        }
    }
    if (!in || !out || !type_name) return usage();
    DType type;
    if (quant_type_parse(type_name, &type) != 0) {
        fprintf(stderr, "quantize: unknown --type '%s' (q8_0, q4_0 or q4_affine)\n", type_name);
        return 2;
    }
    if (quant_model_write(in, out, type, keep_embedding) != 0) return 1;
    Model m;
    if (model_load(&m, out, PS_MAP_MMAP) != 0) {
        fprintf(stderr, "quantize: %s was written but does not load (see above)\n", out);
        return 1;
    }
    model_free(&m);
    fprintf(stderr, "%s: loads; try `protostar generate -m %s -p \"...\"`\n", out, out);
    return 0;
}
