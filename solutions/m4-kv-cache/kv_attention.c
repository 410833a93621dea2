// Attention over the cache, split into (token, key/value head, block of keys) units over the
// thread pool (kv_attention.h says why). Shapes below: G = query heads per key/value head,
// hd = head_dim, S = the blocks ("splits") of one query's keys.
#include "kv_attention.h"

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "scratch.h"
#include "simd.h"
#include "thread_pool.h"

// A block is at most this many keys (while the blocks are at most MAX_SPLITS): at 4096 positions
// 16 blocks per key/value head, 128 units per token of Qwen3-0.6B, enough for 16 threads. Blocks
// of 128 keys (twice the units, a shorter wait for the last one, twice the partials to merge)
// measured slower: 16 threads, 4,096 keys in a 4-bit cache, eight rounds in turn on the Xeon VM,
// median 2.55 -> 2.74 ms.
#define KEYS_PER_SPLIT 256
#define MAX_SPLITS 64
// Scores are computed for this many keys at a time, then their softmax weights, then their
// values are added; the running maximum and sum are updated once per tile. A whole block: the
// tile's maximum and sum are each reduced across vector lanes, a chain of dependent steps, and
// with tiles of 32 keys those chains were a fifth of a unit's time (Xeon VM, 16 threads each on
// its own block in L1: 35.8-40.8 -> 25.6-31.7 ns per key in a 4-bit cache, 32.6-39.1 -> 25.3-31.3
// in f16). The scores stay small (2 KiB per query head).
#define KEY_TILE KEYS_PER_SPLIT
// At most this many partial results (one per query head and block) wait for the merge at once:
// a long prefill goes through in chunks of tokens, so the scratch stays ~2 MiB.
#define MAX_PARTIALS 4096

// Rows asked for ahead (prefetch_rows) between dot products of this many keys: some at a time,
// so that the requests in flight do not crowd out the loads of the rows being computed (16, 64
// and 256 measured alike; fewer calls of dot_rows, each preparing its query, than with 16).
#define PREFETCH_CHUNK 64
// The values are added this many rows at a time, with the next tile's rows asked for into L2 a
// share before each (run_unit). Each request holds one of the L1's few fill buffers until its
// line comes, and requests waiting for one block the loads behind them: bursts of 36 lines (a
// 4-bit cache) rather than 144 (Xeon VM, 16 threads, q4_0, 4,096 keys, three rounds: values
// 100,000/102,500/101,300 -> 92,000/95,900/94,100 cycles per thread and call; one core of the
// AMD VM: q4_0 14.5/14.7 -> 12.9/12.6 ms, q8_0 21.7/21.9 -> 19.1/15.6).
#define VALUE_CHUNK 16
// Ask for rows 0 .. n-1 of one head (bytes long, row apart) ahead of their use: each row would
// otherwise wait for memory in turn (-16% time at 4096 keys on the f16 cache, one thread, AVX2
// VM, when the rows were a whole position apart; book/m4-kv-cache.md#scaling). Rows one after the
// other (a compact cache keeps each head's rows together) are one span: each line asked for once.
// Into L1, or (to_l2) into L2 only, for rows needed later than the next chunk.
static inline void prefetch_rows(const char *base, int n, size_t row, size_t bytes, bool to_l2) {
    const size_t span = row == bytes ? (size_t)n * row : bytes;
    for (int j = 0; j < (row == bytes ? 1 : n); j++)
        for (size_t b = 0; b < span; b += 64) {
            if (to_l2) __builtin_prefetch(base + (size_t)j * row + b, 0, 2);
            else __builtin_prefetch(base + (size_t)j * row + b, 0, 3);
        }
}

static int splits_for(int n_keys) {
    const int s = (n_keys + KEYS_PER_SPLIT - 1) / KEYS_PER_SPLIT;
    return s < MAX_SPLITS ? s : MAX_SPLITS;
}

