// The quantized products again, with SIMD intrinsics: AVX2 on x86-64, NEON on arm64, and the
// choice between them and the lane kernels of quant_avx512.c and quant_neon.c, made at run time
// (quant_simd_enabled); PS_SIMD=0 in the environment runs the plain C of quant_dot.c.
//
// Why a second version: the plain kernels are what the lab teaches, and compilers vectorise them
// only with the baseline SIMD of the target (SSE2 on x86-64 unless built with -march), which
// leaves the quantized products compute-bound: they unpack and multiply slower than memory
// delivers the bytes (book/m5-quantization.md, "Measured speed").
//
// The kernels of this file give the same bits as the plain kernels (quant_avx512.c and
// quant_neon.c trade that for speed). Each product has an integer half and a float half:
//   - the integer half (SIMD) computes, per block of 32 weights, the exact int32 sum
//     sum_j q_w[j] * q_x[j]. Integer sums are exact, so any order of additions gives the value
//     of the plain loop. It also computes the block's scales (products of floats are rounded
//     the same one at a time or eight at a time);
//   - the float half (finish_* below) is the plain kernel's own `sum += ...` expression, in plain
//     C in a function without target attributes, so it is compiled with exactly the flags of
//     quant_dot.c: whatever the compiler decides about fusing it into a multiply-add there
//     (clang does on arm64, nobody does on baseline x86-64), it decides here too. The additions
//     run in the plain kernel's order, block after block.
// labs/m5-quantization/tests/test_quant_simd.c checks this on random blocks against your kernels.
#include "quant.h"
#include "simd.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PS_SIMD_AVX2 1
#include <immintrin.h>
#elif defined(__aarch64__) && defined(__ARM_NEON)
#define PS_SIMD_NEON 1
#include <arm_neon.h>
#endif

// A row is processed in chunks of this many activation blocks (8192 weights), so the per-block
// values of a chunk fit in small arrays on the stack whatever the row length.
#define CHUNK 256
// The AVX2 loops ask for the weights this many rows ahead of the ones they multiply: with the
// hardware prefetcher alone, a core spends part of its time waiting for DRAM (measured: up to
// 1.7x slower on one thread of a Xeon VM).
#define PREFETCH_ROWS 4

// What the integer half hands to the float half, per activation block k of a chunk.
typedef struct {
    float isum[CHUNK];    // the exact int32 sum, as a float (exact too: |isum| <= 32 * 127 * 127 < 2^24)
    float scale[CHUNK];   // Q8_0, Q4_0: d_w * d_x. Q4A: the group's scale
    float bias[CHUNK];    // Q4A: the group's bias
} Chunk;

// The activation blocks of one token, with (on x86) a copy of their quants narrowed to int8 (they
// lie in -127..127): AVX2 multiplies bytes twice as fast as int16 (vpmaddubsw), and the block
// sums and scales in arrays of their own, so eight of them are one load.
typedef struct {
    const QuantAct *x;
    const int8_t *q8;      // [blocks][32] (for Q4A in the order of its nibbles: narrow_avx2)
    const int32_t *sum;    // [blocks]
    const float *d;        // [blocks]
} Acts;

// ---- the float half: the plain kernels' expressions, block by block, in their order ----

// These loops must stay scalar, like the plain kernels' loops. clang contracts `sum += a * b` into
// a multiply-add that it may fuse or not (llvm.fmuladd): scalar code fuses it on arm64, but the
// loop vectoriser turns it into a vector multiply and separate, unfused adds (clang 14, arm64:
// 1 ulp off the plain kernel; tools/check-arm64.sh).
#if defined(__clang__)
#define SCALAR_LOOP _Pragma("clang loop vectorize(disable) interleave(disable)")
#else
#define SCALAR_LOOP
#endif

// Q8_0 and Q4_0: the plain kernel's `sum += d_w * d_x * isum`, with d_w * d_x computed ahead
// (it is rounded on its own in the plain expression too).
static float finish_symmetric(float sum, const Chunk *c, int n) {
    SCALAR_LOOP
    for (int k = 0; k < n; k++) sum += c->scale[k] * c->isum[k];
    return sum;
}

