// The Qwen3 forward pass in plain f32: every step of the math, one function each, over the whole
// sequence at once (no KV cache yet: a later lab adds one). Shapes in comments use n = tokens.
#include "forward.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scratch.h"
#include "thread_pool.h"

void embed_token(float *out, const Mat *embed, int token) {
    if (embed->dtype != DT_F32) {   // a registered format (MatKernels) widens its own rows
        matmul_kernels(embed)->get_row(out, embed, token);
        return;
    }
    memcpy(out, (const float *)embed->data + (size_t)token * embed->cols, (size_t)embed->cols * sizeof *out);
}

void rmsnorm(float *out, const float *x, const float *weight, int n, float eps) {
    //> M2 rmsnorm
    //? Root-mean-square normalisation: divide x by sqrt(mean of x[i]^2 + eps), then scale each
    //? element by weight[i]. Compute the sum first, then write (out may be the same array as x).
    float sum_sq = 0.0f;
    for (int i = 0; i < n; i++) sum_sq += x[i] * x[i];
    float inv_rms = 1.0f / sqrtf(sum_sq / (float)n + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * inv_rms * weight[i];
    //<
}

typedef struct {
    float *out;
    const float *x, *weight;
    int n_rows, dim;
    float eps;
} RmsnormRows;

static void rmsnorm_rows_part(void *arg, int part, int n_parts) {
    const RmsnormRows *r = arg;
    for (int t = r->n_rows * part / n_parts; t < r->n_rows * (part + 1) / n_parts; t++)
        rmsnorm(r->out + (size_t)t * r->dim, r->x + (size_t)t * r->dim, r->weight, r->dim, r->eps);
}

// rmsnorm() of each of n_rows rows of dim values (a prompt's tokens), the rows split between the
// pool's threads when there are enough: ~2.4 ns a value on one thread (a chain of additions and a
// multiplication), 6 of pool_parts_for()'s multiply-adds; each row whole on one thread, so the
// bits do not depend on the threads.
static void rmsnorm_rows(float *out, const float *x, const float *weight, int n_rows, int dim, float eps) {
    RmsnormRows r = {out, x, weight, n_rows, dim, eps};
    pool_run(rmsnorm_rows_part, &r, pool_parts_for(6.0 * n_rows * dim, n_rows));
}

void rope(float *x, int n_heads, int head_dim, int pos, float theta) {
    //> M2 rope
    //? Qwen3 pairs element i with element i + half (the "rotate half" layout, not adjacent pairs),
    //? half = head_dim / 2, in each of the n_heads heads of x (head h starts at x + h*head_dim).
    //? Pair i turns by angle = pos * freq, freq = 1 / theta^(2i / head_dim), computed in float
    //? like transformers does:  a' = a cos - b sin,  b' = b cos + a sin.
    int half = head_dim / 2;
    // The angle depends on the pair and the position, not on the head: one powf, cosf and sinf per
    // pair turns it in every head (per head they were ~2 ms of every token, on one thread).
    for (int i = 0; i < half; i++) {
        float freq = 1.0f / powf(theta, (float)(2 * i) / (float)head_dim);
        float angle = (float)pos * freq;
        float c = cosf(angle), s = sinf(angle);
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (size_t)h * head_dim;
            float a = v[i], b = v[i + half];
            v[i] = a * c - b * s;
            v[i + half] = b * c + a * s;
        }
    }
    //<
}

void softmax(float *x, int n) {
    //> M2 softmax
    //? exp(x[i]) / sum_j exp(x[j]). exp overflows above ~88, so subtract max(x) first: the result is
    //? the same (the factor exp(-max) cancels) and every exponent is <= 0.
    float max = x[0];
    for (int i = 1; i < n; i++) if (x[i] > max) max = x[i];
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    for (int i = 0; i < n; i++) x[i] /= sum;
    //<
}

typedef struct {
    float *out;
    const float *q, *k, *v;
    int n_keys, kv_stride, n_heads, n_kv_heads, head_dim;
    float *scores;   // the caller's scratch, for the first thread
} Attention;