// A share's counter (run_part), on a cache line of its own: its owner takes from it unit after
// unit, another thread only once it has finished its own share.
typedef struct {
    _Alignas(64) atomic_int at;
} Counter;

typedef struct {
    const KVLayerView *kv;
    const float *q;
    float *out;
    int pos0;
    const int *first_unit;     // [tokens + 1]: token t's units are first_unit[t] .. first_unit[t+1]-1
    const int *first_partial;  // [tokens]: where token t's partials start (S > 1 only)
    int t0, tokens, units;     // this chunk: tokens t0 .. t0 + tokens - 1
    float *partials;           // per (query head, block): max, sum, then hd weighted values
    atomic_int *blocks_done;   // [tokens x n_kv_heads]: the blocks of (token, kv head) finished
    float scale;
    int parts;                 // the threads' shares: part p starts with units [units x p / parts, units x (p+1) / parts)
    Counter *next;             // [parts]: the next unit of each share not taken yet
} Job;

// The running softmax of G query heads over some keys: max m, sum l of exp(score - m), and
// acc = sum of exp(score - m) x value. A larger max rescales what was summed before.
typedef struct {
    float *m, *l, *acc;   // [G], [G], [G x hd]
    float *tile;          // [G x KEY_TILE] scores, then weights
} Running;

// Block s of S of a token's n_keys keys starts at this key (block S: n_keys).
static int block_start(int n_keys, int s, int S) { return (int)((long)n_keys * s / S); }

// The rows of a tile of keys that comes later: its first key and value rows, and how many.
typedef struct {
    const char *k, *v;   // NULL: none
    int n;
} Tile;

