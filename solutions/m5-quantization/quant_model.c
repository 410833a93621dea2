// Quantized models in memory: the policy applied to a loaded model, and the registration that lets
// model_load read quantized matrices back and matmul compute with them, and the walk over a model's
// tensors the GGUF and mlx_lm readers share. The format is described in quant_model.h; the
// directory writer (`protostar quantize`) is quant_model_write.c.
#include "quant_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "kv_q4.h"
#include "kv_q8.h"
#include "weights.h"
#include "xalloc.h"

static const struct { const char *name; DType type; } TYPES[] = {
    {"q8_0", DT_Q8_0}, {"q4_0", DT_Q4_0}, {"q4_affine", DT_Q4A}, {"q4a", DT_Q4A}};

int quant_type_parse(const char *name, DType *out) {
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (strcmp(name, TYPES[i].name) == 0) return *out = TYPES[i].type, 0;
    return -1;
}

const char *quant_type_name(DType t) {
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (TYPES[i].type == t) return TYPES[i].name;
    return "?";
}

bool quant_policy_applies(DType t, int cols) {
    int len = quant_block_len(t);
    return len > 0 && cols > 0 && cols % len == 0;
}

// ---- in memory ----
// The f32 storage model_load made (norms still live there) and the quantized matrices, freed
// together by model_free through Model.free_storage. The blocks are on 2 MiB pages like the f32
// weights (ps_alloc_big): a decode step reads all of them.
typedef struct {
    void *f32_storage;
    void (*f32_free)(void *);
    uint8_t *blocks;
    size_t block_bytes;
} QuantStorage;

static void free_quant_storage(void *p) {
    QuantStorage *s = p;
    if (s->f32_free) s->f32_free(s->f32_storage);
    ps_free_big(s->blocks, s->block_bytes);
    free(s);
}

// Every matrix of the model, in a fixed order; the embedding first.
static int model_mats(Model *m, Mat **out) {
    int n = 0;
    out[n++] = &m->embed;
    if (!m->lm_head_is_embed) out[n++] = &m->lm_head;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int k = 0; k < LAYER_TENSOR_COUNT; k++)   // M1's table: the seven matrices of a layer
            if (LAYER_TENSORS[k].cols != LD_NONE) out[n++] = layer_mat(&m->layers[l], &LAYER_TENSORS[k]);
    return n;
}

// True when the policy quantizes w: an f32 matrix, or a bf16 one kept as it is (M1's
// model_keep_bf16), whose rows split into whole blocks; the embedding only without keep_embedding.
static bool quantized_here(const Model *m, const Mat *w, DType type, bool keep_embedding) {
    bool is_embedding = w == &m->embed || w == &m->lm_head;
    return (w->dtype == DT_F32 || w->dtype == DT_BF16) && !(keep_embedding && is_embedding) &&
           quant_policy_applies(type, w->cols);
}

// Quantizes w's rows into out. A bf16 row is widened to f32 first by M1's convert_to_f32, the very
// conversion model_load makes without model_keep_bf16: the blocks are the same bytes either way.
static void quantize_mat(const Mat *w, DType type, uint8_t *out, float *row) {
    size_t row_bytes = quant_row_bytes(type, w->cols);
    for (int r = 0; r < w->rows; r++) {
        const float *src = (const float *)w->data + (size_t)r * w->cols;
        if (w->dtype == DT_BF16) {
            convert_to_f32(row, (const uint16_t *)w->data + (size_t)r * w->cols, DT_BF16, (size_t)w->cols);
            src = row;
        }
        quantize_row(type, src, out + (size_t)r * row_bytes, w->cols);
    }
}

int quantize_model(Model *m, DType type, bool keep_embedding) {
    if (quant_register() != 0) return -1;   // matmul must know the matrices made here
    Mat **mats = xmalloc(((size_t)LAYER_TENSOR_COUNT * (size_t)m->cfg.n_layers + 2) * sizeof *mats);
    QuantStorage *s = xcalloc(1, sizeof *s);
    int n = model_mats(m, mats), max_cols = 1;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        if (!quantized_here(m, mats[i], type, keep_embedding)) continue;
        total += quant_row_bytes(type, mats[i]->cols) * (size_t)mats[i]->rows;
        if (mats[i]->cols > max_cols) max_cols = mats[i]->cols;
    }
    float *row = xmalloc((size_t)max_cols * sizeof *row);   // a bf16 row widened
    s->block_bytes = total;
    s->blocks = ps_alloc_big(total);
    if (!s->blocks) {
        fprintf(stderr, "quantize_model: out of memory (%.1f MiB for the quantized matrices)\n",
                total / 1048576.0);
        free(row);
        free(mats);
        free(s);
        return -1;
    }
    uint8_t *next = s->blocks;
    for (int i = 0; i < n; i++) {
        Mat *w = mats[i];
        if (!quantized_here(m, w, type, keep_embedding)) continue;
        quantize_mat(w, type, next, row);
        *w = (Mat){.dtype = type, .rows = w->rows, .cols = w->cols, .data = next};
        next += quant_row_bytes(type, w->cols) * (size_t)w->rows;
    }
    if (m->lm_head_is_embed) m->lm_head = m->embed;
    // The f32 (or bf16) copies of the quantized matrices are dead now, but they share one
    // allocation with the norms; the memory is given back when the model is freed.
    s->f32_storage = m->storage;
    s->f32_free = m->free_storage;
    m->storage = s;
    m->free_storage = free_quant_storage;
    free(row);
    free(mats);
    return 0;
}

