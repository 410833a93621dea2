// The GPU engine: weights placed once, the KV cache in GPU buffers, and a forward step that puts
// every dispatch of one token into one command buffer (book/m7-gpu-engine.md).
#include "gpu_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvcache.h"
#include "quant.h"

int gpu_engine_max_ctx(const Config *c) {
    return c->max_seq_len < GPU_ATTENTION_MAX_KEYS ? c->max_seq_len : GPU_ATTENTION_MAX_KEYS;
}

// ---- placing the weights ----

// One tensor to place: its bytes in host memory, and the GpuRef that will point at them.
typedef struct {
    const char *data;
    size_t bytes;
    GpuRef *ref;
} Placement;

static size_t mat_bytes(const Mat *w) {
    return w->dtype == DT_F32 ? (size_t)w->rows * w->cols * sizeof(float)
                              : quant_row_bytes(w->dtype, w->cols) * (size_t)w->rows;
}

static int by_address(const void *a, const void *b) {
    const char *x = ((const Placement *)a)->data, *y = ((const Placement *)b)->data;
    return x < y ? -1 : x > y;
}

// Every tensor of the model, sorted by address. A tied lm_head is not listed: it gets embed's ref.
static Placement *list_tensors(GpuEngine *e, int *count) {
    const Model *m = e->model;
    const Config *c = &m->cfg;
    Placement *p = malloc((size_t)(3 + 11 * c->n_layers) * sizeof *p);
    if (!p) return NULL;
    int n = 0;
#define VEC(ptr, len, dst) (p[n++] = (Placement){(const char *)(ptr), (size_t)(len) * sizeof(float), (dst)})
#define MAT(w, dst) (p[n++] = (Placement){(const char *)(w).data, mat_bytes(&(w)), (dst)})
    MAT(m->embed, &e->embed);
    if (!m->lm_head_is_embed) MAT(m->lm_head, &e->lm_head);
    VEC(m->final_norm, c->dim, &e->final_norm);
    for (int l = 0; l < c->n_layers; l++) {
        const Layer *L = &m->layers[l];
        GpuLayer *G = &e->layers[l];
        VEC(L->attn_norm, c->dim, &G->attn_norm);
        VEC(L->q_norm, c->head_dim, &G->q_norm);
        VEC(L->k_norm, c->head_dim, &G->k_norm);
        VEC(L->mlp_norm, c->dim, &G->mlp_norm);
        MAT(L->wq, &G->wq);
        MAT(L->wk, &G->wk);
        MAT(L->wv, &G->wv);
        MAT(L->wo, &G->wo);
        MAT(L->w_gate, &G->w_gate);
        MAT(L->w_up, &G->w_up);
        MAT(L->w_down, &G->w_down);
    }
#undef VEC
#undef MAT
    qsort(p, (size_t)n, sizeof *p, by_address);
    *count = n;
    return p;
}

// Places tensors p[0..n), which lie close together in host memory (no gap of a whole page), in
// one GPU buffer, and points their refs into it.
static int place_span(GpuEngine *e, const Placement *p, int n) {
    const char *start = p[0].data, *end = p[n - 1].data + p[n - 1].bytes;
    size_t page = (size_t)getpagesize(), span = (size_t)(end - start);
    MtlBuffer *buf;
    //> M7 upload-weights
    //? Unified memory: the GPU can read the weights where they already are. gpu_wrap needs a
    //? page-aligned start and a length in whole pages; when `start` is page-aligned, wrap
    //? [start, start + span rounded up to a page) — every page of it holds some tensor byte, so it
    //? is all mapped memory (add span to e->weight_bytes_wrapped). Otherwise gpu_alloc a buffer
    //? of span bytes and memcpy each tensor to its own offset (data - start) — never the gaps
    //? between tensors, which may not be ours (add span to weight_bytes_copied). Either way
    //? tensor i's ref is GPU_REF(buf, p[i].data - start). NULL buffer: message, return -1.
    if ((uintptr_t)start % page == 0) {
        buf = gpu_wrap(e->gpu, (void *)start, (span + page - 1) / page * page);
        e->weight_bytes_wrapped += span;
    } else {
        buf = gpu_alloc(e->gpu, span);
        for (int i = 0; buf && i < n; i++) memcpy((char *)mtl_buffer_ptr(buf) + (p[i].data - start), p[i].data, p[i].bytes);
        e->weight_bytes_copied += span;
    }
    if (!buf) {
        fprintf(stderr, "gpu engine: cannot place %zu bytes of weights: %s\n", span, gpu_error(e->gpu));
        return -1;
    }
    for (int i = 0; i < n; i++) *p[i].ref = GPU_REF(buf, p[i].data - start);
    //<
    return 0;
}

