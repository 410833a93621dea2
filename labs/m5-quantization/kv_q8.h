// Your lab's contract, copied by tools/mkskel from solutions/m5-quantization/kv_q8.h (do not edit: make skeletons rewrites it).
// A KV cache in 8 bits: keys and values stored as Q8_0 blocks (quant.h), a format registered with
// lab M4's table of cache formats (kv_kernels.h), so `kv_cache_init_as(..., KV_Q8_0)` and
// `protostar generate --kv q8_0` use it (book/m5-quantization.md#kv-q8).
//
// A row of the cache (one key/value head at one position, head_dim values) holds head_dim / 32
// blocks, each an f16 scale and 32 int8, 34 bytes for 32 values: 8.5 bits a value, 27% of an f32
// cache and 53% of an f16 one. The row keeps its blocks' scales side by side first, then their
// quants (kv_q8_scale_at, kv_q8_quants_at), as the 4-bit cache does (kv_q4.h says why): block b is
// quantize_row_q8_0's block b, its scale and quants moved apart. New keys and values are quantized
// by quantize_row_q8_0 as they enter the cache; attention reads the rows directly. A key's dot
// product is an integer one, as in the products (quant.h): the query head is rounded to 8 bits per
// block of 32 first (quantize_act, once per call for all its rows: scale dq, float), so a block's
// dot is dq x dk x sum(q8[i] x k8[i]), the sum exact in int32; the blocks' terms are added in order
// in float. A value is added as w x d x v8[i]. head_dim must be a multiple of 32 (kv_cache_init_as
// says so otherwise).
#ifndef PS_KV_Q8_H
#define PS_KV_Q8_H

#include <stdbool.h>
#include <stdint.h>

#include "kv_kernels.h"
#include "quant_blocks.h"

enum { KV_Q8_0 = KV_EXTENSION };

// Where block b of a row of n values keeps its scale (2 bytes, little-endian f16: q_f16_at reads
// it) and its 32 quants.
static inline const uint8_t *kv_q8_scale_at(const void *row, int b) { return (const uint8_t *)row + 2 * b; }
static inline const int8_t *kv_q8_quants_at(const void *row, int n, int b) {
    return (const int8_t *)row + 2 * (n / QK8_0) + 32 * b;
}

// Registers q8_0 with M4's cache formats (quant_register() calls it). 0, or -1 (message).
int kv_q8_register(void);

// The row kernels: plain C (the reference), and this CPU's SIMD set (NULL: none). The SIMD sets'
// dot products compute the plain C's integer sums and float terms in its order (its bits); their
// value sums widen int8 to f32 and multiply-add in vector lanes: within float rounding of the plain
// C, not bit for bit (labs/m5-quantization/tests/test_kv_q8.c). The cache uses the SIMD set while
// the SIMD policy's SIMD_QUANT family is "on" (shared/simd.h; not "exact": they are lane kernels).
const KVRowKernels *kv_q8_kernels_plain(void);
const KVRowKernels *kv_q8_kernels_simd(void);
// A SIMD set by name ("avx2", "avx512", "neon") when this CPU can run it, whatever the policy (for
// tests and measurements), else NULL. kv_q8_kernels_simd() is the first of "avx512" (unless
// PS_SIMD=avx2), "avx2" and "neon" that the CPU has: AVX-512 needs F, BW, VL and VNNI.
const KVRowKernels *kv_q8_kernels_cpu(const char *name);

// A block of a query head as the dot products use it: d x qs[i] is the query's value, rounded by
// quantize_act (the products' activations: the same bits); mag[i] = |qs[i]| (x86's vpmaddubsw
// multiplies unsigned by signed bytes). A block with a value that is not finite gets d = NaN and
// qs = 0, so its scores are NaN, as an f32 cache would make them (quantize_act's roundf would
// convert NaN to an integer: not defined in C).
typedef struct {
    int8_t qs[32];
    uint8_t mag[32];
    float d;
} KVQ8Query;
// n values of q (a multiple of 32) into n / 32 blocks; with simd, quant_simd_act does the rounding.
void kv_q8_query(KVQ8Query *y, const float *q, int n, bool simd);
// The n_q query heads of one kernel call (n values each, one after the other), prepared once for
// all its rows, into this thread's own buffer (valid until its next call).
const KVQ8Query *kv_q8_prepare_heads(const float *q, int n_q, int n, bool simd);

// The SIMD sets, each in its own file (kv_q8_x86.c, kv_q8_avx512.c, kv_q8_neon.c): internal to
// kv_q8.c's choice.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define KV_Q8_X86 1
extern const KVRowKernels kv_q8_kernels_avx2;     // needs AVX2, FMA and F16C
extern const KVRowKernels kv_q8_kernels_avx512;   // and AVX-512 F, BW, VL and VNNI
// The x86 sets' query heads of a call (len values, a multiple of 32), prepared as kv_q8_query
// does with SIMD, kept in a thread's own buffer while the next call brings the same values; with
// each block's sum of qs, which the AVX-512 keys need (vpdpbusd takes the keys as k + 128).
typedef struct {
    const KVQ8Query *blocks;
    const int32_t *sums;
} KVQ8Prepared;
KVQ8Prepared kv_q8_prepared_x86(const float *q, int len);
// A key kernel for up to `lanes` rows (one per lane) against one prepared head q, or two (q1 not
// NULL): scores[j] and scores[stride + j] for j < n_rows.
typedef void (*KVQ8KeyRows)(float *scores, int stride, const KVQ8Query *q, const int32_t *qsum, const KVQ8Query *q1,
                            const int32_t *qsum1, int n_rows, const void *rows, size_t row_bytes, int n);
// A row kernels' dot_rows through it: the n_q heads prepared once, then `lanes` rows at a time, two
// heads at a time (a last odd head alone). For the x86 key kernels of the 8- and 4-bit caches.
void kv_q8_dots_by_lanes_x86(KVQ8KeyRows key_rows, int lanes, float *scores, int stride, const float *q, int n_q,
                             int n_rows, const void *rows, size_t row_bytes, int n);
// The cache's store with them: a row of n values (a multiple of 32) holding quantize_row_q8_0's
// scales and quants, or false (nothing written) when a value is not finite.
bool kv_q8_store_avx2(void *row, const float *x, int n);
#elif defined(__aarch64__) && defined(__ARM_NEON)
#define KV_Q8_NEON 1
extern const KVRowKernels kv_q8_kernels_neon;
#endif

#endif
