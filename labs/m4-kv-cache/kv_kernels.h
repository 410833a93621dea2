// Your lab's contract, copied by tools/mkskel from solutions/m4-kv-cache/kv_kernels.h (do not edit: make skeletons rewrites it).
// The row kernels of the cache's attention (kv_attention.c): a query head's dot product with one
// cached key, and one cached value added into an output with a weight, for f32 and f16 caches;
// the f32 <-> f16 conversions that write and read an f16 cache; and the table of cache formats,
// which a later lab extends with formats of its own.
//
// Plain C everywhere; AVX2 + FMA + F16C on x86-64 and NEON on arm64 when the CPU has them and the
// SIMD policy (shared/simd.h, family SIMD_ATTN) is "on". An f16 value is IEEE binary16, stored in
// a uint16_t; the conversions round to nearest even, bit for bit the same with and without SIMD.
#ifndef PS_KV_KERNELS_H
#define PS_KV_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

// What the cache stores, an id into the table of cache formats below. This lab registers two:
// KV_F32, and KV_F16, which halves the memory (and the bytes attention reads per position) at the
// price of 11 significant bits instead of 24 (book/m4-kv-cache.md#f16-cache). A later lab adds
// its own formats from KV_EXTENSION on (kv_format_register).
typedef int KVType;
enum { KV_F32, KV_F16, KV_EXTENSION, KV_MAX_FORMATS = 8 };

typedef struct {
    const char *name;   // "avx512", "avx2", "neon" or "plain C"
    // q . row[0..n): row is n values in the format's blocks (n floats for KV_F32, n halves for KV_F16)
    float (*dot)(const float *q, const void *row, int n);
    // For each of n_q query heads h (q + h x n, the G heads that share a key/value head):
    // scores[h x stride + j] = q_h . row j for j < n_rows (rows laid out as for add_rows). The
    // SIMD kernels take 2 heads and 4 rows at a time, each with its own partial sums, so their
    // results depend only on n_rows and n_q; each row is read and converted once for 2 heads.
    void (*dot_rows)(float *scores, int stride, const float *q, int n_q, int n_rows, const void *rows, size_t row_bytes,
                     int n);
    // out[h x n + d] += sum over j < n_rows of weights[h x stride + j] * row j [d], in order of j,
    // for each query head h < n_q; row j starts j * row_bytes bytes after rows. A block of output
    // stays in registers over all the rows (two heads' blocks at once in the SIMD kernels).
    void (*add_rows)(float *out, const float *weights, int stride, int n_q, int n_rows, const void *rows,
                     size_t row_bytes, int n);
} KVRowKernels;

// ---- the softmax of a tile of scores (kv_attention.c; the sets in kv_kernels*.c) ----
// e^x for the softmax: 0 below KV_EXP_LO, where expf's results turn subnormal. A subnormal weight
// adds nothing an f32 sum can hold, but every multiply-add with one can take a hundred cycles (a
// microcode assist): with a peaked softmax over thousands of keys that was most of the time.
#define KV_EXP_LO -87.0f
static inline float kv_softmax_exp(float x) { return x < KV_EXP_LO ? 0.0f : expf(x); }

typedef struct {
    const char *name;   // "avx512", "avx2", "neon" or "plain C"
    // w[j] *= scale for j < n (n >= 1); returns the largest of them.
    float (*scale_max)(float *w, int n, float scale);
    // w[j] = e^(w[j] - m) for j < n, 0 where w[j] - m < KV_EXP_LO; returns sum plus their total.
    // Plain C: kv_softmax_exp, added in order. SIMD: a polynomial within a few ulp of expf, added
    // 8 or 16 at a time.
    float (*exp_sum)(float *w, int n, float m, float sum);
    // x[d] *= f for d < n: a partial sum of values rescaled to a larger maximum.
    void (*rescale)(float *x, int n, float f);
} KVSoftmaxKernels;

// The ones the CPU and the SIMD policy (family SIMD_ATTN) allow now.
const KVSoftmaxKernels *kv_softmax_kernels(void);

// ---- extension point: cache formats ----
// A row is the n values of one key/value head at one position (n = head_dim), stored in blocks:
// block values in block_bytes bytes each (f32: 1 value in 4 bytes; f16: 1 in 2; a block format:
// 32 values and a scale, say). Where the rows lie is the cache's business (kvcache.h: a format's
// rows of one head follow each other, kv_row_bytes(type, head_dim) bytes apart). The cache writes
// new keys and values through `store` and attention reads them through the row kernels; `load`
// gives the values back as f32 (for tests and tools).
typedef struct {
    KVType type;        // its id: KV_F32, KV_F16, or KV_EXTENSION and above for a later lab's
    const char *name;   // what --kv calls it: "f32", "f16", ...
    int block;          // values per block: a row's length must be a multiple of it
    int block_bytes;    // bytes per block
    void (*store)(void *row, const float *x, size_t n);   // n values (a multiple of block) into a row
    void (*load)(float *x, const void *row, size_t n);    // and back
    const KVRowKernels *(*kernels)(void);   // the row kernels the CPU and the SIMD policy allow now
} KVFormat;

// Registers f (kept by pointer: give it static storage); registering it again changes nothing.
// 0, or -1 (message printed) when its id is out of range or taken by another format, or its name
// is.
int kv_format_register(const KVFormat *f);
const KVFormat *kv_format(KVType type);           // the registered format with that id, or NULL
const KVFormat *kv_format_named(const char *name);   // the one with that name, or NULL
// The registered formats' names, for messages: "f32, f16, ..." into buf (truncated to size).
void kv_format_names(char *buf, size_t size);
// Bytes of n values of a registered format (n a multiple of its block; 0 otherwise).
size_t kv_row_bytes(KVType type, int n);

// The kernels for rows of this type that the CPU and the SIMD policy allow now (type registered).
const KVRowKernels *kv_row_kernels(KVType type);

// n values from f32 to f16 (round to nearest even; beyond 65504 they become infinities) and back.
void kv_f32_to_f16(uint16_t *dst, const float *src, size_t n);
void kv_f16_to_f32(float *dst, const uint16_t *src, size_t n);
// One value each way, in plain C: the reference the SIMD conversions must equal.
uint16_t kv_half_from_float(float f);
float kv_float_from_half(uint16_t h);

#endif