// The weights go to the GPU in spans of neighbouring tensors: one buffer per allocation the
// model's loader made, in practice (a few, not 300 small ones).
//[ spans
static int place_weights(GpuEngine *e) {
    int n;
    Placement *p = list_tensors(e, &n);
    if (!p) return fprintf(stderr, "gpu engine: out of memory\n"), -1;
    size_t page = (size_t)getpagesize();
    int first = 0, rc = 0;
    for (int i = 1; i <= n && rc == 0; i++) {
        const char *prev_end = p[i - 1].data + p[i - 1].bytes;
        if (i < n && p[i].data >= prev_end && (size_t)(p[i].data - prev_end) < page) continue;
        rc = place_span(e, p + first, i - first);
        first = i;
    }
    free(p);
    if (e->model->lm_head_is_embed) e->lm_head = e->embed;
    return rc;
}
//]

// ---- the engine ----

static int next_logits(LogitsSource *self, const int32_t *ids, int n, float *logits);

// The first matrix whose format has no GPU kernel, or NULL.
static const Mat *unsupported_mat(const Model *m) {
    if (!gpu_supports(m->embed.dtype)) return &m->embed;
    if (!gpu_supports(m->lm_head.dtype)) return &m->lm_head;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const Layer *L = &m->layers[l];
        const Mat *mats[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (int k = 0; k < 7; k++)
            if (!gpu_supports(mats[k]->dtype)) return mats[k];
    }
    return NULL;
}

// Lays the token's activations out in one scratch buffer, each 16-byte aligned.
static int alloc_scratch(GpuEngine *e) {
    const Config *c = &e->model->cfg;
    size_t sizes[8] = {c->dim, c->dim, (size_t)c->n_heads * c->head_dim, (size_t)c->n_heads * c->head_dim,
                       c->dim, c->ffn_dim, c->ffn_dim, c->vocab_size};
    size_t offsets[8], total = 0;
    for (int i = 0; i < 8; i++) offsets[i] = total, total += (sizes[i] * sizeof(float) + 15) / 16 * 16;
    MtlBuffer *b = gpu_alloc(e->gpu, total);
    if (!b) return fprintf(stderr, "gpu engine: cannot allocate %zu bytes of scratch\n", total), -1;
    GpuRef *refs[8] = {&e->s.x, &e->s.xn, &e->s.q, &e->s.att, &e->s.delta, &e->s.gate, &e->s.up, &e->s.logits};
    for (int i = 0; i < 8; i++) *refs[i] = GPU_REF(b, offsets[i]);
    e->scratch_bytes = total;
    return 0;
}

int gpu_engine_init(GpuEngine *e, const Model *m, int ctx) {
    const Config *c = &m->cfg;
    memset(e, 0, sizeof *e);
    if (ctx < 1 || ctx > gpu_engine_max_ctx(c)) {
        fprintf(stderr, "gpu engine: context %d is outside 1..%d (the model's max_position_embeddings %d and "
                        "the attention kernel's %d positions)\n", ctx, gpu_engine_max_ctx(c), c->max_seq_len,
                GPU_ATTENTION_MAX_KEYS);
        return -1;
    }
    const Mat *bad = unsupported_mat(m);
    if (bad) {
        fprintf(stderr, "gpu engine: %s matrices have no GPU kernel (f32, q8_0, q4_0 and q4_affine do); run "
                        "this model on the CPU engine (without --gpu)\n", mat_type_name(bad->dtype));
        return -1;
    }
    e->model = m;
    e->ctx = ctx;
    e->base = (LogitsSource){next_logits, c->vocab_size};
    e->cache_bytes = kv_cache_bytes(c, ctx);   // M4's layout, in GPU buffers
    e->ids = malloc((size_t)ctx * sizeof *e->ids);
    e->layers = calloc((size_t)c->n_layers, sizeof *e->layers);
    if (!e->ids || !e->layers) {
        fprintf(stderr, "gpu engine: out of memory\n");
        gpu_engine_free(e);
        return -1;
    }
    if (!(e->gpu = gpu_new()) || place_weights(e) != 0 || alloc_scratch(e) != 0) {
        gpu_engine_free(e);
        return -1;
    }
    e->k_cache = gpu_alloc(e->gpu, e->cache_bytes / 2);
    e->v_cache = gpu_alloc(e->gpu, e->cache_bytes / 2);
    if (!e->k_cache || !e->v_cache) {
        fprintf(stderr, "gpu engine: cannot allocate %.2f GiB of KV cache for a context of %d; use a smaller --ctx\n",
                (double)e->cache_bytes / (1 << 30), ctx);
        gpu_engine_free(e);
        return -1;
    }
    return 0;
}

