// Fuzz target: the model loader (model_load: config.json + model.safetensors -> Model), with the
// quantized formats of M5. The input is the model.safetensors of a scratch directory whose
// config.json is fixed (below); the seeds are real f32 and quantized files of that shape, made by
// tools/fuzz/make_seeds.py. The shape mixes quantized and f32 matrices in one layer: o_proj has
// 8 columns (never a whole block: f32); with q4_affine (blocks of 64) only down_proj (64 columns)
// is quantized and the 32-column matrices stay f32 (the mix of issue 12's heap overflow).
#include "fuzz_util.h"
#include "model.h"

static const char CONFIG[] =
    "{\"model_type\": \"qwen3\", \"hidden_size\": 32, \"intermediate_size\": 64,"
    " \"num_hidden_layers\": 1, \"num_attention_heads\": 1, \"num_key_value_heads\": 1,"
    " \"head_dim\": 8, \"vocab_size\": 8, \"max_position_embeddings\": 64,"
    " \"rms_norm_eps\": 1e-06, \"rope_theta\": 10000.0, \"tie_word_embeddings\": true}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    static const char *dir;
    if (!dir) fuzz_write_file(dir = fuzz_model_setup(), "config.json", CONFIG, sizeof CONFIG - 1);
    fuzz_write_file(dir, "model.safetensors", data, size);
    Model m;
    if (model_load(&m, dir, PS_MAP_MMAP) == 0) fuzz_model_must_run(&m, "model_load");
    return 0;
}