// Q4A: the plain kernel's `sum += d_x * (scale * isum + bias * sum_x)`, term for term.
static float finish_q4a(float sum, const Chunk *c, const QuantAct *x, int n) {
    SCALAR_LOOP
    for (int k = 0; k < n; k++) sum += x[k].d * (c->scale[k] * c->isum[k] + c->bias[k] * (float)x[k].sum);
    return sum;
}

// Four rows at once, each with its own sum in its own order: one row's additions depend on each
// other (a chain of float adds, ~3-4 cycles each), four independent chains keep the core busy.
static void finish_symmetric_4(float sum[4], const Chunk c[4], int n) {
    float s0 = sum[0], s1 = sum[1], s2 = sum[2], s3 = sum[3];
    SCALAR_LOOP
    for (int k = 0; k < n; k++) {
        s0 += c[0].scale[k] * c[0].isum[k];
        s1 += c[1].scale[k] * c[1].isum[k];
        s2 += c[2].scale[k] * c[2].isum[k];
        s3 += c[3].scale[k] * c[3].isum[k];
    }
    sum[0] = s0, sum[1] = s1, sum[2] = s2, sum[3] = s3;
}

static void finish_q4a_4(float sum[4], const Chunk c[4], const QuantAct *x, int n) {
    float s0 = sum[0], s1 = sum[1], s2 = sum[2], s3 = sum[3];
    SCALAR_LOOP
    for (int k = 0; k < n; k++) {
        const float xsum = (float)x[k].sum;
        s0 += x[k].d * (c[0].scale[k] * c[0].isum[k] + c[0].bias[k] * xsum);
        s1 += x[k].d * (c[1].scale[k] * c[1].isum[k] + c[1].bias[k] * xsum);
        s2 += x[k].d * (c[2].scale[k] * c[2].isum[k] + c[2].bias[k] * xsum);
        s3 += x[k].d * (c[3].scale[k] * c[3].isum[k] + c[3].bias[k] * xsum);
    }
    sum[0] = s0, sum[1] = s1, sum[2] = s2, sum[3] = s3;
}

// The scales of activation block k0 + k, one block at a time in plain C.
static void scales_plain(DType type, const uint8_t *w, const QuantAct *x, int k0, int k, Chunk *c) {
    if (type == DT_Q4A) {
        const BlockQ4A *g = (const BlockQ4A *)w + (k0 + k) / 2;
        c->scale[k] = q_f16_at(g->scale);
        c->bias[k] = q_f16_at(g->bias);
    } else {
        c->scale[k] = q_f16_at(w + (size_t)(k0 + k) * quant_block_bytes(type)) * x[k0 + k].d;
    }
}

// ---- the integer half (and the scales), for n activation blocks from k0 ----

#if PS_SIMD_AVX2
#define AVX2 __attribute__((target("avx2")))
#define AVX2_INLINE __attribute__((target("avx2"), always_inline)) static inline

// 32 unsigned weights (0..255) times 32 int8 activations: 8 partial int32 sums. vpmaddubsw
// multiplies byte pairs and adds each pair into an int16 (it saturates, but |pair| <= 2 * 128 * 127
// = 32512 < 32767 never does), vpmaddwd by ones adds pairs of those into int32.
AVX2_INLINE __m256i dot32_avx2(__m256i w_unsigned, __m256i x_signed) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w_unsigned, x_signed), _mm256_set1_epi16(1));
}

