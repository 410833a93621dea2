// Your lab's contract, copied by tools/mkskel from solutions/m4-kv-cache/kv_attention.h (do not edit: make skeletons rewrites it).
// Attention over the cache that scales with the context: every thread busy at every length, the
// keys of a query split into blocks, and f16 caches (any registered format) read directly
// (book/m4-kv-cache.md#scaling).
//
// M2's attention() gives each query head to one thread and runs below 512 keys on one thread
// alone; a decode step has 16 heads, so at 4096 positions at most 16 threads, each streaming
// 2 x 4096 rows, while the rest wait. Here the work of one query token is split into
// (key/value head, block of keys) units: the query heads that share a key/value head (GQA) read
// each cached row once, together, and the blocks of one head run on different threads. Each block
// keeps its own softmax maximum and sum ("online softmax"); the blocks are merged at the end. The
// result is the same softmax-weighted sum, added in another order: it differs from M2's by
// rounding, and it does not depend on the thread count or on how the tokens arrive (a prefill or
// one at a time), because the blocks depend on the number of keys alone.
#ifndef PS_KV_ATTENTION_H
#define PS_KV_ATTENTION_H

#include <stdbool.h>

#include "kv_kernels.h"

// One layer of a cache as attention reads it: the row of key/value head g at position p (its
// head_dim values in the format `type`, h = kv_row_bytes(type, head_dim) bytes) starts
// p x pos_stride + g x head_stride bytes after k (and v). Two layouts (kv_view_by_position,
// kv_view_by_head): a position's heads one after the other, as M2's arrays (pos_stride =
// n_kv_heads x h, head_stride = h), or each head's positions one after the other (pos_stride = h,
// head_stride = ctx x h), so that a unit of work reads one unbroken run of bytes.
typedef struct {
    const void *k, *v;   // the layer's keys and values, in the format `type` (kv_kernels.h)
    KVType type;
    int n_heads, n_kv_heads, head_dim;
    size_t pos_stride, head_stride;   // in bytes
} KVLayerView;

KVLayerView kv_view_by_position(const void *k, const void *v, KVType type, int n_heads, int n_kv_heads, int head_dim);
// ctx: the positions each head's run has room for (the cache's context).
KVLayerView kv_view_by_head(const void *k, const void *v, KVType type, int n_heads, int n_kv_heads, int head_dim,
                            int ctx);

// For each of n query tokens t (q + t x n_heads x head_dim), attention over positions 0 .. pos0 + t
// of the cache into out + t x n_heads x head_dim. Query head h uses key/value head
// h / (n_heads / n_kv_heads). Runs on the shared thread pool (shared/thread_pool.h).
void kv_attention(float *out, const float *q, int n, int pos0, const KVLayerView *kv);

// Does the cache use kv_attention for an f32 cache? Yes while the SIMD policy's SIMD_ATTN family is
// "on" (the default; PS_SIMD=0 or "exact" turns it off); no after kv_attention_use(false): then
// your cached_attention runs, with M2's attention(). Any other cache (f16, ...) always uses
// kv_attention.
bool kv_attention_enabled(void);
void kv_attention_use(bool on);

#endif
