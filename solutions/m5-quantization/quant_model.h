// Quantized models: the quantization policy, quantizing a loaded model in memory, and protostar's
// quantized model directory (written by `protostar quantize`, read back by model_load).
//
// Policy: every 2-D weight matrix whose rows split into whole blocks (cols a multiple of 32, or 64
// for Q4A) is quantized: the seven projections of every layer, the embedding, and lm_head when it
// is a separate tensor. Norm weights (1-D, a few thousand values that scale whole activations)
// stay f32, as does anything else. keep_embedding keeps the embedding (and a tied lm_head) in f32.
//
// On disk (OUT_DIR/model.safetensors, a valid safetensors file):
//   - a quantized matrix [rows x cols] is a U8 tensor of shape [rows, cols / block_len,
//     block_bytes]: its blocks in row order, bytes exactly as described in quant.h. The last
//     dimension (34, 18 or 36) names the format; the middle one gives cols back.
//   - every other tensor is F32.
//   - "__metadata__" holds "format": "pt", "protostar.quantization": "q8_0" | "q4_0" | "q4_affine"
//     and "protostar.layout" (a one-line reminder of the above).
// config.json and the tokenizer files are copied unchanged. The directory appears complete and
// loadable, or not at all (quant_model_write_opts).
#ifndef PS_QUANT_MODEL_H
#define PS_QUANT_MODEL_H

#include <stdbool.h>

#include "model.h"
#include "quant.h"

// "q8_0", "q4_0", "q4_affine" (also "q4a") -> DT_Q8_0, DT_Q4_0, DT_Q4A. 0, or -1 if unknown.
int quant_type_parse(const char *name, DType *out);
const char *quant_type_name(DType t);   // the command-line name: "q8_0", "q4_0", "q4_affine"

// True when the policy quantizes a [rows x cols] matrix (rows > 0) in format t.
bool quant_policy_applies(DType t, int cols);

// Quantizes m's matrices in place following the policy, registering the formats first
// (quant_register). m holds f32 matrices (straight from model_load) or bf16 ones kept as they are
// (model_keep_bf16): those are widened to f32 row by row first, so the blocks are the very bytes
// quantizing the f32-loaded model gives. Matrices already packed stay as they are. The new data
// lives in one allocation that model_free releases. 0, or -1 with a message (out of memory).
int quantize_model(Model *m, DType type, bool keep_embedding);

typedef struct {
    DType type;           // DT_Q8_0, DT_Q4_0 or DT_Q4A
    bool keep_embedding;  // the embedding (and a tied lm_head) stay f32
    bool replace;         // an out_dir that holds something is replaced (`quantize --force`)
} QuantWriteOptions;

// Writes the quantized copy of model directory in_dir to out_dir, all or nothing: the files go to
// the sibling OUT.partial-PID, are synced, loaded back, and the directory is then renamed to
// out_dir (swapped with it under opt->replace), so a kill at any moment leaves the old out_dir or
// the new one. Stale siblings a killed run left are removed. Refuses an out_dir that exists and is
// not empty (unless opt->replace), an input that is already quantized, a weight that is not
// finite, or out_dir == in_dir, with a message. 0, or -1 (out_dir untouched).
int quant_model_write_opts(const char *in_dir, const char *out_dir, const QuantWriteOptions *opt);
// The same without replacing: {type, keep_embedding, .replace = false}.
int quant_model_write(const char *in_dir, const char *out_dir, DType type, bool keep_embedding);

// ---- another format's checkpoint read into a Model (gguf_model.c, mlx_model.c) ----
// A reader of GGUF or mlx_lm walks the same tensors in the same order as model_load (the
// embedding, each layer's LAYER_TENSORS, the final norm, lm_head) under its own names, with its
// own way of reading one; the walk is written once, in model_read_tensors.
typedef struct {
    void *reader;   // the format's loader, handed back to each function below
    const char *where;   // the file or folder, for messages
    const char *embed, *final_norm, *lm_head;   // the format's names of the three tensors outside the layers
    const char *layer_prefix;   // "blk.": layer i's tensor t is named <prefix><i>.<layer_name(t)>
    const char *(*layer_name)(const LayerTensor *t);
    bool (*has)(void *reader, const char *name);
    float *(*vector)(void *reader, const char *name, int n);   // NULL after a message
    int (*matrix)(void *reader, Mat *m, const char *name, int rows, int cols);   // 0, or -1 after a message
    const char *(*unused)(void *reader);   // a tensor of the file no call read, or NULL
} TensorSource;

// Fills m's weights from s (m->cfg set, memory from model_alloc_weights). Without an lm_head
// tensor a model with tied embeddings shares the embedding. A tensor left unread means the file
// is not the model we implement, and is refused. 0, or -1 after a message.
int model_read_tensors(Model *m, const TensorSource *s);

// Registers the three formats with lab M1's loader (model.h, MatFormat: model_load then reads
// quantized matrices) and lab M2's matmul (forward.h, MatKernels: matmul and embed_token then
// compute with them), and Q8_0 and Q4_0 as KV cache formats with lab M4's cache (kv_q8.h, kv_q4.h). Call once
// before loading a quantized model; again changes nothing. 0 or -1.
int quant_register(void);

#endif