// The 8 partial sums of activation block k of a row (xq: its 32 int8 quants). `type` is a constant
// where this is inlined, so each format gets its own loop without a branch inside. The 4-bit
// formats give sum_j q_j x_j with q_j = 0..15; for Q4_0 the caller subtracts 8 * sum_j x_j. Only
// loads, shifts, ands and multiplies: Intel cores have one port for shuffles, and the reduction
// below needs it.
AVX2_INLINE __m256i block_avx2(DType type, const uint8_t *w, const int8_t *xq, int k) {
    const __m256i x = _mm256_loadu_si256((const __m256i *)xq), low_nibbles = _mm256_set1_epi8(0x0f);
    if (type == DT_Q8_0) {   // signed weights: |w| times x with w's sign, the usual vpmaddubsw trick
        const __m256i q = _mm256_loadu_si256((const __m256i *)((const BlockQ8_0 *)w + k)->qs);
        return dot32_avx2(_mm256_abs_epi8(q), _mm256_sign_epi8(x, q));
    }
    // 4 bits: the 16 bytes in both halves of a register (a load, no shuffle), the upper half
    // shifted right by 4, then the low nibbles: low half = the low nibbles, upper = the high ones.
    const __m128i *p = type == DT_Q4_0 ? (const __m128i *)((const BlockQ4_0 *)w + k)->qs
                                       : (const __m128i *)(((const BlockQ4A *)w + k / 2)->qs + 16 * (k % 2));
    const __m256i both = _mm256_srlv_epi64(_mm256_broadcastsi128_si256(_mm_loadu_si128(p)), _mm256_setr_epi64x(0, 0, 4, 4));
    // Q4_0: byte j holds weights j (low nibble) and j + 16 (high): that is already their order.
    // Q4A: byte j holds weights 2j and 2j + 1, so the halves hold weights 0 2 4 .. 30 and 1 3 .. 31,
    // and xq (prepare: Acts.q8 for Q4A) has the activations in that same order.
    return dot32_avx2(_mm256_and_si256(both, low_nibbles), x);
}

// Eight vectors of 8 partial sums -> one vector of their 8 totals (a transpose by horizontal adds).
AVX2_INLINE __m256i sum8x8_avx2(__m256i v0, __m256i v1, __m256i v2, __m256i v3, __m256i v4, __m256i v5,
                                __m256i v6, __m256i v7) {
    __m256i a0 = _mm256_hadd_epi32(v0, v1), a1 = _mm256_hadd_epi32(v2, v3);
    __m256i a2 = _mm256_hadd_epi32(v4, v5), a3 = _mm256_hadd_epi32(v6, v7);
    // per 128-bit lane: [v0 v1 v2 v3] and [v4 v5 v6 v7], each summed over that lane's 4 elements
    __m256i b0 = _mm256_hadd_epi32(a0, a1), b1 = _mm256_hadd_epi32(a2, a3);
    return _mm256_add_epi32(_mm256_permute2x128_si256(b0, b1, 0x20), _mm256_permute2x128_si256(b0, b1, 0x31));
}

// Eight halves -> floats, exactly as q_f16_to_f32: the 15 bits of exponent and mantissa moved to a
// float's place, times 2^112, the sign put back; infinities and NaN kept.
AVX2_INLINE __m256 f16x8_avx2(__m128i halves) {
    const __m256i h = _mm256_cvtepu16_epi32(halves);
    const __m256i sign = _mm256_slli_epi32(_mm256_and_si256(h, _mm256_set1_epi32(0x8000)), 16);
    const __m256i rest = _mm256_and_si256(h, _mm256_set1_epi32(0x7fff));
    __m256 f = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_slli_epi32(rest, 13)), _mm256_set1_ps(0x1p112f));
    const __m256i special = _mm256_cmpgt_epi32(rest, _mm256_set1_epi32(0x7bff));   // infinity or NaN
    const __m256i inf_nan = _mm256_or_si256(_mm256_set1_epi32(0x7f800000),
                                            _mm256_slli_epi32(_mm256_and_si256(rest, _mm256_set1_epi32(0x3ff)), 13));
    f = _mm256_blendv_ps(f, _mm256_castsi256_ps(inf_nan), _mm256_castsi256_ps(special));
    return _mm256_or_ps(f, _mm256_castsi256_ps(sign));
}