// Query head h of attention() below, with `scores` as scratch (n_keys floats).
static void attention_head(const Attention *a, int h, float *scores) {
    const float *q = a->q, *k = a->k, *v = a->v;
    const int n_keys = a->n_keys, kv_stride = a->kv_stride, head_dim = a->head_dim;
    int group = a->n_heads / a->n_kv_heads;   // query heads per key/value head
    float scale = 1.0f / sqrtf((float)head_dim);
    const float *qh = q + (size_t)h * head_dim;
    float *oh = a->out + (size_t)h * head_dim;
    int kv_off = (h / group) * head_dim;
    // The engine's default: the same steps with SIMD dot products (solutions/m2-forward/matmul_simd.c). This
    // lab's tests switch SIMD off (matmul_use_simd(false)) to run yours.
    if (attention_head_simd(oh, qh, k + kv_off, v + kv_off, n_keys, kv_stride, scale, head_dim, scores)) return;
    //> M2 attention
    //? For this query head: scores[j] = (qh · key j) * scale for each position j < n_keys, where
    //? key j of this head is k + j*kv_stride + kv_off. softmax(scores). Then oh = sum_j scores[j] *
    //? value j (v + j*kv_stride + kv_off). Only positions < n_keys exist: that is the causal mask.
    for (int j = 0; j < n_keys; j++) {
        const float *kj = k + (size_t)j * kv_stride + kv_off;
        float dot = 0.0f;
        for (int d = 0; d < head_dim; d++) dot += qh[d] * kj[d];
        scores[j] = dot * scale;
    }
    softmax(scores, n_keys);
    for (int d = 0; d < head_dim; d++) oh[d] = 0.0f;
    for (int j = 0; j < n_keys; j++) {
        const float *vj = v + (size_t)j * kv_stride + kv_off;
        for (int d = 0; d < head_dim; d++) oh[d] += scores[j] * vj[d];
    }
    //<
}

// One thread's share of the heads. Threads after the first need scores of their own: each keeps
// one buffer, grown to the longest context it has seen (not allocated again every token).
static void attention_part(void *arg, int part, int n_parts) {
    const Attention *a = arg;
    static _Thread_local Scratch own_scores;
    float *scores = part == 0 ? a->scores : scratch_reserve(&own_scores, (size_t)a->n_keys * sizeof *scores);
    for (int h = a->n_heads * part / n_parts; h < a->n_heads * (part + 1) / n_parts; h++) attention_head(a, h, scores);
}

// Below this many multiply-adds per head, waking threads costs more than it saves.
#define ATTENTION_WORK_PER_HEAD (1 << 16)

void attention(float *out, const float *q, const float *k, const float *v, int n_keys, int kv_stride,
               int n_heads, int n_kv_heads, int head_dim, float *scores) {
    Attention a = {out, q, k, v, n_keys, kv_stride, n_heads, n_kv_heads, head_dim, scores};
    // The heads are independent and each is computed whole by one thread, so the result does not
    // depend on the thread count. At long contexts a decode step's attention costs as much as its
    // weights, so it gets the matmul threads too (shared/thread_pool.h).
    if ((long)n_keys * head_dim < ATTENTION_WORK_PER_HEAD) {
        for (int h = 0; h < n_heads; h++) attention_head(&a, h, scores);
        return;
    }
    pool_run(attention_part, &a, n_heads);
}

// out[i] = silu(gate[i]) * up[i] for i < n: swiglu()'s work, on one thread's slice of the values.
static void swiglu_values(float *out, const float *gate, const float *up, size_t n) {
    //> M2 swiglu
    //? out[i] = silu(gate[i]) * up[i], with silu(g) = g / (1 + exp(-g)).
    for (size_t i = 0; i < n; i++) out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
    //<
}

typedef struct {
    float *out;
    const float *gate, *up;
    size_t n;
} Swiglu;

static void swiglu_part(void *arg, int part, int n_parts) {
    const Swiglu *s = arg;
    // Slices start at multiples of 16 values (64 bytes): no two threads write one cache line.
    const size_t lo = s->n * part / n_parts & ~(size_t)15;
    const size_t hi = part == n_parts - 1 ? s->n : s->n * (part + 1) / n_parts & ~(size_t)15;
    swiglu_values(s->out + lo, s->gate + lo, s->up + lo, hi - lo);
}

