// Your lab's contract, copied by tools/mkskel from solutions/m2-forward/forward.h (do not edit: make skeletons rewrites it).
// The forward pass: token ids in, next-token logits out, in plain f32 on the CPU.
//
// The building blocks are separate functions so later labs reuse them: a cached forward pass runs
// the same block halves (project_qkv, qk_norm_rope, attention_output, mlp_block) with its keys and
// values in the cache; matrices in other formats plug into matmul() through MatKernels below.
// Layouts: a sequence of n vectors of width d is one row-major array [n × d].
#ifndef PS_FORWARD_H
#define PS_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

// out[t][r] = sum_c W[r][c] * x[t][c] for each of the n_tokens rows of x:
// x is [n_tokens × w->cols], out is [n_tokens × w->rows]. f32 matrices here; other dtypes go to
// their registered MatKernels. Runs on the shared thread pool (shared/thread_pool.h: pool_set_threads).
void matmul(float *out, const float *x, const Mat *w, int n_tokens);

// ---- extension point: matrices that are not f32 ----
// A later lab whose matrices carry another dtype (a packed format registered with model.h's
// MatFormat) registers how to compute with them; matmul() and embed_token() call these for it.
typedef struct {
    DType dtype;
    // As matmul() above; NULL when the format registers MatRowKernels (below), which matmul() then
    // runs on the pool's threads.
    void (*matmul)(float *out, const float *x, const Mat *w, int n_tokens);
    void (*get_row)(float *out, const Mat *w, int row);   // row `row` widened to f32 [w->cols]
} MatKernels;
// Registers k (kept by pointer: static storage); again changes nothing. 0, or -1 when full.
int matmul_register(const MatKernels *k);
// The kernels registered for w->dtype (bf16: this lab's own, MATMUL_BF16); prints a message and
// exits when there are none.
const MatKernels *matmul_kernels(const Mat *w);
// bf16 matrices kept as they are (M1's model_keep_bf16): widened in registers, matmul_bf16.c.
extern const MatKernels MATMUL_BF16;

// ---- products that share their input ----
// outs[i] = x ws[i]^T for i < count, as `count` matmul() calls would write them, bit for bit, in
// one round of the thread pool instead of `count`: q, k and v all multiply a token's normed
// vector, and so do gate and up. Each thread takes a share of all the matrices' rows (every row
// whole on one thread, so the thread count changes nothing). Every ws[i] is as wide as x's rows;
// count is 1 .. MATMUL_MANY_MAX; no out may overlap x or another out.
#define MATMUL_MANY_MAX 8
void matmul_many(float *const outs[], const Mat *const ws[], int count, const float *x, int n_tokens);
// How a registered format (MatKernels above) joins matmul_many()'s round: it prepares the shared
// activations once for all its matrices of the group (a format that rounds them, say), then
// computes any rows of any of them. A format without these gets one matmul() of its own.
typedef struct {
    DType dtype;
    // Bytes prepare() fills for n_tokens tokens of `cols` values; 0: rows() reads x itself.
    size_t (*prep_bytes)(DType dtype, int cols, int n_tokens);
    // Tokens [t0, t1) of x [n_tokens × cols] into prep (threads prepare different tokens at once).
    void (*prepare)(void *prep, const float *x, DType dtype, int cols, int n_tokens, int t0, int t1);
    // Output rows [row_begin, row_end) of out = x w^T [n_tokens × w->rows], from prep (NULL when
    // prep_bytes said 0) or x: for those rows, the very bits matmul() writes.
    void (*rows)(float *out, const void *prep, const float *x, const Mat *w, int n_tokens, int row_begin,
                 int row_end);
} MatRowKernels;
// Registers k (kept by pointer: static storage); again changes nothing. 0, or -1 when full.
int matmul_rows_register(const MatRowKernels *k);
// bf16's (matmul_bf16.c): the SIMD tiles of matmul_gemm.c, or a plain loop.
extern const MatRowKernels MATMUL_BF16_ROWS;

