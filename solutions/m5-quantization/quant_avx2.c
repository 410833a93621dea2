// The integer half of the bit-exact quantized products with AVX2 (x86-64), and quantize_act with
// it: see quant_simd.c for how a product splits into this half and the float half, and why the
// result is your plain kernels' to the bit. Compiled on every x86-64 build (the functions carry
// target("avx2")); quant_simd.c calls them only on a CPU that has AVX2.
#include "quant_simd.h"

#include <string.h>

#if PS_SIMD_AVX2
#include <immintrin.h>

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
    // and xq (quant_avx2_narrow: ActBlocks.q8 for Q4A) has the activations in that same order.
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

AVX2_INLINE void chunk_avx2(DType type, const uint8_t *w, const ActBlocks *a, int k0, int n, Chunk *c, size_t ahead) {
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
AVX2 void quant_avx2_narrow(const QuantAct *x, int8_t *q8, int n, bool even_then_odd) {
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
AVX2 void quant_avx2_act(const float *x, QuantAct *y, int n) {
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
AVX2 static void chunk_q8_0_avx2(const uint8_t *w, const ActBlocks *a, int k0, int n, Chunk *c, size_t ahead) {
    chunk_avx2(DT_Q8_0, w, a, k0, n, c, ahead);
}
AVX2 static void chunk_q4_0_avx2(const uint8_t *w, const ActBlocks *a, int k0, int n, Chunk *c, size_t ahead) {
    chunk_avx2(DT_Q4_0, w, a, k0, n, c, ahead);
}
AVX2 static void chunk_q4a_avx2(const uint8_t *w, const ActBlocks *a, int k0, int n, Chunk *c, size_t ahead) {
    chunk_avx2(DT_Q4A, w, a, k0, n, c, ahead);
}

AVX2 void quant_avx2_chunk(DType type, const uint8_t *w, const ActBlocks *a, int k0, int n, Chunk *c, size_t ahead) {
    if (type == DT_Q8_0) chunk_q8_0_avx2(w, a, k0, n, c, ahead);
    else if (type == DT_Q4_0) chunk_q4_0_avx2(w, a, k0, n, c, ahead);
    else chunk_q4a_avx2(w, a, k0, n, c, ahead);
}

#endif