// Unit (token t, key/value head g, block s of S): keys j0 .. j1-1 of query heads g*G .. g*G+G-1.
// next: the first tile of the unit this thread will most likely run next.
static void run_unit(const Job *job, const KVRowKernels *kern, const KVSoftmaxKernels *sm, Running *r, int t, int g,
                     int s, int S, Tile next) {
    const KVLayerView *kv = job->kv;
    const int hd = kv->head_dim, G = kv->n_heads / kv->n_kv_heads, q_dim = kv->n_heads * hd;
    const int n_keys = job->pos0 + t + 1;
    const int j0 = block_start(n_keys, s, S), j1 = block_start(n_keys, s + 1, S);
    // One head's row of a position (head_bytes), and from one position's row to the next (row).
    const size_t head_bytes = kv_row_bytes(kv->type, hd), row = kv->pos_stride;
    const char *K = (const char *)kv->k + (size_t)g * kv->head_stride, *V = (const char *)kv->v + (size_t)g * kv->head_stride;
    // Rows asked for ahead in a compact cache (f16 and smaller), not in an f32 one (below).
    const bool ahead = head_bytes < (size_t)hd * sizeof(float);
    const float *q = job->q + (size_t)t * q_dim + (size_t)g * G * hd;
    for (int h = 0; h < G; h++) r->m[h] = -INFINITY, r->l[h] = 0.0f;
    for (int i = 0; i < G * hd; i++) r->acc[i] = 0.0f;
    for (int jb = j0; jb < j1; jb += KEY_TILE) {
        const int nt = j1 - jb < KEY_TILE ? j1 - jb : KEY_TILE;
        // The tile's key rows are read once for the G heads, and so are its value rows. While a
        // chunk of scores is computed, its value rows and the next chunk's key rows (in this tile
        // or the next) are asked for: in an f16 cache (or a smaller one). An f32 row is 8 cache
        // lines, twice as many requests, and they measured no faster than the hardware alone (a
        // few % slower).
        for (int c = 0; c < nt; c += PREFETCH_CHUNK) {
            const int nc = nt - c < PREFETCH_CHUNK ? nt - c : PREFETCH_CHUNK;
            const int k_next = jb + c + nc, k_ahead = j1 - k_next < PREFETCH_CHUNK ? j1 - k_next : PREFETCH_CHUNK;
            if (ahead) prefetch_rows(V + (size_t)(jb + c) * row, nc, row, head_bytes, false);
            if (ahead && k_ahead > 0) prefetch_rows(K + (size_t)k_next * row, k_ahead, row, head_bytes, false);
            kern->dot_rows(r->tile + c, KEY_TILE, q, G, nc, K + (size_t)(jb + c) * row, row, hd);
        }
        for (int h = 0; h < G; h++) {
            float *w = r->tile + h * KEY_TILE;
            const float tile_max = sm->scale_max(w, nt, job->scale);
            if (tile_max > r->m[h]) {   // what was summed so far was relative to a smaller max
                if (jb > j0) {   // (the first tile has summed nothing yet)
                    const float shrink = kv_softmax_exp(r->m[h] - tile_max);
                    r->l[h] *= shrink;
                    sm->rescale(r->acc + h * hd, hd, shrink);
                }
                r->m[h] = tile_max;
            }
            r->l[h] = sm->exp_sum(w, nt, r->m[h], r->l[h]);   // the weights, and their sum
        }
        // The values, a chunk at a time; before each, a share of the next tile's key and value
        // rows is asked for into L2 (then, in its turn, into L1 as above). Without this, a thread's
        // requests to memory stopped while it added values (their rows asked for with the keys),
        // and its next keys came in only while it waited for them (book/m4-kv-cache.md#next-tile).
        // (Added in order of j: the same sums as one call.)
        const Tile later = jb + KEY_TILE < j1 ? (Tile){K + (size_t)(jb + KEY_TILE) * row, V + (size_t)(jb + KEY_TILE) * row,
                                                       j1 - jb - KEY_TILE}
                                              : next;
        const int n_later = later.n < KEY_TILE ? later.n : KEY_TILE, chunks = (nt + VALUE_CHUNK - 1) / VALUE_CHUNK;
        for (int c = 0, i = 0; c < nt; c += VALUE_CHUNK, i++) {
            const int nc = nt - c < VALUE_CHUNK ? nt - c : VALUE_CHUNK;
            const int a = n_later * i / chunks, b = n_later * (i + 1) / chunks;
            if (ahead && later.k) {
                prefetch_rows(later.k + (size_t)a * row, b - a, row, head_bytes, true);
                prefetch_rows(later.v + (size_t)a * row, b - a, row, head_bytes, true);
            }
            kern->add_rows(r->acc, r->tile + c, KEY_TILE, G, nc, V + (size_t)(jb + c) * row, row, hd);
        }
    }
    if (S == 1) {   // the whole softmax: normalise into the output
        float *out = job->out + (size_t)t * q_dim + (size_t)g * G * hd;
        for (int h = 0; h < G; h++) {
            const float inv = 1.0f / r->l[h];
            for (int d = 0; d < hd; d++) out[h * hd + d] = r->acc[h * hd + d] * inv;
        }
        return;
    }
    for (int h = 0; h < G; h++) {   // a block: kept for the merge
        float *p = job->partials + (size_t)(job->first_partial[t - job->t0] + (g * G + h) * S + s) * (hd + 2);
        p[0] = r->m[h];
        p[1] = r->l[h];
        for (int d = 0; d < hd; d++) p[2 + d] = r->acc[h * hd + d];
    }
}