void gpu_engine_free(GpuEngine *e) {
    gpu_free(e->gpu);   // every buffer with it (wrapped memory stays the Model's)
    free(e->layers);
    free(e->ids);
    memset(e, 0, sizeof *e);
}

// ---- one token, one command buffer ----

#define F32_AT(buf, floats) GPU_REF((buf), (size_t)(floats) * sizeof(float))
static GpuRef ref_plus(GpuRef r, size_t floats) { return GPU_REF(r.buf, r.offset + floats * sizeof(float)); }
static void matvec(GpuBatch *b, GpuRef y, GpuRef w, const Mat *shape, GpuRef x) {
    gpu_matvec(b, y, w, shape->dtype, shape->rows, shape->cols, x);
}

// The attention half of layer l for the token at position pos: x += o_proj(attention(...)).
static void encode_attention(GpuEngine *e, GpuBatch *b, int l, int pos) {
    const Config *c = &e->model->cfg;
    const Layer *L = &e->model->layers[l];
    const GpuLayer *G = &e->layers[l];
    const GpuScratch *s = &e->s;
    size_t kv_dim = (size_t)c->n_kv_heads * c->head_dim;
    gpu_rmsnorm(b, s->xn, s->x, G->attn_norm, 1, c->dim, c->norm_eps);
    matvec(b, s->q, G->wq, &L->wq, s->xn);
    // This layer's keys and values: [ctx × kv_dim] each, as in M4's KVCache.
    GpuRef k_layer = F32_AT(e->k_cache, (size_t)l * e->ctx * kv_dim);
    GpuRef v_layer = F32_AT(e->v_cache, (size_t)l * e->ctx * kv_dim);
    GpuRef k_new;
    //> M7 kv-write
    //? The token's key and value go straight into the cache: their rows are the places at pos
    //? (pos * kv_dim floats into k_layer and v_layer; ref_plus moves a ref). Point the k and v
    //? matvecs (matvec() above, with L->wk / L->wv for the shapes) at those rows: no copy
    //? kernel. Keep the key row in k_new: QK-norm and RoPE work on it in place.
    k_new = ref_plus(k_layer, (size_t)pos * kv_dim);
    matvec(b, k_new, G->wk, &L->wk, s->xn);
    matvec(b, ref_plus(v_layer, (size_t)pos * kv_dim), G->wv, &L->wv, s->xn);
    //<
    //> M7 encode-attention
    //? M4's block, as dispatches: QK-norm (gpu_rmsnorm with rows = heads, n = head_dim, in place
    //? on s->q and k_new), gpu_rope on both at pos, gpu_attention of s->q over the pos + 1 cached
    //? positions of this layer (rows kv_dim floats apart) into s->att, o_proj into s->delta, and
    //? the residual: s->x = s->x + s->delta. Nothing runs yet: each call only encodes.
    gpu_rmsnorm(b, s->q, s->q, G->q_norm, c->n_heads, c->head_dim, c->norm_eps);
    gpu_rmsnorm(b, k_new, k_new, G->k_norm, c->n_kv_heads, c->head_dim, c->norm_eps);
    gpu_rope(b, s->q, c->n_heads, c->head_dim, pos, c->rope_theta);
    gpu_rope(b, k_new, c->n_kv_heads, c->head_dim, pos, c->rope_theta);
    gpu_attention(b, s->att, s->q, k_layer, v_layer, pos + 1, (int)kv_dim, c->n_heads, c->n_kv_heads, c->head_dim);
    matvec(b, s->delta, G->wo, &L->wo, s->att);
    gpu_add(b, s->x, s->x, s->delta, c->dim);
    //<
}

