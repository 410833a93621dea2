// Your lab's contract, copied by tools/mkskel from solutions/m4-kv-cache/kv_kernels.h (do not edit: make skeletons rewrites it).
// The row kernels of the cache's attention (kv_attention.c): a query head's dot product with one
// cached key, and one cached value added into an output with a weight, for f32 and f16 caches;
// and the f32 <-> f16 conversions that write and read an f16 cache.
//
// Plain C everywhere; AVX2 + FMA + F16C on x86-64 and NEON on arm64 when the CPU has them and the
// SIMD policy (shared/simd.h, family SIMD_ATTN) is "on". An f16 value is IEEE binary16, stored in
// a uint16_t; the conversions round to nearest even, bit for bit the same with and without SIMD.
#ifndef PS_KV_KERNELS_H
#define PS_KV_KERNELS_H

#include <stddef.h>
#include <stdint.h>

// What one element of the cache is. KV_F16 halves the memory (and the bytes attention reads per
// position) at the price of 11 significant bits instead of 24 (book/m4-kv-cache.md#f16-cache).
typedef enum { KV_F32, KV_F16 } KVType;

typedef struct {
    const char *name;   // "avx512", "avx2", "neon" or "plain C"
    // q . row[0..n): row is n floats (KV_F32) or n f16 values (KV_F16)
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

// The kernels for rows of this type that the CPU and the SIMD policy allow now.
const KVRowKernels *kv_row_kernels(KVType type);

// n values from f32 to f16 (round to nearest even; beyond 65504 they become infinities) and back.
void kv_f32_to_f16(uint16_t *dst, const float *src, size_t n);
void kv_f16_to_f32(float *dst, const uint16_t *src, size_t n);
// One value each way, in plain C: the reference the SIMD conversions must equal.
uint16_t kv_half_from_float(float f);
float kv_float_from_half(uint16_t h);

#endif