static inline short half_at(const uint8_t *p) { return (short)(p[0] | p[1] << 8); }

AVX2_INLINE void chunk_avx2(DType type, const uint8_t *w, const Acts *a, int k0, int n, Chunk *c, size_t ahead) {
    const size_t step_bytes = type == DT_Q8_0   ? 8 * sizeof(BlockQ8_0)
                              : type == DT_Q4_0 ? 8 * sizeof(BlockQ4_0)
                                                : 4 * sizeof(BlockQ4A);   // one step: 8 activation blocks
    int k = 0;
    for (; k + 8 <= n; k += 8) {
        const int b = k0 + k;
        if (ahead) {   // the same bytes PREFETCH_ROWS rows further
            const char *next = (const char *)w + (size_t)(b / 8) * step_bytes + ahead;
            for (size_t off = 0; off < step_bytes; off += 64) _mm_prefetch(next + off, _MM_HINT_T0);
        }
        const int8_t *xq = a->q8 + 32 * (size_t)b;
        __m256i isum = sum8x8_avx2(block_avx2(type, w, xq, b), block_avx2(type, w, xq + 32, b + 1),
                                   block_avx2(type, w, xq + 64, b + 2), block_avx2(type, w, xq + 96, b + 3),
                                   block_avx2(type, w, xq + 128, b + 4), block_avx2(type, w, xq + 160, b + 5),
                                   block_avx2(type, w, xq + 192, b + 6), block_avx2(type, w, xq + 224, b + 7));
        if (type == DT_Q4_0)   // the weights were q + 8: sum_j (q_j - 8) x_j = sum_j q_j x_j - 8 sum_j x_j
            isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(a->sum + b)), 3));
        _mm256_storeu_ps(c->isum + k, _mm256_cvtepi32_ps(isum));
        if (type == DT_Q4A) {   // 4 groups, each starting with [scale][bias]
            const BlockQ4A *g = (const BlockQ4A *)w + b / 2;
            const __m256 sb = f16x8_avx2(_mm_setr_epi16(half_at(g[0].scale), half_at(g[0].bias), half_at(g[1].scale),
                                                        half_at(g[1].bias), half_at(g[2].scale), half_at(g[2].bias),
                                                        half_at(g[3].scale), half_at(g[3].bias)));
            _mm256_storeu_ps(c->scale + k, _mm256_permutevar8x32_ps(sb, _mm256_setr_epi32(0, 0, 2, 2, 4, 4, 6, 6)));
            _mm256_storeu_ps(c->bias + k, _mm256_permutevar8x32_ps(sb, _mm256_setr_epi32(1, 1, 3, 3, 5, 5, 7, 7)));
        } else {   // d_w * d_x
            const size_t bb = type == DT_Q8_0 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0);   // a constant
            const uint8_t *d = w + (size_t)b * bb;
            const __m256 dw = f16x8_avx2(_mm_setr_epi16(half_at(d), half_at(d + bb), half_at(d + 2 * bb),
                                                        half_at(d + 3 * bb), half_at(d + 4 * bb), half_at(d + 5 * bb),
                                                        half_at(d + 6 * bb), half_at(d + 7 * bb)));
            _mm256_storeu_ps(c->scale + k, _mm256_mul_ps(dw, _mm256_loadu_ps(a->d + b)));
        }
    }
    for (; k < n; k++) {   // the last blocks of a row, one at a time
        const int b = k0 + k;
        const __m256i v = block_avx2(type, w, a->q8 + 32 * (size_t)b, b);
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));   // + the other 64-bit half
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));   // + the neighbour
        c->isum[k] = (float)(_mm_cvtsi128_si32(s) - (type == DT_Q4_0 ? 8 * a->sum[b] : 0));
        scales_plain(type, w, a->x, k0, k, c);
    }
}

