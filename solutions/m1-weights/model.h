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

// A weight matrix [rows × cols]: DT_F32 data (converted at load), DT_BF16 when kept as it is
// (model_keep_bf16), or a registered packed format (MatFormat below) whose dtype says how to read it.
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

// The eleven tensors of a block as one table (LAYER_TENSORS, model.c), so each loader or writer of
// a layer walks it instead of spelling the tensors again: the field of Layer each fills, its shape
// in terms of the config, and its name in a Hugging Face checkpoint (after "model.layers.N.").
// Readers of other formats keep a map from that name to theirs.
typedef enum {
    LD_NONE,      // no second dimension: a vector
    LD_DIM,       // dim
    LD_HEAD_DIM,  // head_dim
    LD_Q_DIM,     // n_heads * head_dim
    LD_KV_DIM,    // n_kv_heads * head_dim
    LD_FFN_DIM,   // ffn_dim
} LayerDim;

typedef struct {
    const char *hf_name;   // "self_attn.q_proj.weight"
    size_t field;          // offsetof(Layer, wq): a Mat, or a float * when cols is LD_NONE
    LayerDim rows, cols;   // a matrix [rows × cols], or a vector of rows values (cols = LD_NONE)
} LayerTensor;

enum { LAYER_TENSOR_COUNT = 11 };
extern const LayerTensor LAYER_TENSORS[LAYER_TENSOR_COUNT];   // in the order of Layer's fields

int layer_dim(const Config *c, LayerDim d);   // the size d stands for in c; 0 for LD_NONE
// The field of l that entry t fills. l may be const for a caller that only reads the field; like
// strchr's result, the pointer may be written through only when l itself may be.
Mat *layer_mat(const Layer *l, const LayerTensor *t);      // t a matrix
float **layer_vec(const Layer *l, const LayerTensor *t);   // t a vector

typedef struct {
    Config cfg;
    Mat embed;          // model.embed_tokens.weight  [vocab_size × dim]: row i is token i's vector
    Layer *layers;      // [n_layers]
    float *final_norm;  // model.norm.weight          [dim]
    Mat lm_head;        // lm_head.weight [vocab_size × dim]; when the checkpoint has none (tied
                        // embeddings) it is the same data as embed
    bool lm_head_is_embed;  // true when lm_head shares embed's memory
    void *storage;      // owns the memory all weights live in (model_free calls free_storage on it)
    void (*free_storage)(void *storage);  // model_load's frees its 2 MiB-page block; code that
                                          // repacks a model may install another that chains it
} Model;

// Loads DIR (config.json + model.safetensors or a sharded index), checks every tensor's presence
// and shape against the config, and converts the weights to f32 into one block of memory on 2 MiB
// pages (shared/mapfile.h, ps_alloc_big: a decode step reads every weight, and 4 KiB pages would
// cost a TLB miss every 4 KiB). `mode` says only how the checkpoint is read while converting
// (mmap'd, or read whole into memory first); the loaded model is the same either way. 0 on success;
// -1 after printing what is wrong (file, tensor).
int model_load(Model *m, const char *dir, PsMapMode mode);
void model_free(Model *m);

// The memory of a model being loaded, for model_load and for readers of other checkpoint formats:
// m->layers for m->cfg.n_layers blocks, and one block of `bytes` on 2 MiB pages that model_free
// releases, returned for the weights to be written into. The size comes from the input, so a
// failure is a message naming `where` (the file or folder) and NULL, not an exit; model_free
// still undoes the rest.
void *model_alloc_weights(Model *m, size_t bytes, const char *where);

// Parameter counts: `stored` counts every tensor in the checkpoint; `logical` counts a tied lm_head
// once (Qwen3-0.6B: 751,632,384 stored, 596,049,920 logical).
typedef struct {
    long long stored, logical;
} ParamCount;
ParamCount count_params(const SafeTensors *st, const Config *c);

// ---- extension point: bf16 matrices kept as they are ----
// model_load widens every bf16 tensor to f32 unless a program whose products read bf16 matrices
// directly says so first: then each bf16 matrix (not the vectors: norms) is copied as it is, a Mat
// of dtype DT_BF16 (raw little-endian bf16, 2 bytes per weight), and a step that reads every
// weight reads half the bytes. Off by default; it stays as set for the loads that follow.
void model_keep_bf16(bool on);

// ---- extension point: packed matrix formats ----
// This lab widens every weight to f32. A later lab can keep matrices packed in a format of its own
// (fewer bits per weight) by registering the format here. A packed [rows × cols] matrix is stored
// in the file as a U8 tensor of shape [rows, cols / block_len, block_bytes]: each row a run of
// blocks, each block packing block_len consecutive weights into block_bytes bytes; the last
// dimension says which format it is. model_load checks the shape, copies the bytes as they are and
// gives the Mat the format's dtype; computing with it is the registering lab's business.
typedef struct {
    DType dtype;       // the loaded Mat's dtype (DT_EXTENSION or above)
    const char *name;  // for messages and `protostar inspect`
    int block_len;     // weights per block
    int block_bytes;   // bytes per block; no two registered formats share it
} MatFormat;

// Registers f (kept by pointer: give it static storage); registering it again changes nothing.
// 0, or -1 (message printed) when its dtype or block_bytes is taken by another format, or the
// table is full.
int mat_format_register(const MatFormat *f);
const MatFormat *mat_format_of(DType t);   // the registered format with that dtype, or NULL
const char *mat_type_name(DType t);        // dtype_name() of a file type, else the format's name

#endif
