// The cached forward pass. It is M2's forward() with two changes: new tokens start at position
// kc->n instead of 0, and the keys and values are written to (and attention reads them from) the
// cache instead of per-call arrays. Everything else is M2's own code (forward_tokens, the driver,
// with project_qkv, qk_norm_rope, attention_output and mlp_block), so with the cache every logit
// equals the uncached one.
#include "kvcache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

size_t kv_cache_bytes(const Config *c, int ctx) {
    //> M4 cache-size
    //? K and V (2), for every layer, every kv head, head_dim floats per position, ctx positions.
    return 2 * (size_t)c->n_layers * (size_t)c->n_kv_heads * (size_t)c->head_dim * (size_t)ctx *
           sizeof(float);
    //<
}

size_t kv_cache_bytes_as(const Config *c, int ctx, KVType type) {
    // kv_cache_bytes(c, ctx) for f32, as the task computes it; otherwise from the format's rows.
    return type == KV_F32 ? kv_cache_bytes(c, ctx)
                          : 2 * (size_t)c->n_layers * (size_t)c->n_kv_heads * kv_row_bytes(type, c->head_dim) * (size_t)ctx;
}

int kv_cache_default_ctx(const Config *c) {
    return c->max_seq_len < KV_DEFAULT_CTX_CAP ? c->max_seq_len : KV_DEFAULT_CTX_CAP;
}

static double gib(size_t bytes) { return (double)bytes / (1024.0 * 1024.0 * 1024.0); }

static int next_logits(LogitsSource *self, const int32_t *ids, int n, float *logits);

int kv_cache_init(KVCache *kc, const Model *m, int ctx, size_t memory_limit) {
    return kv_cache_init_as(kc, m, ctx, memory_limit, KV_F32);
}

int kv_cache_init_as(KVCache *kc, const Model *m, int ctx, size_t memory_limit, KVType type) {
    const Config *c = &m->cfg;
    memset(kc, 0, sizeof *kc);
    if (ctx < 1 || ctx > c->max_seq_len) {
        fprintf(stderr, "kv cache: context %d is outside 1..%d (the model's max_position_embeddings)\n",
                ctx, c->max_seq_len);
        return -1;
    }
    const KVFormat *f = kv_format(type);
    if (!f) {
        char names[128];
        kv_format_names(names, sizeof names);
        fprintf(stderr, "kv cache: no cache format has id %d (registered: %s)\n", type, names);
        return -1;
    }
    if (c->head_dim % f->block != 0) {
        fprintf(stderr, "kv cache: a %s cache stores blocks of %d values; the model's head_dim %d is not a multiple\n",
                f->name, f->block, c->head_dim);
        return -1;
    }
    size_t bytes = kv_cache_bytes_as(c, ctx, type), head_bytes = kv_row_bytes(type, c->head_dim);
    if (memory_limit == 0) {  // half of the physical memory: the weights need the rest
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        memory_limit = pages > 0 && page > 0 ? (size_t)pages * (size_t)page / 2 : (size_t)-1;
    }
    if (bytes > memory_limit) {
        fprintf(stderr,
                "kv cache: a context of %d needs 2 x %d layers x %d kv heads x %d x %zu bytes (head_dim %d in %s)"
                " = %.2f GiB, more than the %.2f GiB allowed; use a smaller --ctx\n",
                ctx, c->n_layers, c->n_kv_heads, ctx, head_bytes, c->head_dim, f->name, gib(bytes), gib(memory_limit));
        return -1;
    }
    // 2 MiB pages: attention reads a key and a value of every position per head, 4 KiB apart
    // (a row of the cache), so with 4 KiB pages nearly every one of them was a TLB miss.
    kc->kv_bytes = bytes / 2;
    kc->type = type;
    kc->row_bytes = (size_t)c->n_kv_heads * head_bytes;
    const bool by_head = kv_cache_by_head(type);
    kc->pos_stride = by_head ? head_bytes : kc->row_bytes;
    kc->head_stride = by_head ? (size_t)ctx * head_bytes : head_bytes;
    kc->k = ps_alloc_big(kc->kv_bytes), kc->v = ps_alloc_big(kc->kv_bytes);
    kc->ids = malloc((size_t)ctx * sizeof *kc->ids);
    // Any cache but an f32 one computes its new keys and values in f32 first (acts' k and v), then
    // stores them in its format.
    if (!kc->k || !kc->v || !kc->ids || acts_alloc(&kc->acts, c, 1, ctx, type != KV_F32) != 0) {
        fprintf(stderr, "kv cache: cannot allocate %.2f GiB for a context of %d; use a smaller --ctx\n",
                gib(bytes), ctx);
        kv_cache_free(kc);
        return -1;
    }
    kc->base = (LogitsSource){next_logits, c->vocab_size};
    kc->model = m;
    kc->ctx = ctx;
    return 0;
}