// Token t's blocks into its output, for query heads h0 .. h0 + count - 1: the sums scaled to the
// largest of the blocks' maxima. The partials were written by other threads, so their lines come
// from other cores' caches: all asked for first, so that they come in together. The weighted sum
// of the blocks' values is the f32 cache's add_rows (a partial's values are a row of floats).
static void merge(const Job *job, int t, int h0, int count) {
    const KVLayerView *kv = job->kv;
    const int hd = kv->head_dim, S = splits_for(job->pos0 + t + 1);
    const float *first = job->partials + (size_t)(job->first_partial[t - job->t0] + h0 * S) * (hd + 2);
    prefetch_rows((const char *)first, count * S, (hd + 2) * sizeof(float), (hd + 2) * sizeof(float), false);
    const KVRowKernels *f32 = kv_row_kernels(KV_F32);
    float f[MAX_SPLITS];
    float *out = job->out + (size_t)t * kv->n_heads * hd;
    for (int h = h0; h < h0 + count; h++) {
        const float *p = first + (size_t)(h - h0) * S * (hd + 2);
        float m = p[0], l = 0.0f;
        for (int s = 1; s < S; s++) m = p[s * (hd + 2)] > m ? p[s * (hd + 2)] : m;
        for (int s = 0; s < S; s++) {
            f[s] = kv_softmax_exp(p[(size_t)s * (hd + 2)] - m);
            l += f[s] * p[(size_t)s * (hd + 2) + 1];
        }
        float *o = out + (size_t)h * hd;
        for (int d = 0; d < hd; d++) o[d] = 0.0f;
        f32->add_rows(o, f, S, 1, S, p + 2, (hd + 2) * sizeof(float), hd);
        const float inv = 1.0f / l;
        for (int d = 0; d < hd; d++) o[d] *= inv;
    }
}

// A unit of the chunk: token t (counted from the chunk's first), key/value head g, block s of S.
typedef struct {
    int t, g, s, S;
} Unit;

// Unit u, whose token is `from` or a later one (a share's units are taken in order).
static Unit unit_at(const Job *job, int u, int from) {
    int t = from;
    while (u >= job->first_unit[t + 1]) t++;
    const int local = u - job->first_unit[t], S = splits_for(job->pos0 + job->t0 + t + 1);
    return (Unit){t, local / S, local % S, S};
}

// Where unit x's keys and values begin, and how many rows it has (run_unit asks for a tile of them).
static Tile first_tile(const Job *job, Unit x) {
    const KVLayerView *kv = job->kv;
    const int n_keys = job->pos0 + job->t0 + x.t + 1;
    const int j0 = block_start(n_keys, x.s, x.S), n = block_start(n_keys, x.s + 1, x.S) - j0;
    const size_t at = (size_t)x.g * kv->head_stride + (size_t)j0 * kv->pos_stride;
    return (Tile){(const char *)kv->k + at, (const char *)kv->v + at, n};
}

// One thread's units. Each part has a share of consecutive units (a kv head's blocks one after
// the other: in a compact cache, each unit's rows start where the last one's ended), and takes
// them in order; done with its own, it takes what is left of the others'. Units differ in length
// (the tokens of a prefill see more and more keys) and a thread can be held up (by the OS, or a
// neighbour on its core): no thread waits for another's share. Which thread computes a unit
// changes nothing in its result. One shared counter for all units, where threads took turns, had
// a thread's consecutive units 16 apart: at 16 threads, 4,096 keys, the shares took a step's
// attention from 2.78/2.63/3.08/2.94 to 2.30/2.20/2.40/2.50 ms in a 4-bit cache (Xeon VM). The
// thread that finishes the last block of a (token, kv head) merges its query heads, so the merges
// run spread over the threads too (one thread merging every head after the others had finished
// was ~10% of a decode step's attention, 16 threads).
static void run_part(void *arg, int part, int n_parts) {
    (void)n_parts;
    Job *job = arg;
    const KVLayerView *kv = job->kv;
    const int hd = kv->head_dim, G = kv->n_heads / kv->n_kv_heads;
    static _Thread_local Scratch own;
    float *mem = scratch_reserve(&own, (size_t)G * (2 + hd + KEY_TILE) * sizeof(float));
    Running r = {mem, mem + G, mem + 2 * G, mem + 2 * G + (size_t)G * hd};
    const KVRowKernels *kern = kv_row_kernels(kv->type);
    const KVSoftmaxKernels *sm = kv_softmax_kernels();
    for (int k = 0; k < job->parts; k++) {   // its own share first, then what is left of the others'
        const int p = (part + k) % job->parts, end = (int)((long)job->units * (p + 1) / job->parts);
        int t = 0;   // within a share units are taken in order: the token of a unit only moves forward
        for (int u; (u = atomic_fetch_add_explicit(&job->next[p].at, 1, memory_order_relaxed)) < end;) {
            const Unit x = unit_at(job, u, t);
            t = x.t;
            const Tile next = u + 1 < end ? first_tile(job, unit_at(job, u + 1, t)) : (Tile){NULL, NULL, 0};
            run_unit(job, kern, sm, &r, job->t0 + t, x.g, x.s, x.S, next);
            // acq_rel: the other blocks' partials, written before their own increments, are visible
            // to the thread whose increment is the last.
            if (x.S > 1 && atomic_fetch_add_explicit(&job->blocks_done[t * kv->n_kv_heads + x.g], 1,
                                                     memory_order_acq_rel) == x.S - 1)
                merge(job, job->t0 + t, x.g * G, G);
        }
    }
}

