// Fuzz target: the mlx_lm folder loader (solutions/m5-quantization/mlx_model.c: mlx_model_load),
// whose own code turns packed U32 weights with their scales and biases into M5's formats and reads
// a sharded folder's index. config.json is fixed (below, with a "quantization" entry, as mlx_lm
// writes it); the input is either
//   - a model.safetensors (the folder has no index), or
//   - when it starts with '{': a model.safetensors.index.json, then a NUL byte, then the one shard
//     it may name, model-00001-of-00001.safetensors (the folder has no model.safetensors).
// A loaded model must run a forward pass. Seeds: tools/fuzz/make_seeds.py (MLX_CONFIG there and
// CONFIG here must agree): 4- and 8-bit matrices in groups of 32 and 64 (the latter through M5's
// Q4A path), unquantized ones beside them, and a few broken folders.
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "mlx_model.h"

static const char CONFIG[] =
    "{\"model_type\": \"qwen3\", \"hidden_size\": 32, \"intermediate_size\": 64,"
    " \"num_hidden_layers\": 1, \"num_attention_heads\": 1, \"num_key_value_heads\": 1,"
    " \"head_dim\": 32, \"vocab_size\": 8, \"max_position_embeddings\": 64,"
    " \"rms_norm_eps\": 1e-06, \"rope_theta\": 10000.0, \"tie_word_embeddings\": true,"
    " \"quantization\": {\"group_size\": 32, \"bits\": 4}}\n";

#define SHARD "model-00001-of-00001.safetensors"

// Removes DIR/name if it is there.
static void remove_file(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    static const char *dir;
    if (!dir) fuzz_write_file(dir = fuzz_model_setup(), "config.json", CONFIG, sizeof CONFIG - 1);
    if (size > 0 && data[0] == '{') {
        const uint8_t *nul = memchr(data, 0, size);
        const size_t json = nul ? (size_t)(nul - data) : size;
        remove_file(dir, "model.safetensors");
        fuzz_write_file(dir, "model.safetensors.index.json", data, json);
        fuzz_write_file(dir, SHARD, nul ? nul + 1 : data + size, nul ? size - json - 1 : 0);
    } else {
        remove_file(dir, "model.safetensors.index.json");
        remove_file(dir, SHARD);
        fuzz_write_file(dir, "model.safetensors", data, size);
    }
    Model m;
    if (mlx_model_load(&m, dir) == 0) fuzz_model_must_run(&m, "mlx_model_load");
    return 0;
}