// The int8 copy of n activation blocks: pack 2 x 16 int16 into 32 int8 (vpacksswb works within
// 128-bit lanes, so the 64-bit quarters come out as 0 2 1 3 and are put back in order). For Q4A,
// each block's even-numbered activations first, then the odd ones (the order of its nibbles).
AVX2 static void narrow_avx2(const QuantAct *x, int8_t *q8, int n, bool even_then_odd) {
    for (int k = 0; k < n; k++) {
        const __m256i lo = _mm256_loadu_si256((const __m256i *)x[k].qs), hi = _mm256_loadu_si256((const __m256i *)(x[k].qs + 16));
        int8_t *out = q8 + 32 * (size_t)k;
        _mm256_storeu_si256((__m256i *)out, _mm256_permute4x64_epi64(_mm256_packs_epi16(lo, hi), 0xd8));
        if (even_then_odd) {
            int8_t in_order[32];
            memcpy(in_order, out, 32);
            for (int j = 0; j < 16; j++) out[j] = in_order[2 * j], out[16 + j] = in_order[2 * j + 1];
        }
    }
}

// quantize_act, eight floats at a time, with the same float operations: |x| and their maximum
// (exact), d = amax / 127 and 1 / d (one scalar division each, as in the plain loop), x * (1 / d)
// (a product rounds the same in a vector lane) and roundf: truncate, then move one away from zero
// when the dropped fraction (exact: y - trunc(y)) is at least one half.
AVX2 static void act_avx2(const float *x, QuantAct *y, int n) {
    const __m256 sign_bit = _mm256_set1_ps(-0.0f), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    for (int b = 0; b < n / 32; b++, x += 32) {
        __m256 v[4], m = _mm256_setzero_ps();
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(x + 8 * i);
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign_bit, v[i]));
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
        const float d = _mm_cvtss_f32(m4) / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        __m256i q[4], sum = _mm256_setzero_si256();
        for (int i = 0; i < 4; i++) {
            const __m256 scaled = _mm256_mul_ps(v[i], _mm256_set1_ps(id));
            const __m256 t = _mm256_round_ps(scaled, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            const __m256 away = _mm256_cmp_ps(_mm256_andnot_ps(sign_bit, _mm256_sub_ps(scaled, t)), half, _CMP_GE_OQ);
            const __m256 step = _mm256_and_ps(away, _mm256_or_ps(one, _mm256_and_ps(scaled, sign_bit)));   // +-1 or 0
            q[i] = _mm256_cvttps_epi32(_mm256_add_ps(t, step));
            sum = _mm256_add_epi32(sum, q[i]);
        }
        // int32 -> int16: vpackssdw works within 128-bit lanes; 0xd8 puts the quarters back in order
        _mm256_storeu_si256((__m256i *)y[b].qs, _mm256_permute4x64_epi64(_mm256_packs_epi32(q[0], q[1]), 0xd8));
        _mm256_storeu_si256((__m256i *)(y[b].qs + 16), _mm256_permute4x64_epi64(_mm256_packs_epi32(q[2], q[3]), 0xd8));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
        y[b].d = d;
        y[b].sum = _mm_cvtsi128_si32(s4);
    }
}

// One function per format, so that `type` is a constant inside each.
AVX2 static void chunk_q8_0_avx2(const uint8_t *w, const Acts *a, int k0, int n, Chunk *c, size_t ahead) {
    chunk_avx2(DT_Q8_0, w, a, k0, n, c, ahead);
}
AVX2 static void chunk_q4_0_avx2(const uint8_t *w, const Acts *a, int k0, int n, Chunk *c, size_t ahead) {
    chunk_avx2(DT_Q4_0, w, a, k0, n, c, ahead);
}
AVX2 static void chunk_q4a_avx2(const uint8_t *w, const Acts *a, int k0, int n, Chunk *c, size_t ahead) {
    chunk_avx2(DT_Q4A, w, a, k0, n, c, ahead);
}
#endif