void kv_attention(float *out, const float *q, int n, int pos0, const KVLayerView *kv) {
    static _Thread_local Scratch tables, partials, counters, shares;
    int *first_unit = scratch_reserve(&tables, (size_t)(2 * n + 1) * sizeof(int)), *first_partial = first_unit + n + 1;
    Job job = {kv, q, out, pos0, first_unit, first_partial, 0, 0, 0, NULL, NULL, 1.0f / sqrtf((float)kv->head_dim), 0, NULL};
    const int hd = kv->head_dim;
    for (int t0 = 0; t0 < n;) {
        // A chunk of tokens whose partials fit (one token's always do: 64 blocks x its heads).
        int units = 0, slots = 0, t = t0;
        double work = 0;
        for (; t < n; t++) {
            const int S = splits_for(pos0 + t + 1), need = S > 1 ? kv->n_heads * S : 0;
            if (t > t0 && slots + need > MAX_PARTIALS) break;
            first_unit[t - t0] = units;
            first_partial[t - t0] = slots;
            units += kv->n_kv_heads * S;
            slots += need;
            work += 2.0 * (pos0 + t + 1) * kv->n_heads * hd;   // a dot product and an add per key
        }
        first_unit[t - t0] = units;
        job.t0 = t0, job.tokens = t - t0, job.units = units;
        job.partials = slots ? scratch_reserve(&partials, (size_t)slots * (hd + 2) * sizeof(float)) : NULL;
        if (slots) {
            const int n_counters = (t - t0) * kv->n_kv_heads;
            job.blocks_done = scratch_reserve(&counters, (size_t)n_counters * sizeof(atomic_int));
            for (int c = 0; c < n_counters; c++) atomic_init(&job.blocks_done[c], 0);
        }
        const int threads = pool_threads(), want = pool_parts_for(work, units);
        job.parts = want < threads ? want : threads;
        job.next = scratch_reserve(&shares, (size_t)job.parts * sizeof(Counter));
        for (int p = 0; p < job.parts; p++) atomic_init(&job.next[p].at, (int)((long)units * p / job.parts));
        pool_run(run_part, &job, job.parts);
        t0 = t;
    }
}

KVLayerView kv_view_by_position(const void *k, const void *v, KVType type, int n_heads, int n_kv_heads, int head_dim) {
    const size_t h = kv_row_bytes(type, head_dim);
    return (KVLayerView){k, v, type, n_heads, n_kv_heads, head_dim, (size_t)n_kv_heads * h, h};
}

KVLayerView kv_view_by_head(const void *k, const void *v, KVType type, int n_heads, int n_kv_heads, int head_dim,
                            int ctx) {
    const size_t h = kv_row_bytes(type, head_dim);
    return (KVLayerView){k, v, type, n_heads, n_kv_heads, head_dim, h, (size_t)ctx * h};
}

bool kv_attention_enabled(void) { return simd_level(SIMD_ATTN) == SIMD_ON; }
void kv_attention_use(bool on) { simd_set_level(SIMD_ATTN, on ? SIMD_ON : SIMD_OFF); }