// An expf and a division cost about as much as 16 multiply-adds of a matrix product reading its
// weights from memory (5.9 ns against 0.4 on one core of our VM), pool_parts_for()'s unit.
#define SWIGLU_WORK_PER_VALUE 16

void swiglu(float *out, const float *gate, const float *up, int n) {
    // A prompt's n = tokens x ffn_dim values (393,216 for 128 tokens of Qwen3-0.6B: 65 ms over
    // its 28 layers on one thread) go to the pool; a decode step's 3072 are not worth a round.
    Swiglu s = {out, gate, up, (size_t)n};
    pool_run(swiglu_part, &s, pool_parts_for((double)n * SWIGLU_WORK_PER_VALUE, n / 16 + 1));
}

int acts_alloc(Acts *a, const Config *c, int n, int n_keys, bool with_kv) {
    size_t N = (size_t)n, q_dim = (size_t)c->n_heads * c->head_dim, kv_dim = (size_t)c->n_kv_heads * c->head_dim;
    // On cache lines (malloc_lines): the products' tiles load a token's values 16 at a time, a
    // whole line each, where malloc's 16-byte offset split every load in two.
    *a = (Acts){
        .x = malloc_lines(N * c->dim * sizeof(float)), .xn = malloc_lines(N * c->dim * sizeof(float)),
        .q = malloc_lines(N * q_dim * sizeof(float)), .att = malloc_lines(N * q_dim * sizeof(float)),
        .delta = malloc_lines(N * c->dim * sizeof(float)), .gate = malloc_lines(N * c->ffn_dim * sizeof(float)),
        .up = malloc_lines(N * c->ffn_dim * sizeof(float)), .scores = malloc_lines((size_t)n_keys * sizeof(float)),
    };
    if (with_kv) {
        a->k = malloc_lines(N * kv_dim * sizeof(float));
        a->v = malloc_lines(N * kv_dim * sizeof(float));
    }
    if (a->x && a->xn && a->q && a->att && a->delta && a->gate && a->up && a->scores && (!with_kv || (a->k && a->v))) {
        a->n_tokens = n;
        a->n_keys = n_keys;
        return 0;
    }
    acts_free(a);
    return -1;
}

int acts_reserve(Acts *a, const Config *c, int n, int n_keys, bool with_kv) {
    if (a->x && n <= a->n_tokens && n_keys <= a->n_keys && (!with_kv || a->k)) return 0;
    int tokens = n > a->n_tokens ? n : a->n_tokens, keys = n_keys > a->n_keys ? n_keys : a->n_keys;
    acts_free(a);
    return acts_alloc(a, c, tokens, keys, with_kv);
}

void acts_free(Acts *a) {
    float *all[] = {a->x, a->xn, a->q, a->k, a->v, a->att, a->delta, a->gate, a->up, a->scores};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    *a = (Acts){0};
}

// k and v are parameters, not a->k and a->v, so that a cached forward pass can project straight into its cache.
void project_qkv(const Layer *L, const Config *c, Acts *a, float *k, float *v, int n) {
    int dim = c->dim;
    //[ qkv
    rmsnorm_rows(a->xn, a->x, L->attn_norm, n, dim, c->norm_eps);   // each token's row, on the pool's threads
    // Three products of the same input: one round of the pool for all their rows (matmul_many).
    matmul_many((float *[]){a->q, k, v}, (const Mat *[]){&L->wq, &L->wk, &L->wv}, 3, a->xn, n);
    //]
}