// ---- registering the formats with M1's loader and M2's matmul ----
static const MatFormat FORMATS[] = {
    {DT_Q8_0, "Q8_0", QK8_0, (int)sizeof(BlockQ8_0)},
    {DT_Q4_0, "Q4_0", QK4_0, (int)sizeof(BlockQ4_0)},
    {DT_Q4A, "Q4A", QK4A, (int)sizeof(BlockQ4A)},
};

static void get_row_quant(float *out, const Mat *w, int row) {
    size_t row_bytes = quant_row_bytes(w->dtype, w->cols);
    dequantize_row(w->dtype, (const uint8_t *)w->data + (size_t)row * row_bytes, out, w->cols);
}

// No whole-product function (NULL): M2's matmul() deals a quantized product's rows to its threads
// through ROW_KERNELS below, as it does f32's (the bits of quant_matmul()).
static const MatKernels KERNELS[] = {
    {DT_Q8_0, NULL, get_row_quant},
    {DT_Q4_0, NULL, get_row_quant},
    {DT_Q4A, NULL, get_row_quant},
};

// matmul_many (q, k and v; gate and up): the activations quantized once for all of them.
static void rows_quant(float *out, const void *prep, const float *x, const Mat *w, int n_tokens, int r0, int r1) {
    (void)x;   // read from prep, quantized
    quant_rows(out, prep, w->data, w->dtype, w->rows, w->cols, n_tokens, r0, r1);
}

static const MatRowKernels ROW_KERNELS[] = {
    {DT_Q8_0, quant_prep_bytes, quant_prepare, rows_quant},
    {DT_Q4_0, quant_prep_bytes, quant_prepare, rows_quant},
    {DT_Q4A, quant_prep_bytes, quant_prepare, rows_quant},
};

int quant_register(void) {
    for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++)
        if (mat_format_register(&FORMATS[i]) != 0 || matmul_register(&KERNELS[i]) != 0 ||
            matmul_rows_register(&ROW_KERNELS[i]) != 0)
            return -1;
    return kv_q8_register() == 0 ? kv_q4_register() : -1;   // and Q8_0, Q4_0 as KV cache formats (kv_q8.h, kv_q4.h)
}

// ---- another format's checkpoint (quant_model.h, TensorSource) ----

static int read_layer(const TensorSource *s, Layer *l, int i, const Config *c) {
    char name[128];
    for (int k = 0; k < LAYER_TENSOR_COUNT; k++) {
        const LayerTensor *t = &LAYER_TENSORS[k];
        snprintf(name, sizeof name, "%s%d.%s", s->layer_prefix, i, s->layer_name(t));
        int rows = layer_dim(c, t->rows), cols = layer_dim(c, t->cols);
        if (t->cols == LD_NONE) {
            if (!(*layer_vec(l, t) = s->vector(s->reader, name, rows))) return -1;
        } else if (s->matrix(s->reader, layer_mat(l, t), name, rows, cols) != 0) {
            return -1;
        }
    }
    return 0;
}

int model_read_tensors(Model *m, const TensorSource *s) {
    const Config *c = &m->cfg;
    if (s->matrix(s->reader, &m->embed, s->embed, c->vocab_size, c->dim)) return -1;
    for (int i = 0; i < c->n_layers; i++)
        if (read_layer(s, &m->layers[i], i, c)) return -1;
    if (!(m->final_norm = s->vector(s->reader, s->final_norm, c->dim))) return -1;
    if (s->has(s->reader, s->lm_head)) {
        if (s->matrix(s->reader, &m->lm_head, s->lm_head, c->vocab_size, c->dim)) return -1;
    } else if (c->tie_embeddings) {
        m->lm_head = m->embed;
        m->lm_head_is_embed = true;
    } else {
        fprintf(stderr, "%s: missing tensor '%s' (tie_word_embeddings is false)\n", s->where, s->lm_head);
        return -1;
    }
    const char *extra = s->unused(s->reader);
    if (extra) {
        fprintf(stderr, "%s: unexpected tensor '%s' (not part of a Qwen3 model)\n", s->where, extra);
        return -1;
    }
    return 0;
}