void kv_cache_free(KVCache *kc) {
    ps_free_big(kc->k, kc->kv_bytes);
    ps_free_big(kc->v, kc->kv_bytes);
    free(kc->ids);
    acts_free(&kc->acts);
    kc->k = kc->v = NULL;
    kc->kv_bytes = kc->row_bytes = kc->pos_stride = kc->head_stride = 0;
    kc->ids = NULL;
    kc->n = 0;
}

size_t kv_cache_offset(const KVCache *kc, int l, int p, int g) {
    return (size_t)l * kc->ctx * kc->row_bytes + (size_t)p * kc->pos_stride + (size_t)g * kc->head_stride;
}

// The engine's attention half (kv_attention.h): the same projections, then attention split over
// the threads by key blocks, reading the cache in its format. The next function's task, made to
// scale.
static void scaled_attention(const KVCache *kc, const Layer *L, const Config *c, int l, Acts *a, int n) {
    const int pos0 = kc->n, kv_dim = c->n_kv_heads * c->head_dim, hd = c->head_dim;
    const size_t layer = kv_cache_offset(kc, l, 0, 0);
    char *k = kc->k, *v = kc->v;
    if (kc->type == KV_F32) {   // written in place, as in the task below
        const size_t new_rows = kv_cache_offset(kc, l, pos0, 0);
        project_qkv(L, c, a, (float *)(k + new_rows), (float *)(v + new_rows), n);
        qk_norm_rope(L, c, a->q, (float *)(k + new_rows), n, pos0);
    } else {   // computed in f32, stored in the cache's format once (f16: rounded), as they enter it
        const KVFormat *f = kv_format(kc->type);
        project_qkv(L, c, a, a->k, a->v, n);
        qk_norm_rope(L, c, a->q, a->k, n, pos0);
        for (int t = 0; t < n; t++)   // each row into its head's run
            for (int g = 0; g < c->n_kv_heads; g++) {
                const size_t at = kv_cache_offset(kc, l, pos0 + t, g), from = (size_t)t * kv_dim + (size_t)g * hd;
                f->store(k + at, a->k + from, (size_t)hd);
                f->store(v + at, a->v + from, (size_t)hd);
            }
    }
    const KVLayerView view = {k + layer, v + layer, kc->type, c->n_heads, c->n_kv_heads, hd, kc->pos_stride,
                              kc->head_stride};
    kv_attention(a->att, a->q, n, pos0, &view);
}

