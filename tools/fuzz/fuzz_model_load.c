// Fuzz target: the model loader (model_load: config.json + model.safetensors -> Model), with the
// quantized formats of M5. The input is the model.safetensors of a scratch directory whose
// config.json is fixed (below); the seeds are real f32 and quantized files of that shape, made by
// tools/fuzz/make_seeds.py. The shape mixes quantized and f32 matrices in one layer: o_proj has
// 8 columns (never a whole block: f32); with q4_affine (blocks of 64) only down_proj (64 columns)
// is quantized and the 32-column matrices stay f32 (the mix of issue 12's heap overflow).
#include "thread_pool.h"
#include "forward.h"
#include "fuzz_util.h"
#include "model.h"
#include "quant_model.h"   // quant_register: M5's formats become known to M1's loader and M2's matmul

static const char CONFIG[] =
    "{\"model_type\": \"qwen3\", \"hidden_size\": 32, \"intermediate_size\": 64,"
    " \"num_hidden_layers\": 1, \"num_attention_heads\": 1, \"num_key_value_heads\": 1,"
    " \"head_dim\": 8, \"vocab_size\": 8, \"max_position_embeddings\": 64,"
    " \"rms_norm_eps\": 1e-06, \"rope_theta\": 10000.0, \"tie_word_embeddings\": true}\n";

static volatile float sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    static const char *dir;
    if (!dir) {
        pool_set_threads(1);   // one process per core; a spinning pool would steal the others
        if (quant_register() != 0) fuzz_fail("quant_register failed");
        dir = fuzz_scratch_dir();
        fuzz_write_file(dir, "config.json", CONFIG, sizeof CONFIG - 1);
    }
    fuzz_write_file(dir, "model.safetensors", data, size);
    Model m;
    if (model_load(&m, dir, PS_MAP_MMAP) == 0) {
        // A loaded model must run: two tokens through every matrix (quantized ones included).
        int32_t ids[2] = {0, m.cfg.vocab_size - 1};
        float logits[2 * 8];
        if (m.cfg.vocab_size > 8 || forward(&m, ids, 2, logits, NULL) != 0)
            fuzz_fail("forward failed on a model that model_load accepted");
        sink += logits[0];
        model_free(&m);
    }
    return 0;
}
