// Your lab's contract, copied by tools/mkskel from solutions/m5-quantization/gguf_model.h (do not edit: make skeletons rewrites it).
// Models in other people's formats: a GGUF file (llama.cpp) read as a protostar Model and
// Tokenizer, and a loaded model written back as GGUF. Chapter: book/appendix-formats.md.
//
// GGUF → protostar (architecture "qwen3" only):
//   qwen3.block_count, .embedding_length, .feed_forward_length, .attention.head_count,
//   .attention.head_count_kv, .attention.key_length, .rope.freq_base,
//   .attention.layer_norm_rms_epsilon, .context_length                → Config (checked by M1's
//   config_parse, the same rules as a config.json)
//   token_embd, blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_q_norm, attn_k_norm, attn_output,
//   ffn_norm, ffn_gate, ffn_up, ffn_down}, output_norm, output (absent when tied) → Model
//   tokenizer.ggml.{model "gpt2", pre "qwen2", tokens, token_type, merges, bos/eos_token_id} → Tokenizer
// Matrices stored F32, F16 or BF16 are widened to f32 as model_load does; Q8_0 and Q4_0 blocks are
// M5's own formats byte for byte and are kept as they are. llama.cpp's converter does not permute
// Qwen3's q/k rows (it does for LLaMA), so the rows are used as stored.
#ifndef PS_GGUF_MODEL_H
#define PS_GGUF_MODEL_H

#include <stdbool.h>

#include "gguf.h"
#include "model.h"
#include "tokenizer.h"

// True when PATH names a GGUF file (a regular file whose first bytes are "GGUF").
bool gguf_path_is_gguf(const char *path);

// The Config a GGUF file describes. 0, or -1 after a message naming the key.
int gguf_config(const Gguf *g, Config *c);

// GGUF's name, after "blk.N.", of one of M1's layer tensors (model.h, LAYER_TENSORS): "attn_q.weight"
// for "self_attn.q_proj.weight".
const char *gguf_layer_name(const LayerTensor *t);

// Loads the model in PATH (registers M5's formats first). 0, or -1 after a message.
int gguf_model_load(Model *m, const char *path);

// The tokenizer stored in PATH (tokenizer.ggml.*). NULL after a message.
Tokenizer *gguf_tokenizer_load(const char *path);
Tokenizer *gguf_tokenizer_from(const Gguf *g);

// What a GGUF file says besides the weights; zero-initialized fields are left out.
typedef struct {
    const char *name;            // general.name
    const char *chat_template;   // tokenizer.chat_template (tokenizer_config.json's), or NULL
    int32_t eos_id, pad_id;      // tokenizer.ggml.{eos,padding}_token_id; -1: eos from the config, no pad
} GgufWriteInfo;

// Writes model m (f32 matrices, or Q8_0/Q4_0 ones: a Q4A model is refused) and tokenizer tok to
// out_path as a GGUF file llama.cpp loads: written to OUT.partial-PID, synced, read back, then
// renamed, so OUT appears complete or not at all. With `replace` false an existing OUT is refused.
// 0, or -1 after a message.
int gguf_write(const char *out_path, const Model *m, const Tokenizer *tok, const GgufWriteInfo *info, bool replace);

#endif