// QK-norm and RoPE of tokens 0 .. n-1 of q and k, at positions pos0 .. pos0 + n - 1: qk_norm_rope()'s
// work, on one thread's share of the tokens.
static void qk_norm_rope_tokens(const Layer *L, const Config *c, float *q, float *k, int n, int pos0) {
    int hd = c->head_dim, q_dim = c->n_heads * hd, kv_dim = c->n_kv_heads * hd;
    //> M2 qk-norm-rope
    //? For each token t: QK-norm, Qwen3's addition: rmsnorm each query head's head_dim values with
    //? L->q_norm and each key head's with L->k_norm (every head separately, the same weights). Then
    //? rope() the token's queries (c->n_heads heads) and keys (c->n_kv_heads heads) at position
    //? pos0 + t (forward() passes pos0 = 0; a cache passes where the new tokens start).
    for (int t = 0; t < n; t++) {
        float *qt = q + (size_t)t * q_dim, *kt = k + (size_t)t * kv_dim;
        for (int h = 0; h < c->n_heads; h++) rmsnorm(qt + h * hd, qt + h * hd, L->q_norm, hd, c->norm_eps);
        for (int h = 0; h < c->n_kv_heads; h++) rmsnorm(kt + h * hd, kt + h * hd, L->k_norm, hd, c->norm_eps);
        rope(qt, c->n_heads, hd, pos0 + t, c->rope_theta);
        rope(kt, c->n_kv_heads, hd, pos0 + t, c->rope_theta);
    }
    //<
}

typedef struct {
    const Layer *L;
    const Config *c;
    float *q, *k;
    int n, pos0;
} QkNormRope;

static void qk_norm_rope_part(void *arg, int part, int n_parts) {
    const QkNormRope *j = arg;
    const int t0 = j->n * part / n_parts, t1 = j->n * (part + 1) / n_parts;
    const size_t q_dim = (size_t)j->c->n_heads * j->c->head_dim, kv_dim = (size_t)j->c->n_kv_heads * j->c->head_dim;
    qk_norm_rope_tokens(j->L, j->c, j->q + t0 * q_dim, j->k + t0 * kv_dim, t1 - t0, j->pos0 + t0);
}

// Per query or key value: a share of the rmsnorm and of the rotation, with a cosf and sinf per
// pair of a token's heads (about 5 ns a value on one core of our VM), in pool_parts_for()'s unit.
#define QK_NORM_ROPE_WORK_PER_VALUE 12

void qk_norm_rope(const Layer *L, const Config *c, float *q, float *k, int n, int pos0) {
    // Each token is normalised and turned on its own, so a prompt's tokens split between the
    // pool's threads (28 x 128 tokens cost ~50 ms on one thread) and the bits do not change.
    QkNormRope j = {L, c, q, k, n, pos0};
    const double values = (double)n * (c->n_heads + c->n_kv_heads) * c->head_dim;
    pool_run(qk_norm_rope_part, &j, pool_parts_for(values * QK_NORM_ROPE_WORK_PER_VALUE, n));
}

void attention_output(const Layer *L, const Config *c, Acts *a, int n) {
    matmul(a->delta, a->att, &L->wo, n);
    //> M2 residual
    //? The residual connection: add the block's output (a->delta) to the stream (a->x), n × dim values.
    for (size_t i = 0; i < (size_t)n * c->dim; i++) a->x[i] += a->delta[i];
    //<
}

// Attention half of a block: x += o_proj(attention(rope(qk_norm(q, k)), v)) of rmsnorm(x).
// forward()'s AttentionHalf: the keys and values of the n tokens are all there is.
static void attention_block(const void *self, const Model *m, int layer, Acts *a, int n) {
    (void)self;   // no state beyond the model
    const Layer *L = &m->layers[layer];
    const Config *c = &m->cfg;
    int q_dim = c->n_heads * c->head_dim, kv_dim = c->n_kv_heads * c->head_dim;
    project_qkv(L, c, a, a->k, a->v, n);
    qk_norm_rope(L, c, a->q, a->k, n, 0);   // no cache: the sequence starts at position 0
    //[ attend
    for (int t = 0; t < n; t++)   // token t sees positions 0..t
        attention(a->att + (size_t)t * q_dim, a->q + (size_t)t * q_dim, a->k, a->v, t + 1, kv_dim, c->n_heads,
                  c->n_kv_heads, c->head_dim, a->scores);
    attention_output(L, c, a, n);   // x += att Wo^T
    //]
}