#if PS_SIMD_NEON
// 32 weights (two halves of 16 int8) times 32 int16 activations, summed. With the dot-product
// extension (every Apple chip has it) the activations, which lie in -127..127, are narrowed to
// int8 and sdot does four products per lane; without it, the weights are widened to int16 and
// multiplied and accumulated into int32.
static inline int32_t dot32_neon(int8x16_t w_lo, int8x16_t w_hi, const int16_t *xq) {
    const int16x8_t x0 = vld1q_s16(xq), x1 = vld1q_s16(xq + 8), x2 = vld1q_s16(xq + 16), x3 = vld1q_s16(xq + 24);
#if defined(__ARM_FEATURE_DOTPROD)
    int32x4_t acc = vdotq_s32(vdupq_n_s32(0), w_lo, vmovn_high_s16(vmovn_s16(x0), x1));
    acc = vdotq_s32(acc, w_hi, vmovn_high_s16(vmovn_s16(x2), x3));
#else
    const int16x8_t w0 = vmovl_s8(vget_low_s8(w_lo)), w1 = vmovl_high_s8(w_lo);
    const int16x8_t w2 = vmovl_s8(vget_low_s8(w_hi)), w3 = vmovl_high_s8(w_hi);
    int32x4_t acc = vmull_s16(vget_low_s16(w0), vget_low_s16(x0));
    acc = vmlal_high_s16(acc, w0, x0);
    acc = vmlal_s16(acc, vget_low_s16(w1), vget_low_s16(x1));
    acc = vmlal_high_s16(acc, w1, x1);
    acc = vmlal_s16(acc, vget_low_s16(w2), vget_low_s16(x2));
    acc = vmlal_high_s16(acc, w2, x2);
    acc = vmlal_s16(acc, vget_low_s16(w3), vget_low_s16(x3));
    acc = vmlal_high_s16(acc, w3, x3);
#endif
    return vaddvq_s32(acc);
}

static void chunk_neon(DType type, const uint8_t *w, const Acts *a, int k0, int n, Chunk *c, size_t ahead) {
    (void)ahead;   // not measured on arm64: the plain loads
    const QuantAct *x = a->x;
    const uint8x16_t low_nibbles = vdupq_n_u8(0x0f);
    for (int k = 0; k < n; k++) {
        const int b = k0 + k;
        int8x16_t lo, hi;
        if (type == DT_Q8_0) {
            lo = vld1q_s8(((const BlockQ8_0 *)w)[b].qs);
            hi = vld1q_s8(((const BlockQ8_0 *)w)[b].qs + 16);
        } else if (type == DT_Q4_0) {   // byte j: weight j (low nibble), weight j + 16 (high), +8
            const uint8x16_t q = vld1q_u8(((const BlockQ4_0 *)w)[b].qs);
            lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, low_nibbles)), vdupq_n_s8(8));
            hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), vdupq_n_s8(8));
        } else {   // Q4A: byte j holds weights 2j (low) and 2j + 1 (high); zip puts them in order
            const uint8x16_t q = vld1q_u8(((const BlockQ4A *)w)[b / 2].qs + 16 * (b % 2));
            const uint8x16_t even = vandq_u8(q, low_nibbles), odd = vshrq_n_u8(q, 4);
            lo = vreinterpretq_s8_u8(vzip1q_u8(even, odd));
            hi = vreinterpretq_s8_u8(vzip2q_u8(even, odd));
        }
        c->isum[k] = (float)dot32_neon(lo, hi, x[b].qs);
        scales_plain(type, w, x, k0, k, c);
    }
}
#endif

// ---- which kernel ----

enum { SIMD_NONE = 0, SIMD_AVX2 = 1, SIMD_NEON = 2, SIMD_AVX512 = 3, SIMD_NEON_LANES = 4 };

// The best kernel this CPU runs; with only_exact, the best of those that give your kernels' bits.
// PS_SIMD=avx2 leaves out AVX-512 (make check runs the SIMD tests once more that way).
static int detect(bool only_exact) {
#if PS_SIMD_AVX2
    __builtin_cpu_init();
    if (!only_exact && quant_avx512_supported() && simd_avx512_allowed()) return SIMD_AVX512;
    return __builtin_cpu_supports("avx2") ? SIMD_AVX2 : SIMD_NONE;
#elif PS_SIMD_NEON
    return only_exact ? SIMD_NEON : SIMD_NEON_LANES;   // every arm64 CPU has NEON
#else
    (void)only_exact;
    return SIMD_NONE;
#endif
}