// f32 products with SIMD (matmul_simd.c): matmul() uses them when the SIMD policy says so
// (shared/simd.h: on by default); false runs your matmul_f32_rows (so does PS_SIMD=0).
void matmul_use_simd(bool on);
const char *matmul_simd_name(void);   // "avx512", "avx2", "neon" or "plain C"
// Output rows [row_begin, row_end) of out = W x with SIMD; false (nothing done) without a kernel.
bool matmul_simd_rows(float *out, const float *x, const float *W, int rows, int cols, int n_tokens, int row_begin,
                      int row_end);
// The same with W's rows in f32 or (bf16) in bf16, widened in registers: tiles of rows × tokens
// (matmul_gemm.c); false (nothing done) without a kernel for this CPU (kernel: matmul_simd_name()).
bool matmul_gemm_rows(float *out, const float *x, const void *W, bool bf16, int rows, int cols, int n_tokens,
                      int row_begin, int row_end);
// Part `part` of n_parts of a product's rows, [*row_begin, *row_end): equal slices starting at
// multiples of 16 rows, what each thread gets with PS_MATMUL_CHUNKS=0 (matmul deals out 16-row
// units in runs by default); tools/bench_gemm and the blocking test compute slices with it.
void matmul_gemm_part(int rows, int part, int n_parts, int *row_begin, int *row_end);
// One head of attention() with SIMD dot products (k, v: this head's first key and value); false
// (nothing done) without a kernel or with SIMD switched off.
bool attention_head_simd(float *oh, const float *qh, const float *k, const float *v, int n_keys, int kv_stride,
                         float scale, int head_dim, float *scores);

// Copies token `token`'s row of the embedding matrix to out [embed->cols].
void embed_token(float *out, const Mat *embed, int token);

// out = x / sqrt(mean(x^2) + eps) * weight, for one vector of n values (out may equal x).
void rmsnorm(float *out, const float *x, const float *weight, int n, float eps);

// Rotates each of the n_heads vectors of head_dim values in x (one token's q or k) by position pos,
// in Qwen3's "rotate half" layout: pairs (i, i + head_dim/2) turn by pos * theta^(-2i/head_dim).
void rope(float *x, int n_heads, int head_dim, int pos, float theta);

// x = softmax(x) over n values, subtracting the max first so exp() cannot overflow.
void softmax(float *x, int n);

// One query token attending over n_keys positions of keys and values (causal: pass pos + 1).
// q and out: [n_heads × head_dim]. k and v: n_keys rows, `kv_stride` floats apart; key head j of a row
// starts at row + j*head_dim. Query head h uses key/value head h / (n_heads / n_kv_heads) (GQA).
// scores: scratch for n_keys floats.
void attention(float *out, const float *q, const float *k, const float *v, int n_keys, int kv_stride,
               int n_heads, int n_kv_heads, int head_dim, float *scores);

// out[i] = silu(gate[i]) * up[i], silu(x) = x * sigmoid(x): the MLP's gated activation.
void swiglu(float *out, const float *gate, const float *up, int n);

// Scratch activations of one pass over n tokens, [n × width] each. forward() owns all of them; a
// cached forward pass has no k and v here (NULL): its keys and values live in the cache.
typedef struct {
    float *x;          // the residual stream [n × dim]
    float *xn;         // x after a norm [n × dim]
    float *q;          // [n × n_heads*head_dim]
    float *k, *v;      // [n × n_kv_heads*head_dim], or NULL
    float *att;        // attention output, before o_proj [n × n_heads*head_dim]
    float *delta;      // what a sub-block adds to the residual stream [n × dim]
    float *gate, *up;  // [n × ffn_dim]
    float *scores;     // [n_keys]: one query's attention weights
    int n_tokens, n_keys;   // what the buffers hold room for
} Acts;
// Allocates a's buffers for n tokens whose queries attend over at most n_keys positions; k and v
// only when with_kv. Returns 0, or -1 (nothing left allocated) when out of memory.
int acts_alloc(Acts *a, const Config *c, int n, int n_keys, bool with_kv);
// Makes a (allocated by acts_alloc, or all zero) hold at least n tokens and n_keys scores: nothing
// to do when it already does, else it is allocated again, larger. So the scratch of a session (a
// KV cache's) is allocated once for its decode steps, and again only for a longer prompt.
// Returns 0, or -1 (a left empty) when out of memory.
int acts_reserve(Acts *a, const Config *c, int n, int n_keys, bool with_kv);
void acts_free(Acts *a);

