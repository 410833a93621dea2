// The model in memory: the hyper-parameters and every weight, in structs named after the math.
//
// Shapes follow PyTorch's nn.Linear: a weight matrix W is [rows = out features × cols = in features],
// row-major, and a projection computes y = W x (each output is the dot product of one row with x).
#ifndef PS_MODEL_H
#define PS_MODEL_H

#include <stdbool.h>

#include "config.h"
#include "mapfile.h"
#include "safetensors.h"   // DType

// A weight matrix [rows × cols]. M1/M2 always hold DT_F32 data (converted at load); lab M5 adds
// block-quantized data (DT_Q8_0, ...) behind the same struct, so matmul() dispatches on dtype.
typedef struct {
    DType dtype;
    int rows, cols;
    const void *data;
} Mat;

// One transformer block (Qwen3DecoderLayer). Comments give the checkpoint name under
// model.layers.N. and the shape for Qwen3-0.6B.
typedef struct {
    float *attn_norm;   // input_layernorm.weight            [dim]               (1024)
    Mat wq;             // self_attn.q_proj.weight           [n_heads*head_dim × dim]    (2048 × 1024)
    Mat wk;             // self_attn.k_proj.weight           [n_kv_heads*head_dim × dim] (1024 × 1024)
    Mat wv;             // self_attn.v_proj.weight           [n_kv_heads*head_dim × dim] (1024 × 1024)
    float *q_norm;      // self_attn.q_norm.weight           [head_dim]          (128)
    float *k_norm;      // self_attn.k_norm.weight           [head_dim]          (128)
    Mat wo;             // self_attn.o_proj.weight           [dim × n_heads*head_dim]    (1024 × 2048)
    float *mlp_norm;    // post_attention_layernorm.weight   [dim]
    Mat w_gate;         // mlp.gate_proj.weight              [ffn_dim × dim]     (3072 × 1024)
    Mat w_up;           // mlp.up_proj.weight                [ffn_dim × dim]
    Mat w_down;         // mlp.down_proj.weight              [dim × ffn_dim]     (1024 × 3072)
} Layer;

typedef struct {
    Config cfg;
    Mat embed;          // model.embed_tokens.weight  [vocab_size × dim]: row i is token i's vector
    Layer *layers;      // [n_layers]
    float *final_norm;  // model.norm.weight          [dim]
    Mat lm_head;        // lm_head.weight [vocab_size × dim]; when the checkpoint has none (tied
                        // embeddings) it is the same data as embed
    bool lm_head_is_embed;  // true when lm_head shares embed's memory
    void *storage;      // the one allocation all f32 weights live in (freed by model_free)
    void (*free_storage)(void *storage);  // NULL: free(); M5's own formats may install another
} Model;

// Loads DIR (config.json + model.safetensors or a sharded index), checks every tensor's presence
// and shape against the config, and converts the weights to f32. `mode` says whether the file is
// mmap'd or read while converting. 0 on success; -1 after printing what is wrong (file, tensor).
int model_load(Model *m, const char *dir, ps_map_mode mode);
void model_free(Model *m);

// Parameter counts: `stored` counts every tensor in the checkpoint; `logical` counts a tied lm_head
// once (Qwen3-0.6B: 751,632,384 stored, 596,049,920 logical).
typedef struct {
    long long stored, logical;
} ParamCount;
ParamCount count_params(const SafeTensors *st, const Config *c);

#endif
