// model_load: config.json + safetensors → Model. Every tensor the math needs is looked up by its
// Hugging Face name, its shape checked against the config, and its data widened to f32 into one
// allocation. A checkpoint whose shapes disagree with its config is refused here, not discovered
// later as garbage output.
#include "model.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapfile.h"
#include "weights.h"
#include "xalloc.h"

typedef struct {
    const SafeTensors *st;
    bool *used;          // [st->n_tensors]: which tensors the model consumed
    float *next;         // where the next converted tensor goes inside the storage
    size_t done, total;  // bytes converted so far / in all, for the progress bar
} Loader;

// Finds `name`, checks it has exactly the shape [rows, cols] (cols = 0: a vector [rows]), converts
// it to f32 at L->next and returns that address; NULL after printing what is wrong.
//[ load-tensor
static float *load_tensor(Loader *L, const char *name, int rows, int cols) {
    const StTensor *t = st_find(L->st, name);
    if (!t) {
        fprintf(stderr, "%s: missing tensor '%s'\n", L->st->paths[0], name);
        return NULL;
    }
    if (t->dtype == DT_U8) {   // only weight matrices are ever stored packed
        fprintf(stderr, "%s: tensor '%s' is U8 (packed bytes), but it must be a float vector\n",
                L->st->paths[t->file], name);
        return NULL;
    }
    int want_ndim = cols ? 2 : 1;
    bool ok = t->ndim == want_ndim && t->shape[0] == rows && (!cols || t->shape[1] == cols);
    if (!ok) {
        char got[96] = "", want[48];
        for (int d = 0, len = 0; d < t->ndim && len < 80; d++)
            len += snprintf(got + len, sizeof got - (size_t)len, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
        if (cols) snprintf(want, sizeof want, "%d, %d", rows, cols);
        else snprintf(want, sizeof want, "%d", rows);
        fprintf(stderr, "%s: tensor '%s' has shape [%s] but config.json implies [%s]\n",
                L->st->paths[t->file], name, got, want);
        return NULL;
    }
    float *out = L->next;
    convert_to_f32(out, t->data, t->dtype, t->numel);   // the parser accepted only F32/BF16/F16
    L->next += t->numel;
    L->used[t - L->st->tensors] = true;
    L->done += t->nbytes;
    progress_bar("loading", L->done, L->total);
    return out;
}
//]

// ---- packed formats (the extension point in model.h) ----

#define MAX_FORMATS 8
static const MatFormat *formats[MAX_FORMATS];
static int n_formats;

int mat_format_register(const MatFormat *f) {
    for (int i = 0; i < n_formats; i++) {
        if (formats[i] == f) return 0;
        if (formats[i]->dtype == f->dtype || formats[i]->block_bytes == f->block_bytes) {
            fprintf(stderr, "mat_format_register: %s clashes with %s\n", f->name, formats[i]->name);
            return -1;
        }
    }
    if (n_formats == MAX_FORMATS || f->dtype < DT_EXTENSION || f->block_len < 1 || f->block_bytes < 1) {
        fprintf(stderr, "mat_format_register: cannot register %s\n", f->name);
        return -1;
    }
    formats[n_formats++] = f;
    return 0;
}

const MatFormat *mat_format_of(DType t) {
    for (int i = 0; i < n_formats; i++)
        if (formats[i]->dtype == t) return formats[i];
    return NULL;
}

const char *mat_type_name(DType t) {
    const MatFormat *f = mat_format_of(t);
    return f ? f->name : dtype_name(t);
}

// The registered format a U8 tensor [rows, blocks, block_bytes] is stored in; NULL if none.
static const MatFormat *packed_format(const StTensor *t) {
    if (t->dtype != DT_U8 || t->ndim != 3) return NULL;
    for (int i = 0; i < n_formats; i++)
        if (t->shape[2] == formats[i]->block_bytes) return formats[i];
    return NULL;
}

// A packed tensor: checked against [rows × cols], copied as it is to dst (room for t->nbytes).
static int load_packed(Mat *m, const StTensor *t, int rows, int cols, void *dst, const char *file) {
    const MatFormat *f = packed_format(t);
    if (!f) {
        fprintf(stderr, "%s: tensor '%s' is U8 with %d dims, and no registered packed format reads it "
                        "(a packed matrix is U8 [rows, blocks per row, bytes per block])\n", file, t->name, t->ndim);
        return -1;
    }
    if (t->shape[0] != rows || t->shape[1] * f->block_len != cols) {
        fprintf(stderr, "%s: tensor '%s' is %s [%lld rows x %lld blocks of %d], but config.json implies "
                        "[%d x %d]\n", file, t->name, f->name, (long long)t->shape[0], (long long)t->shape[1],
                f->block_len, rows, cols);
        return -1;
    }
    memcpy(dst, t->data, t->nbytes);
    *m = (Mat){.dtype = f->dtype, .rows = rows, .cols = cols, .data = dst};
    return 0;
}

// ---- bf16 matrices kept as they are (model_keep_bf16) ----

static bool keep_bf16;
void model_keep_bf16(bool on) { keep_bf16 = on; }

static bool kept_as_bf16(const StTensor *t) { return keep_bf16 && t->dtype == DT_BF16 && t->ndim == 2; }

// A bf16 matrix: checked against [rows × cols], its bytes copied as they are to L->next.
static int load_bf16(Loader *L, Mat *m, const StTensor *t, int rows, int cols) {
    if (t->shape[0] != rows || t->shape[1] != cols) {
        fprintf(stderr, "%s: tensor '%s' has shape [%lld, %lld] but config.json implies [%d, %d]\n",
                L->st->paths[t->file], t->name, (long long)t->shape[0], (long long)t->shape[1], rows, cols);
        return -1;
    }
    memcpy(L->next, t->data, t->nbytes);
    *m = (Mat){.dtype = DT_BF16, .rows = rows, .cols = cols, .data = L->next};
    L->next += (t->nbytes + sizeof(float) - 1) / sizeof(float);
    L->used[t - L->st->tensors] = true;
    L->done += t->nbytes;
    progress_bar("loading", L->done, L->total);
    return 0;
}

static int load_mat(Loader *L, Mat *m, const char *name, int rows, int cols) {
    const StTensor *t = st_find(L->st, name);
    if (t && kept_as_bf16(t)) return load_bf16(L, m, t, rows, cols);
    if (t && t->dtype == DT_U8) {   // a packed matrix, kept as it is
        if (load_packed(m, t, rows, cols, L->next, L->st->paths[t->file]) != 0) return -1;
        L->next += (t->nbytes + sizeof(float) - 1) / sizeof(float);
        L->used[t - L->st->tensors] = true;
        return 0;
    }
    const float *data = load_tensor(L, name, rows, cols);
    if (!data) return -1;
    *m = (Mat){.dtype = DT_F32, .rows = rows, .cols = cols, .data = data};
    return 0;
}

// ---- the eleven tensors of a block (model.h, LayerTensor) ----

const LayerTensor LAYER_TENSORS[LAYER_TENSOR_COUNT] = {
    {"input_layernorm.weight", offsetof(Layer, attn_norm), LD_DIM, LD_NONE},
    {"self_attn.q_proj.weight", offsetof(Layer, wq), LD_Q_DIM, LD_DIM},
    {"self_attn.k_proj.weight", offsetof(Layer, wk), LD_KV_DIM, LD_DIM},
    {"self_attn.v_proj.weight", offsetof(Layer, wv), LD_KV_DIM, LD_DIM},
    {"self_attn.q_norm.weight", offsetof(Layer, q_norm), LD_HEAD_DIM, LD_NONE},
    {"self_attn.k_norm.weight", offsetof(Layer, k_norm), LD_HEAD_DIM, LD_NONE},
    {"self_attn.o_proj.weight", offsetof(Layer, wo), LD_DIM, LD_Q_DIM},   // q's shape transposed
    {"post_attention_layernorm.weight", offsetof(Layer, mlp_norm), LD_DIM, LD_NONE},   // the MLP's norm
    {"mlp.gate_proj.weight", offsetof(Layer, w_gate), LD_FFN_DIM, LD_DIM},
    {"mlp.up_proj.weight", offsetof(Layer, w_up), LD_FFN_DIM, LD_DIM},
    {"mlp.down_proj.weight", offsetof(Layer, w_down), LD_DIM, LD_FFN_DIM},
};

int layer_dim(const Config *c, LayerDim d) {
    switch (d) {
    case LD_NONE: return 0;
    case LD_DIM: return c->dim;
    case LD_HEAD_DIM: return c->head_dim;
    case LD_Q_DIM: return c->n_heads * c->head_dim;
    case LD_KV_DIM: return c->n_kv_heads * c->head_dim;
    case LD_FFN_DIM: return c->ffn_dim;
    }
    return 0;
}

Mat *layer_mat(const Layer *l, const LayerTensor *t) { return (Mat *)((const char *)l + t->field); }
float **layer_vec(const Layer *l, const LayerTensor *t) { return (float **)((const char *)l + t->field); }

static int load_layer(Loader *L, Layer *l, int i, const Config *c) {
    char name[128];
    //> M1 load-layer
    //? Load the eleven tensors of block i into l: one pass over LAYER_TENSORS (model.h). Each entry's
    //? name goes after "model.layers.I." and its shape is layer_dim(c, rows) × layer_dim(c, cols).
    //? A vector (cols == LD_NONE) goes to *layer_vec(l, t) with load_tensor(L, name, length, 0), a
    //? matrix to layer_mat(l, t) with load_mat(L, mat, name, rows, cols). Return -1 as soon as one
    //? fails.
    for (int k = 0; k < LAYER_TENSOR_COUNT; k++) {
        const LayerTensor *t = &LAYER_TENSORS[k];
        snprintf(name, sizeof name, "model.layers.%d.%s", i, t->hf_name);
        int rows = layer_dim(c, t->rows), cols = layer_dim(c, t->cols);
        if (t->cols == LD_NONE) {
            if (!(*layer_vec(l, t) = load_tensor(L, name, rows, 0))) return -1;
        } else if (load_mat(L, layer_mat(l, t), name, rows, cols) != 0) {
            return -1;
        }
    }
    //<
    return 0;
}

// True when the checkpoint's lm_head.weight is a byte-identical copy of the embedding.
static bool head_copies_embedding(const SafeTensors *st) {
    const StTensor *head = st_find(st, "lm_head.weight"), *emb = st_find(st, "model.embed_tokens.weight");
    return head && emb && head->dtype == emb->dtype && head->nbytes == emb->nbytes &&
           memcmp(head->data, emb->data, head->nbytes) == 0;
}

// The output projection. Tied models reuse the embedding matrix; some tied checkpoints (the real
// Qwen3-0.6B among them) still store a copy under lm_head.weight.
static int load_lm_head(Loader *L, Model *m) {
    const Config *c = &m->cfg;
    const StTensor *head = st_find(L->st, "lm_head.weight");
    //> M1 tied-embeddings
    //? Use lm_head.weight when the checkpoint has it (load_mat, [vocab_size × dim]), except that a
    //? copy identical to the embedding (head_copies_embedding) is simply shared: point m->lm_head at
    //? m->embed and mark the tensor used (L->used[head - L->st->tensors] = true).
    //? Without lm_head.weight: tied models share the embedding (m->lm_head_is_embed = true);
    //? untied ones are missing a tensor.
    if (head_copies_embedding(L->st)) {
        L->used[head - L->st->tensors] = true;
        head = NULL;
    } else if (head) {
        if (c->tie_embeddings)
            fprintf(stderr, "%s: warning: tie_word_embeddings is true but lm_head.weight differs from the "
                            "embedding; using lm_head.weight\n", L->st->paths[head->file]);
        return load_mat(L, &m->lm_head, "lm_head.weight", c->vocab_size, c->dim);
    } else if (!c->tie_embeddings) {
        fprintf(stderr, "%s: missing tensor 'lm_head.weight' (tie_word_embeddings is false)\n", L->st->paths[0]);
        return -1;
    }
    m->lm_head = m->embed;
    m->lm_head_is_embed = true;
    //<
    return 0;
}

// Floats of storage tensor t takes once loaded: its elements in f32, or its bytes when the file
// stores it packed or it stays bf16 (a 4-bit model does not reserve the memory of an f32 one).
static size_t tensor_floats(const StTensor *t) {
    return t->dtype == DT_U8 || kept_as_bf16(t) ? (t->nbytes + sizeof(float) - 1) / sizeof(float) : t->numel;
}

// Floats needed for the checkpoint's tensors, a copy of the embedding under lm_head.weight left out
// (the loader shares it). Sized from the file, not the config: a tensor whose shape disagrees with
// the config is refused before it is copied, and a config claiming absurd sizes cannot make the
// loader reserve absurd memory.
static size_t floats_needed(const SafeTensors *st) {
    size_t n = 0;
    for (int i = 0; i < st->n_tensors; i++) n += tensor_floats(&st->tensors[i]);
    if (head_copies_embedding(st)) n -= tensor_floats(st_find(st, "lm_head.weight"));
    return n;
}

// A config that promises more layers than the checkpoint has tensors for is refused before any
// per-layer work (num_hidden_layers = 10^9 would otherwise mean 10^10 lookups before an error).
static int check_layer_count(const Config *c, const SafeTensors *st, const char *dir) {
    long long have = st->n_tensors, need = (long long)LAYER_TENSOR_COUNT * c->n_layers + 2;
    if (need <= have) return 0;
    fprintf(stderr, "%s: config.json's num_hidden_layers = %d needs at least %lld tensors, but the "
                    "checkpoint has %lld\n", dir, c->n_layers, need, have);
    return -1;
}

// A tensor nobody consumed means the checkpoint is not the architecture we implement (a bias, an
// extra norm): computing without it would be silently wrong.
static int check_all_used(const Loader *L) {
    for (int i = 0; i < L->st->n_tensors; i++) {
        const char *name = L->st->tensors[i].name;
        size_t len = strlen(name), tail = strlen("rotary_emb.inv_freq");   // a buffer old checkpoints saved
        if (L->used[i] || (len >= tail && strcmp(name + len - tail, "rotary_emb.inv_freq") == 0)) continue;
        fprintf(stderr, "%s: unexpected tensor '%s' (not part of a Qwen3 model)\n",
                L->st->paths[L->st->tensors[i].file], name);
        return -1;
    }
    return 0;
}

static int load_all(Model *m, Loader *L) {
    const Config *c = &m->cfg;
    if (load_mat(L, &m->embed, "model.embed_tokens.weight", c->vocab_size, c->dim)) return -1;
    for (int i = 0; i < c->n_layers; i++)
        if (load_layer(L, &m->layers[i], i, c)) return -1;
    if (!(m->final_norm = load_tensor(L, "model.norm.weight", c->dim, 0))) return -1;
    if (load_lm_head(L, m)) return -1;
    return check_all_used(L);
}

// The one block all weights of a loaded model live in, on 2 MiB pages (ps_alloc_big), with its size
// (ps_free_big needs it back).
typedef struct {
    void *mem;
    size_t bytes;
} WeightBlock;

static void weight_block_free(void *p) {
    WeightBlock *b = p;
    if (!b) return;
    ps_free_big(b->mem, b->bytes);
    free(b);
}

void *model_alloc_weights(Model *m, size_t bytes, const char *where) {
    m->layers = xcalloc((size_t)m->cfg.n_layers, sizeof *m->layers);
    void *mem = ps_alloc_big(bytes);
    if (!mem) {   // the one allocation whose size the input decides: a message, not an exit
        fprintf(stderr, "%s: out of memory (the weights need %zu MiB)\n", where, bytes >> 20);
        return NULL;
    }
    WeightBlock *b = xmalloc(sizeof *b);
    *b = (WeightBlock){mem, bytes};
    m->storage = b;
    m->free_storage = weight_block_free;
    return mem;
}

int model_load(Model *m, const char *dir, PsMapMode mode) {
    memset(m, 0, sizeof *m);
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (config_load(&m->cfg, path) != 0) return -1;
    SafeTensors st;
    if (st_open_dir(&st, dir, mode) != 0) return -1;
    if (check_layer_count(&m->cfg, &st, dir) != 0) {
        st_close(&st);
        return -1;
    }
    Loader L = {.st = &st};
    for (int i = 0; i < st.n_tensors; i++) L.total += st.tensors[i].nbytes;
    L.used = xcalloc((size_t)st.n_tensors + 1, sizeof *L.used);
    L.next = model_alloc_weights(m, floats_needed(&st) * sizeof(float), dir);
    int rc = L.next ? load_all(m, &L) : -1;
    free(L.used);
    st_close(&st);   // everything needed was copied out of the file
    if (rc != 0) model_free(m);
    return rc;
}

void model_free(Model *m) {
    if (m->free_storage) m->free_storage(m->storage);
    free(m->layers);
    memset(m, 0, sizeof *m);
}

ParamCount count_params(const SafeTensors *st, const Config *c) {
    ParamCount p = {0, 0};
    for (int i = 0; i < st->n_tensors; i++) {   // a packed matrix counts its weights, not its bytes
        const StTensor *t = &st->tensors[i];
        const MatFormat *f = packed_format(t);
        p.stored += f ? (long long)t->shape[0] * t->shape[1] * f->block_len : (long long)t->numel;
    }
    p.logical = p.stored;
    const StTensor *head = st_find(st, "lm_head.weight");
    if (head && c->tie_embeddings) p.logical -= (long long)head->numel;   // the same matrix, counted once
    return p;
}
