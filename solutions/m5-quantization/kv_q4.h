// A KV cache in 4 bits: keys and values stored as Q4_0 blocks (quant.h, the weights' format: the
// same scales and nibbles), a format registered with lab M4's table of cache formats
// (kv_kernels.h) next to q8_0 (kv_q8.h), so `kv_cache_init_as(..., KV_Q4_0)` and `protostar
// generate --kv q4_0` use it (book/m5-quantization.md#kv-q4).
//
// A row of the cache (one key/value head at one position, head_dim values) holds head_dim / 32
// blocks in 18 bytes each, 4.5 bits a value (14% of an f32 cache, 28% of an f16 one, 53% of
// q8_0), laid out for the kernels that read it: the blocks' f16 scales first, one after the other,
// then the blocks' 16 bytes of nibbles (kv_q4_scale_at, kv_q4_nibbles_at). Block b is
// quantize_row_q4_0's block b, its scale and its nibbles moved apart: attention reads 16 rows at a
// time, and with a row's scales side by side one 8-byte load per row brings four blocks' scales,
// where the weights' layout needs one load per row and block. New keys and values are quantized
// by quantize_row_q4_0 as they enter the cache. Keys as in the q8_0 cache: the query head is
// rounded to 8 bits per block of 32 once per call (kv_q8.h's KVQ8Query by quantize_act, prepared
// by kv_q8_prepare_heads; on x86 by kv_q8_prepared_x86, with each block's sum of qs, which the x86
// kernels need), and a block's dot is dq x dk x sum(q8[i] x (k4[i] - 8)), the sum exact in int32,
// the blocks' terms added in order in float. A value is added as w x d x (v4[i] - 8). head_dim
// must be a multiple of 32 (kv_cache_init_as says so otherwise).
#ifndef PS_KV_Q4_H
#define PS_KV_Q4_H

#include <stdbool.h>
#include <stdint.h>

#include "kv_kernels.h"
#include "kv_q8.h"
#include "quant_blocks.h"

enum { KV_Q4_0 = KV_EXTENSION + 1 };

// Where block b of a row of n values keeps its scale (2 bytes, little-endian f16: q_f16_at reads
// it) and its nibbles (16 bytes: byte i holds value i in its low nibble, value i + 16 in its high
// one, as BlockQ4_0's qs).
static inline const uint8_t *kv_q4_scale_at(const void *row, int b) { return (const uint8_t *)row + 2 * b; }
static inline const uint8_t *kv_q4_nibbles_at(const void *row, int n, int b) {
    return (const uint8_t *)row + 2 * (n / QK4_0) + 16 * b;
}

// Registers q4_0 with M4's cache formats (quant_register() calls it). 0, or -1 (message).
int kv_q4_register(void);

// The row kernels: plain C (the reference), and this CPU's SIMD set (NULL: none). As for q8_0:
// the SIMD sets' key dots are the plain C's integer sums and float terms in its order (its bits);
// their value sums multiply-add in vector lanes, within float rounding of the plain C
// (labs/m5-quantization/tests/test_kv_q4.c). The cache uses the SIMD set while the SIMD policy's
// SIMD_QUANT family is "on" (shared/simd.h).
const KVRowKernels *kv_q4_kernels_plain(void);
const KVRowKernels *kv_q4_kernels_simd(void);
// A SIMD set by name ("avx2", "avx512", "neon") when this CPU can run it, whatever the policy (for
// tests and measurements), else NULL. kv_q4_kernels_simd() is the first of "avx512" (unless
// PS_SIMD=avx2), "avx2" and "neon" that the CPU has: AVX-512 needs F, BW, VL and VNNI.
const KVRowKernels *kv_q4_kernels_cpu(const char *name);

// The SIMD sets, each in its own file (kv_q4_x86.c, kv_q4_avx512.c, kv_q4_neon.c): internal to
// kv_q4.c's choice.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define KV_Q4_X86 1
extern const KVRowKernels kv_q4_kernels_avx2;     // needs AVX2, FMA and F16C
extern const KVRowKernels kv_q4_kernels_avx512;   // and AVX-512 F, BW, VL and VNNI (quant_vnni_supported)
// The cache's store with AVX2: a row of n values (a multiple of 32) holding quantize_row_q4_0's
// scales and nibbles, or false (nothing written) when a value is not finite.
bool kv_q4_store_avx2(void *row, const float *x, int n);
#elif defined(__aarch64__) && defined(__ARM_NEON)
#define KV_Q4_NEON 1
extern const KVRowKernels kv_q4_kernels_neon;
#endif

#endif