// The pieces of a transformer block, over the n tokens of a (layer L):
// xn = rmsnorm(x) with attn_norm; q = xn Wq^T into a->q; k = xn Wk^T and v = xn Wv^T into k and v
// ([n × n_kv_heads*head_dim]: a->k and a->v in forward(), a cache's rows in a cached pass).
void project_qkv(const Layer *L, const Config *c, Acts *a, float *k, float *v, int n);
// QK-norm (per-head rmsnorm with q_norm / k_norm), then RoPE of token t at position pos0 + t.
// q: [n × n_heads*head_dim], k: [n × n_kv_heads*head_dim], both in place. M2 passes pos0 = 0.
void qk_norm_rope(const Layer *L, const Config *c, float *q, float *k, int n, int pos0);
// x += a->att Wo^T: the attention half's result joins the residual stream.
void attention_output(const Layer *L, const Config *c, Acts *a, int n);
// The MLP half: x += down(swiglu(gate(xn), up(xn))), xn = rmsnorm(x) with mlp_norm.
void mlp_block(const Layer *L, const Config *c, Acts *a, int n);

// Intermediate activations, for debugging against the oracle. Buffers are caller-owned;
// any pointer may be NULL to skip that checkpoint.
typedef struct {
    float *embedding;   // [n × dim]: the embedded tokens
    float *blocks;      // [n_layers × n × dim]: block l's output at position t starts at (l*n + t)*dim
    float *final_norm;  // [n × dim]: after the final RMSNorm
} Checkpoints;
int checkpoints_alloc(Checkpoints *ck, const Config *c, int n);   // 0, or -1 when out of memory
void checkpoints_free(Checkpoints *ck);

// 0 when every id of ids[0..n) is a token of c's vocabulary, [0, vocab_size); else -1 and the
// message "WHO: token id X at position t is out of range (vocab_size V)" (who: the caller's name).
int check_token_ids(const Config *c, const int32_t *ids, int n, const char *who);

// Runs the whole model over ids[0..n) (no cache: every position is recomputed) and writes the
// logits of every position to logits_out [n × vocab_size]. Fills ck when not NULL.
// Returns 0, or -1 (message printed) for an out-of-range id, n < 1, or out of memory.
int forward(const Model *m, const int32_t *ids, int n, float *logits_out, Checkpoints *ck);

// ---- the driver every forward pass shares ----
// The attention half of block `layer` over the n tokens of a: x += o_proj(attention(...)) of
// rmsnorm(x). forward()'s attends among the n tokens themselves; a cached pass's also over the
// positions its cache holds. self: that pass's own state (NULL for forward()'s).
typedef void (*AttentionHalf)(const void *self, const Model *m, int layer, Acts *a, int n);
// The steps around the attention halves, over n checked ids (check_token_ids): embed them into
// a->x, run every layer (attend, then mlp_block), then the final norm and the lm_head for the
// positions first .. n-1 only, into logits [(n - first) × vocab_size] (a generation wants the
// last position's alone). Fills ck when not NULL (then first must be 0). a holds n tokens.
void forward_tokens(const Model *m, const int32_t *ids, int n, Acts *a, AttentionHalf attend, const void *self,
                    int first, float *logits, Checkpoints *ck);

#endif
