// protostar quantize -m IN_DIR -o OUT_DIR --type q8_0|q4_0|q4_affine [--keep-embedding] [--force]
// protostar quantize -m IN_DIR --gguf OUT.gguf --type q8_0|q4_0|f32 [--keep-embedding] [--force]
// Writes a quantized copy of a model directory (format and policy: solutions/m5-quantization/quant_model.h);
// the copy is loaded back before it takes OUT_DIR's name, so it is usable by generate, logits and inspect.
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_args.h"
#include "gguf_model.h"
#include "mapfile.h"
#include "quant_model.h"

static int usage(FILE *out) {
    fprintf(out,
            "usage: protostar quantize -m IN_DIR -o OUT_DIR --type q8_0|q4_0|q4_affine [--keep-embedding] [--force]\n"
            "  --type            q8_0: 8.5 bits per weight (llama.cpp Q8_0)\n"
            "                    q4_0: 4.5 bits per weight (llama.cpp Q4_0, symmetric)\n"
            "                    q4_affine: 4.5 bits per weight (MLX-style scale + bias, groups of 64)\n"
            "  --keep-embedding  leave the embedding (and a tied lm_head) in f32\n"
            "  --force           replace OUT_DIR when it already exists\n"
            "  --gguf OUT.gguf   instead of -o: one GGUF file for llama.cpp, tokenizer included\n"
            "                    (--type q8_0, q4_0 or f32; book/appendix-formats.md)\n"
            "OUT_DIR appears complete or not at all: it is written beside it, checked to load, then renamed.\n");
    return cli_usage_status(out);
}

// The id of tokenizer_config.json's KEY ("<|im_end|>" or {"content": "<|im_end|>"}); -1 if none.
static int32_t special_id(const Tokenizer *tok, const cJSON *cfg, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    return tok && cJSON_IsString(v) ? tokenizer_token_id(tok, v->valuestring) : -1;
}

// --gguf: the model (and its tokenizer.json, if any) loaded, quantized in memory, written as GGUF.
static int write_gguf(const char *in, const char *out, const char *type_name, const QuantWriteOptions *opt) {
    DType type = DT_F32;
    if (strcmp(type_name, "f32") != 0 && (quant_type_parse(type_name, &type) != 0 || type == DT_Q4A)) {
        fprintf(stderr, "quantize: --gguf takes --type q8_0, q4_0 or f32, not '%s' (GGUF has no Q4A)\n", type_name);
        return 2;
    }
    Model m;
    if (model_load(&m, in, PS_MAP_MMAP) != 0) return 1;
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", in);
    Tokenizer *tok = access(path, F_OK) == 0 ? tokenizer_load(path) : NULL;
    int rc = access(path, F_OK) == 0 && !tok ? 1 : 0;
    // tokenizer_config.json's chat template and special tokens go into the file, as llama.cpp's
    // converter puts them (its chat mode needs the template).
    snprintf(path, sizeof path, "%s/tokenizer_config.json", in);
    char *text = tok && access(path, F_OK) == 0 ? ps_read_text(path, NULL) : NULL;
    cJSON *cfg = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *tmpl = cJSON_GetObjectItemCaseSensitive(cfg, "chat_template");
    GgufWriteInfo info = {.name = in, .chat_template = cJSON_IsString(tmpl) ? tmpl->valuestring : NULL,
                          .eos_id = special_id(tok, cfg, "eos_token"), .pad_id = special_id(tok, cfg, "pad_token")};
    if (!rc && type != DT_F32 && quantize_model(&m, type, opt->keep_embedding) != 0) rc = 1;
    if (!rc && gguf_write(out, &m, tok, &info, opt->replace) != 0) rc = 1;
    cJSON_Delete(cfg);
    if (!rc) fprintf(stderr, "%s: written; try `protostar generate -m %s -p \"...\"`\n", out, out);
    tokenizer_free(tok);
    model_free(&m);
    return rc;
}

int cmd_quantize(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *type_name = NULL, *gguf_out = NULL;
    QuantWriteOptions opt = {0};
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) return usage(stdout);
        if (strcmp(argv[i], "-m") == 0 && i + 1 < argc) {
            in = argv[++i];
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--gguf") == 0 && i + 1 < argc) {
            gguf_out = argv[++i];
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
    if (gguf_out && !out && in && type_name) return write_gguf(in, gguf_out, type_name, &opt);
    if (!in || !out || !type_name || gguf_out) return usage(stderr);
    if (quant_type_parse(type_name, &opt.type) != 0) {
        fprintf(stderr, "quantize: unknown --type '%s' (q8_0, q4_0 or q4_affine)\n", type_name);
        return 2;
    }
    if (quant_model_write_opts(in, out, &opt) != 0) return 1;
    fprintf(stderr, "%s: loads; try `protostar generate -m %s -p \"...\"`\n", out, out);
    return 0;
}
