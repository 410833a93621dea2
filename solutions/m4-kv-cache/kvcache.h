// The KV cache: keep every position's keys and values so each new token costs one position's work.
//
// Without a cache (M3), producing token n+1 reruns the model over all n positions: the work per
// token grows with n and a whole generation costs O(n^2). But a position's key and value never
// change once computed (causal attention: position i only sees positions <= i), so we store them:
//
//     prefill  the prompt's P tokens go through the model together (matrix-matrix products);
//              their K and V rows are written to the cache
//     decode   one new token at a time: its q, k, v; k and v appended; attention over the cache
//
// Memory: 2 (K and V) x n_layers x n_kv_heads x head_dim x ctx x 4 bytes (f32). Qwen3-0.6B at
// ctx 4096: 2 x 28 x 8 x 128 x 4096 x 4 = 896 MiB; half that with an f16 cache (KV_F16).
#ifndef PS_KVCACHE_H
#define PS_KVCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "forward.h"
#include "generate.h"
#include "kv_attention.h"
#include "model.h"

// The context used when --ctx is not given: the model's max_position_embeddings, capped.
#define KV_DEFAULT_CTX_CAP 4096

typedef struct {
    LogitsSource base;  // first member: a KVCache is a LogitsSource for generate()
    const Model *model;
    int ctx;            // positions the cache holds
    int n;              // positions filled: ids[0..n) and their keys and values
    int32_t *ids;       // [ctx] the token at each filled position (to reuse a common prefix)
    void *k, *v;        // [n_layers] layers of ctx × kv_dim values in the format `type`; layer l
                        // starts l * ctx * row_bytes bytes in. An f32 cache: float k[], position p
                        // of layer l ((size_t)l*ctx + p) * kv_dim floats in, its heads one after
                        // the other. Any other: each kv head's ctx positions one after the other
                        // (kv_cache_offset says where a row lies)
    KVType type;        // what the values are (kv_kernels.h: KV_F32, KV_F16, or a registered format)
    size_t row_bytes;   // one position's kv_dim values of one layer in that format
    size_t pos_stride, head_stride;   // bytes from a head's row to the next position's, and to the
                                      // next head's at the same position
    size_t kv_bytes;    // of k, and of v (ps_alloc_big: 2 MiB pages where the system allows)
    Acts acts;          // the scratch of a pass: sized for one token and ctx scores at first, grown
                        // for a longer prefill (acts_reserve), so a decode step allocates nothing
} KVCache;

// Bytes of the cache for ctx positions (K and V, all layers, f32).
size_t kv_cache_bytes(const Config *c, int ctx);
// The same for a cache of this type (KV_F16: half); 0 for a type not registered (kv_kernels.h) or
// whose block does not divide head_dim.
size_t kv_cache_bytes_as(const Config *c, int ctx, KVType type);

// min(max_seq_len, KV_DEFAULT_CTX_CAP).
int kv_cache_default_ctx(const Config *c);

// Allocates the cache. Refuses (message, -1) a ctx < 1 or beyond the model's max_seq_len, and a
// cache larger than memory_limit bytes (0: half of this machine's physical memory).
int kv_cache_init(KVCache *kc, const Model *m, int ctx, size_t memory_limit);
// The same, for a cache whose keys and values are stored as `type` (kv_cache_init: KV_F32); also
// refuses a type that is not registered, or whose block does not divide the model's head_dim.
int kv_cache_init_as(KVCache *kc, const Model *m, int ctx, size_t memory_limit, KVType type);
void kv_cache_free(KVCache *kc);

// Does a cache of this type keep each kv head's positions together? Every format but f32. An f32
// cache keeps M2's layout, a position's heads together: your attention() reads it so, and
// project_qkv writes new positions straight into it. Any other format is stored row by row anyway,
// so each head's positions go together: a unit of attention (one head, a block of positions) then
// reads one unbroken run of bytes, where in M2's layout it read one short row a whole position
// apart, often across two cache lines (book #head-rows).
static inline bool kv_cache_by_head(KVType type) { return type != KV_F32; }

// Where the row of key/value head g at position p of layer l starts: bytes after kc->k (its key)
// and after kc->v (its value).
size_t kv_cache_offset(const KVCache *kc, int l, int p, int g);

// Runs ids[0..n) at positions kc->n .. kc->n + n - 1 (n > 1: prefill, n == 1: decode) and appends
// them to the cache. Writes the logits of every new position to logits [n × vocab] when
// all_positions, else only the last position's [vocab]. Returns 0, or -1 (message) when the
// tokens do not fit in the context, an id is out of range, or memory runs out.
int kv_cache_forward(KVCache *kc, const int32_t *ids, int n, float *logits, bool all_positions);

// ---- what every cache does the same way (this one, and a GPU engine's) ----
// Before a cached pass runs anything: n >= 1, room for n more positions after the `used` of ctx,
// and every id in the vocabulary (check_token_ids). 0, or -1 with a message starting with `who`.
int kv_check_tokens(const Config *c, int used, int ctx, const int32_t *ids, int n, const char *who);
// Prefix reuse, the first half of generate()'s entry point: the cache holds the tokens
// cached[0..*n_cached); given the whole sequence ids[0..n), it keeps their longest common prefix
// (*n_cached becomes its length p) and returns p: the caller runs ids[p..n) and reads the last
// position's logits. p < n always, so something runs. -1 (message, nothing changed) when n < 1
// or the sequence is longer than the context ctx.
int kv_reuse_prefix(const int32_t *cached, int *n_cached, int ctx, const int32_t *ids, int n, const char *who);

#endif