void mlp_block(const Layer *L, const Config *c, Acts *a, int n) {
    int dim = c->dim;
    //> M2 mlp
    //? rmsnorm each token of a->x with L->mlp_norm into a->xn; a->gate = xn W_gate^T and
    //? a->up = xn W_up^T: both read xn, so one matmul_many() call computes them in one round of
    //? the pool (two matmul() calls give the same bits); swiglu over all n*ffn_dim values (into
    //? a->gate); a->delta = down projection of that (matmul); add a->delta to a->x.
    rmsnorm_rows(a->xn, a->x, L->mlp_norm, n, dim, c->norm_eps);
    matmul_many((float *[]){a->gate, a->up}, (const Mat *[]){&L->w_gate, &L->w_up}, 2, a->xn, n);
    swiglu(a->gate, a->gate, a->up, n * c->ffn_dim);
    matmul(a->delta, a->gate, &L->w_down, n);
    for (size_t i = 0; i < (size_t)n * dim; i++) a->x[i] += a->delta[i];
    //<
}

int check_token_ids(const Config *c, const int32_t *ids, int n, const char *who) {
    //> M2 embedding
    //? Every id must be in [0, vocab_size): a negative one would read before the embedding matrix,
    //? a larger one past it. For the first that is not, print "WHO: token id X at position t is out
    //? of range (vocab_size V)" (WHO = who) and return -1. All good: 0.
    for (int t = 0; t < n; t++)
        if (ids[t] < 0 || ids[t] >= c->vocab_size) {
            fprintf(stderr, "%s: token id %d at position %d is out of range (vocab_size %d)\n", who, ids[t], t,
                    c->vocab_size);
            return -1;
        }
    return 0;
    //<
}

void forward_tokens(const Model *m, const int32_t *ids, int n, Acts *a, AttentionHalf attend, const void *self,
                    int first, float *logits, Checkpoints *ck) {
    const Config *c = &m->cfg;
    size_t dim = (size_t)c->dim;
    for (int t = 0; t < n; t++) embed_token(a->x + t * dim, &m->embed, ids[t]);
    //[ layers
    if (ck && ck->embedding) memcpy(ck->embedding, a->x, n * dim * sizeof(float));
    for (int l = 0; l < c->n_layers; l++) {
        attend(self, m, l, a, n);   // forward()'s attention_block, or a cache's
        mlp_block(&m->layers[l], c, a, n);
        if (ck && ck->blocks) memcpy(ck->blocks + (size_t)l * n * dim, a->x, n * dim * sizeof(float));
    }
    //]
    //> M2 logits
    //? The final RMSNorm (m->final_norm) of positions first .. n-1 of a->x into the same rows of
    //? a->xn, then logits = xn lm_head^T for those n - first rows (matmul from row `first` of
    //? a->xn into logits, [(n - first) × vocab_size]). forward() passes first = 0.
    for (int t = first; t < n; t++) rmsnorm(a->xn + t * dim, a->x + t * dim, m->final_norm, c->dim, c->norm_eps);
    matmul(logits, a->xn + first * dim, &m->lm_head, n - first);
    //<
    if (ck && ck->final_norm) memcpy(ck->final_norm, a->xn, n * dim * sizeof(float));
}

int forward(const Model *m, const int32_t *ids, int n, float *logits_out, Checkpoints *ck) {
    const Config *c = &m->cfg;
    if (n < 1) return fprintf(stderr, "forward: no tokens\n"), -1;
    if (check_token_ids(c, ids, n, "forward") != 0) return -1;
    Acts a;
    if (acts_alloc(&a, c, n, n, true) != 0) return fprintf(stderr, "forward: out of memory for %d tokens\n", n), -1;
    forward_tokens(m, ids, n, &a, attention_block, NULL, 0, logits_out, ck);
    acts_free(&a);
    return 0;
}

int checkpoints_alloc(Checkpoints *ck, const Config *c, int n) {
    size_t row = (size_t)n * c->dim * sizeof(float);
    ck->embedding = malloc(row);
    ck->blocks = malloc(row * (size_t)c->n_layers);
    ck->final_norm = malloc(row);
    if (ck->embedding && ck->blocks && ck->final_norm) return 0;
    checkpoints_free(ck);
    return -1;
}

void checkpoints_free(Checkpoints *ck) {
    free(ck->embedding);
    free(ck->blocks);
    free(ck->final_norm);
    ck->embedding = ck->blocks = ck->final_norm = NULL;
}