// Attention half of block l for n new tokens at positions pos0 .. pos0+n-1, pos0 = kc->n: the
// AttentionHalf that forward_tokens calls. The rest of the block is M2's; only the keys and values
// differ: they live in the cache, and attention reads them all.
static void cached_attention(const void *self, const Model *m, int l, Acts *a, int n) {
    const KVCache *kc = self;
    const Config *c = &m->cfg;
    const Layer *L = &m->layers[l];
    // The engine runs the scaling version by default; your code below runs when it is switched off
    // (this lab's tests, and make mine while M4 is yours: kv_attention_use(false), PS_SIMD=0).
    if (kc->type != KV_F32 || kv_attention_enabled()) {
        scaled_attention(kc, L, c, l, a, n);
        attention_output(L, c, a, n);
        return;
    }
    const int pos0 = kc->n;
    int q_dim = c->n_heads * c->head_dim, kv_dim = c->n_kv_heads * c->head_dim;
    float *K = (float *)kc->k + (size_t)l * kc->ctx * kv_dim, *V = (float *)kc->v + (size_t)l * kc->ctx * kv_dim;
    //> M4 cache-attention
    //? M2's project_qkv(), qk_norm_rope() and attention(), with the cache. The new tokens' keys and
    //? values belong in this layer's rows of positions pos0..pos0+n-1 (K + pos0*kv_dim and V +
    //? pos0*kv_dim: contiguous, so project_qkv writes them there directly; a->k and a->v are NULL).
    //? QK-norm and rope a->q and those keys at their absolute positions, from pos0. Then each new
    //? token t attends over the cache, the keys of positions 0..pos0+t (pos0 + t + 1 of them).
    float *k_new = K + (size_t)pos0 * kv_dim, *v_new = V + (size_t)pos0 * kv_dim;
    project_qkv(L, c, a, k_new, v_new, n);
    qk_norm_rope(L, c, a->q, k_new, n, pos0);
    for (int t = 0; t < n; t++)
        attention(a->att + (size_t)t * q_dim, a->q + (size_t)t * q_dim, K, V, pos0 + t + 1, kv_dim,
                  c->n_heads, c->n_kv_heads, c->head_dim, a->scores);
    //<
    attention_output(L, c, a, n);
}

int kv_check_tokens(const Config *c, int used, int ctx, const int32_t *ids, int n, const char *who) {
    if (n < 1) return fprintf(stderr, "%s: no tokens\n", who), -1;
    if (n > ctx - used) {
        fprintf(stderr, "%s: %d more tokens do not fit: %d of the context's %d positions are used "
                        "(a longer --ctx gives more room)\n", who, n, used, ctx);
        return -1;
    }
    return check_token_ids(c, ids, n, who);
}

int kv_cache_forward(KVCache *kc, const int32_t *ids, int n, float *logits, bool all_positions) {
    const Config *c = &kc->model->cfg;
    if (kv_check_tokens(c, kc->n, kc->ctx, ids, n, "kv cache") != 0) return -1;
    if (acts_reserve(&kc->acts, c, n, kc->ctx, kc->type != KV_F32) != 0)
        return fprintf(stderr, "kv cache: out of memory for %d tokens\n", n), -1;
    // Only the positions whose logits are wanted go through the final norm and the lm_head:
    // in a prefill that skips (n - 1) x vocab x dim multiply-adds.
    forward_tokens(kc->model, ids, n, &kc->acts, cached_attention, kc, all_positions ? 0 : n - 1, logits, NULL);
    memcpy(kc->ids + kc->n, ids, (size_t)n * sizeof *ids);
    kc->n += n;
    return 0;
}

int kv_reuse_prefix(const int32_t *cached, int *n_cached, int ctx, const int32_t *ids, int n, const char *who) {
    if (n < 1) return fprintf(stderr, "%s: no tokens\n", who), -1;
    if (n > ctx) {
        fprintf(stderr, "%s: the sequence has %d tokens, the context only %d (use --ctx)\n", who, n, ctx);
        return -1;
    }
    //> M4 prefix-reuse
    //? Count the positions p where the cache already holds ids[p] (from 0, while cached[p] ==
    //? ids[p] and p < *n_cached). Forget the rest of the cache (*n_cached = p: later positions are
    //? simply overwritten). Something must run to produce logits: if p == n, recompute the last
    //? token (p = n - 1). Return p.
    int p = 0;
    while (p < *n_cached && p < n && cached[p] == ids[p]) p++;
    if (p == n) p = n - 1;
    *n_cached = p;
    return p;
    //<
}

// generate()'s entry point. The cache already holds some positions; the longest common prefix of
// those and the new sequence is kept, and only the rest goes through the model. In a plain
// generation that is the one token sampled last; in a chat it is the new turn (earlier turns
// stay cached, unless the template rewrote them).
static int next_logits(LogitsSource *self, const int32_t *ids, int n, float *logits) {
    KVCache *kc = (KVCache *)self;
    int p = kv_reuse_prefix(kc->ids, &kc->n, kc->ctx, ids, n, "kv cache");
    return p < 0 ? -1 : kv_cache_forward(kc, ids + p, n - p, logits, false);
}