// What this CPU has, decided once (the CPU does not change); the policy (shared/simd.h) picks.
static int best_exact, best_any;
static void detect_once(void) {
    best_exact = detect(true);
    best_any = detect(false);
}

static int kind(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, detect_once);
    switch (simd_level(SIMD_QUANT)) {
    case SIMD_ON: return best_any;
    case SIMD_EXACT: return best_exact;
    default: return SIMD_NONE;
    }
}

void quant_set_simd(bool on) { simd_set_level(SIMD_QUANT, on ? SIMD_ON : SIMD_OFF); }

bool quant_set_simd_exact(void) {
    simd_set_level(SIMD_QUANT, SIMD_EXACT);
    return kind() != SIMD_NONE;
}

bool quant_simd_enabled(void) { return kind() != SIMD_NONE; }
bool quant_simd_exact(void) { return kind() != SIMD_AVX512 && kind() != SIMD_NEON_LANES; }

const char *quant_simd_name(void) {
    switch (kind()) {
    case SIMD_AVX512: return "avx512";
    case SIMD_AVX2: return "avx2";
#if defined(__ARM_FEATURE_DOTPROD)
    case SIMD_NEON: return "neon+dotprod";
    case SIMD_NEON_LANES: return "neon+dotprod lanes";
#else
    case SIMD_NEON: return "neon";
    case SIMD_NEON_LANES: return "neon lanes";
#endif
    default: return "plain C";
    }
}

// ---- the products ----

// ahead: prefetch the bytes that far after the ones read (0: none).
static void chunk(DType type, const uint8_t *w, const Acts *a, int k0, int n, Chunk *c, size_t ahead) {
#if PS_SIMD_AVX2
    if (type == DT_Q8_0) chunk_q8_0_avx2(w, a, k0, n, c, ahead);
    else if (type == DT_Q4_0) chunk_q4_0_avx2(w, a, k0, n, c, ahead);
    else chunk_q4a_avx2(w, a, k0, n, c, ahead);
#elif PS_SIMD_NEON
    chunk_neon(type, w, a, k0, n, c, ahead);
#else
    (void)type, (void)w, (void)a, (void)k0, (void)n, (void)c, (void)ahead;
    abort();   // unreachable: quant_simd_enabled() is false without a SIMD kernel
#endif
}

// Acts for n activation blocks (all the tokens' blocks, one after another). Returns the memory
// to free (NULL when the kernel reads the QuantAct blocks directly).
static void *prepare(DType type, const QuantAct *x, size_t n, Acts *a) {
    *a = (Acts){.x = x};
#if PS_SIMD_AVX2
    uint8_t *mem = malloc(n * (32 + sizeof(int32_t) + sizeof(float)) + 1);
    if (!mem) {
        fprintf(stderr, "quantized product: out of memory (%zu activation blocks)\n", n);
        exit(1);
    }
    int8_t *q8 = (int8_t *)mem;
    int32_t *sum = (int32_t *)(mem + 32 * n);
    float *d = (float *)(mem + 36 * n);
    narrow_avx2(x, q8, (int)n, type == DT_Q4A);
    for (size_t k = 0; k < n; k++) sum[k] = x[k].sum, d[k] = x[k].d;
    *a = (Acts){x, q8, sum, d};
    return mem;
#else
    (void)type, (void)n;
    return NULL;
#endif
}

// The Acts of the blocks from `first` on.
static Acts acts_from(const Acts *a, size_t first) {
    return (Acts){a->x + first, a->q8 ? a->q8 + 32 * first : NULL, a->sum ? a->sum + first : NULL,
                  a->d ? a->d + first : NULL};
}