// The MLP half of layer l: x += down(swiglu(gate(xn), up(xn))), xn = rmsnorm(x).
static void encode_mlp(GpuEngine *e, GpuBatch *b, int l) {
    const Config *c = &e->model->cfg;
    const Layer *L = &e->model->layers[l];
    const GpuLayer *G = &e->layers[l];
    const GpuScratch *s = &e->s;
    //> M7 encode-mlp
    //? Six dispatches: gpu_rmsnorm with mlp_norm into s->xn, the gate and up matvecs, gpu_swiglu
    //? (its output may overwrite s->gate), the down matvec into s->delta, gpu_add into s->x.
    gpu_rmsnorm(b, s->xn, s->x, G->mlp_norm, 1, c->dim, c->norm_eps);
    matvec(b, s->gate, G->w_gate, &L->w_gate, s->xn);
    matvec(b, s->up, G->w_up, &L->w_up, s->xn);
    gpu_swiglu(b, s->gate, s->gate, s->up, c->ffn_dim);
    matvec(b, s->delta, G->w_down, &L->w_down, s->gate);
    gpu_add(b, s->x, s->x, s->delta, c->dim);
    //<
}

// One token at position e->n: every dispatch of the whole model in one batch, then one wait.
// logits == NULL skips the final norm and the lm_head (a prefill token whose logits nobody reads).
static int step(GpuEngine *e, int32_t token, float *logits) {
    const Model *m = e->model;
    const Config *c = &m->cfg;
    //[ step-encode
    GpuBatch *b = gpu_begin(e->gpu);   // one command buffer for the whole token
    if (!b) return fprintf(stderr, "gpu engine: out of memory\n"), -1;
    gpu_embed(b, e->s.x, e->embed, m->embed.dtype, c->dim, token);
    for (int l = 0; l < c->n_layers; l++) {   // 17 dispatches per layer, nothing runs yet
        encode_attention(e, b, l, e->n);
        encode_mlp(e, b, l);
    }
    //]
    double seconds = 0;
    //> M7 logits-readback
    //? When logits are wanted: the final gpu_rmsnorm (final_norm, s->x into s->xn) and the lm_head
    //? matvec (m->lm_head's shape) into s->logits, still in this batch. Then gpu_run it — the only
    //? wait of the token (on failure print gpu_error and return -1) — and copy vocab floats
    //? from s->logits (mtl_buffer_ptr + its offset: shared memory, no transfer) to logits.
    if (logits) {
        gpu_rmsnorm(b, e->s.xn, e->s.x, e->final_norm, 1, c->dim, c->norm_eps);
        matvec(b, e->s.logits, e->lm_head, &m->lm_head, e->s.xn);
    }
    if (gpu_run(b, &seconds) != 0) {
        fprintf(stderr, "gpu engine: %s\n", gpu_error(e->gpu));
        return -1;
    }
    if (logits)
        memcpy(logits, (const char *)mtl_buffer_ptr(e->s.logits.buf) + e->s.logits.offset,
               (size_t)c->vocab_size * sizeof *logits);
    //<
    e->ids[e->n++] = token;
    e->gpu_seconds += seconds;
    e->steps++;
    return 0;
}

int gpu_engine_forward(GpuEngine *e, const int32_t *ids, int n, float *logits, bool all_positions) {
    const Config *c = &e->model->cfg;
    if (kv_check_tokens(c, e->n, e->ctx, ids, n, "gpu engine") != 0) return -1;   // M4's checks
    //[ prefill
    // The prompt goes through one token at a time: every token is a decode step whose logits are
    // dropped, except the last (book/m7-gpu-engine.md#prefill says what a batched prefill needs).
    for (int t = 0; t < n; t++) {
        float *out = all_positions ? logits + (size_t)t * c->vocab_size : t == n - 1 ? logits : NULL;
        if (step(e, ids[t], out) != 0) return -1;
    }
    //]
    return 0;
}

// generate()'s entry point: M4's prefix reuse, then the new tokens.
static int next_logits(LogitsSource *self, const int32_t *ids, int n, float *logits) {
    GpuEngine *e = (GpuEngine *)self;
    int p = kv_reuse_prefix(e->ids, &e->n, e->ctx, ids, n, "gpu engine");
    return p < 0 ? -1 : gpu_engine_forward(e, ids + p, n - p, logits, false);
}