// One row times one token (n_act_blocks blocks of 32), chunk by chunk; the float sum carries over
// from chunk to chunk, so the additions happen in the plain kernel's order.
static float dot_row(DType type, const uint8_t *w, const Acts *a, int n_act_blocks) {
    Chunk c;
    float sum = 0.0f;
    for (int k0 = 0; k0 < n_act_blocks; k0 += CHUNK) {
        const int n = n_act_blocks - k0 < CHUNK ? n_act_blocks - k0 : CHUNK;
        chunk(type, w, a, k0, n, &c, 0);
        sum = type == DT_Q4A ? finish_q4a(sum, &c, a->x + k0, n) : finish_symmetric(sum, &c, n);
    }
    return sum;
}

// Rows r .. r + 3 times one token, like dot_row.
static void dot_4_rows(float out[4], DType type, const uint8_t *w, size_t row_bytes, const Acts *a,
                       int n_act_blocks) {
    Chunk c[4];
    out[0] = out[1] = out[2] = out[3] = 0.0f;
    for (int k0 = 0; k0 < n_act_blocks; k0 += CHUNK) {
        const int n = n_act_blocks - k0 < CHUNK ? n_act_blocks - k0 : CHUNK;
        for (int i = 0; i < 4; i++) chunk(type, w + i * row_bytes, a, k0, n, &c[i], PREFETCH_ROWS * row_bytes);
        if (type == DT_Q4A) finish_q4a_4(out, c, a->x + k0, n);
        else finish_symmetric_4(out, c, n);
    }
}

void quant_simd_act(const float *x, QuantAct *y, int n) {
#if PS_SIMD_AVX2
    if (kind() == SIMD_AVX2 || kind() == SIMD_AVX512) {
        act_avx2(x, y, n);
        return;
    }
#endif
    quantize_act(x, y, n);   // NEON: the plain loop vectorises well enough (and it is a small cost)
}

float quant_simd_dot(DType type, const void *w_row, const QuantAct *x, int n) {
    if (kind() == SIMD_AVX512 || kind() == SIMD_NEON_LANES) {
        float out;
        quant_simd_rows(&out, x, w_row, type, 1, n, 1, 0, 1);
        return out;
    }
    Acts a;
    void *mem = prepare(type, x, (size_t)n / 32, &a);
    float sum = dot_row(type, w_row, &a, n / 32);
    free(mem);
    return sum;
}

void quant_simd_rows(float *out, const QuantAct *x, const void *w, DType type, int rows, int cols,
                     int n_tokens, int row_begin, int row_end) {
    if (kind() == SIMD_AVX512) {
        quant_avx512_rows(out, x, w, type, rows, cols, n_tokens, row_begin, row_end);
        return;
    }
    if (kind() == SIMD_NEON_LANES) {
        quant_neon_lanes_rows(out, x, w, type, rows, cols, n_tokens, row_begin, row_end);
        return;
    }
    const size_t row_bytes = quant_row_bytes(type, cols);
    const int blocks = cols / 32;
    Acts all;
    void *mem = prepare(type, x, (size_t)n_tokens * blocks, &all);
    int r = row_begin;
    for (; r + 4 <= row_end; r += 4) {
        const uint8_t *w_rows = (const uint8_t *)w + (size_t)r * row_bytes;
        for (int t = 0; t < n_tokens; t++) {
            const Acts a = acts_from(&all, (size_t)t * blocks);
            float four[4];
            dot_4_rows(four, type, w_rows, row_bytes, &a, blocks);
            for (int i = 0; i < 4; i++) out[(size_t)t * rows + r + i] = four[i];
        }
    }
    for (; r < row_end; r++) {
        const uint8_t *w_row = (const uint8_t *)w + (size_t)r * row_bytes;
        for (int t = 0; t < n_tokens; t++) {
            const Acts a = acts_from(&all, (size_t)t * blocks);
            out[(size_t)t * rows + r] = dot_row(type, w_row, &a, blocks);
        }
    }
    free(mem);
}
