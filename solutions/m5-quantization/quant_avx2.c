// The integer half of the bit-exact quantized products with AVX2 (x86-64), and quantize_act with
// it: see quant_simd.c for how a product splits into this half and the float half, and why the
// result is your plain kernels' to the bit. And a prompt's products whole (quant_avx2_gemm, at the
// end): tiles of rows x 8 tokens, float half included, still your kernels' bits. Compiled on every x86-64 build (the functions carry
// target("avx2")); quant_simd.c calls them only on a CPU that has AVX2.
#include "quant_simd.h"
#include "scratch.h"

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
// float's place, times 2^112, the sign put back; infinities and NaN kept (quant_vnni.c's f16x16 is
// the 16-lane twin).
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

// ---- a prompt: R weight rows x G groups of 8 tokens at a time (quant_simd.h: TokenBlock8) ----
//
// Per block of 32 weights: 4 weights of a row are broadcast to all 8 lanes and vpmaddubsw
// multiplies them by 4 quants of each of 8 tokens, so a row's weights are unpacked once for
// G x 8 tokens, and each load of the tokens' quants serves R rows. Every (row, token) pair keeps
// its own float sum in its own lane, and a lane runs the plain kernel's expression block after
// block: the lanes add in parallel, the blocks of one sum never do. So the bits are the plain
// kernel's, and there is no horizontal sum and no scalar loop left.

#define GEMM_ROWS 2     // R: rows of a tile
#define GEMM_GROUPS 2   // G: groups of 8 tokens of a tile
#if defined(__clang__)
#define UNROLL _Pragma("unroll")
#else
#define UNROLL _Pragma("GCC unroll 8")
#endif

static inline int dword_at(const uint8_t *p) {
    int v;
    memcpy(&v, p, sizeof v);
    return v;
}

// scale, bias: [R][blocks], the rows' block scales as floats (bias: Q4A's). out: [R][G][8].
AVX2_INLINE void gemm_tile_avx2(DType type, const uint8_t *w, size_t row_bytes, const float *scale, const float *bias,
                                int blocks, const TokenBlock8 *tb, float *out, const int R, const int G) {
    const __m256i ones = _mm256_set1_epi16(1), low_nibbles = _mm256_set1_epi8(0x0f);
    __m256 acc[GEMM_ROWS][GEMM_GROUPS];
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int g = 0; g < G; g++) acc[r][g] = _mm256_setzero_ps();
    for (int k = 0; k < blocks; k++) {
        __m256i isum[GEMM_ROWS][GEMM_GROUPS];
        UNROLL for (int r = 0; r < R; r++) UNROLL for (int g = 0; g < G; g++) isum[r][g] = _mm256_setzero_si256();
        if (type == DT_Q8_0) {   // |w| times x with w's sign; a pair of products fills an int16, so widen every step
            UNROLL for (int s = 0; s < 8; s++) {
                __m256i wq[GEMM_ROWS], wabs[GEMM_ROWS];
                UNROLL for (int r = 0; r < R; r++) {
                    wq[r] = _mm256_set1_epi32(dword_at(w + r * row_bytes + (size_t)k * sizeof(BlockQ8_0) + 2 + 4 * s));
                    wabs[r] = _mm256_abs_epi8(wq[r]);
                }
                UNROLL for (int g = 0; g < G; g++) {
                    const __m256i x = _mm256_loadu_si256((const __m256i *)tb[(size_t)g * blocks + k].q[s]);
                    UNROLL for (int r = 0; r < R; r++)
                        isum[r][g] = _mm256_add_epi32(isum[r][g],
                                                      _mm256_madd_epi16(_mm256_maddubs_epi16(wabs[r], _mm256_sign_epi8(x, wq[r])), ones));
                }
            }
        } else {   // nibbles 0..15: 16 products of at most 15 * 128 each fit an int16 lane, widened once
            __m256i p16[GEMM_ROWS][GEMM_GROUPS];
            UNROLL for (int r = 0; r < R; r++) UNROLL for (int g = 0; g < G; g++) p16[r][g] = _mm256_setzero_si256();
            UNROLL for (int m = 0; m < 4; m++) {   // 4 bytes of the block: weights 4m.. (low) and 16 + 4m.. (high)
                __m256i lo[GEMM_ROWS], hi[GEMM_ROWS];
                UNROLL for (int r = 0; r < R; r++) {
                    const uint8_t *row = w + r * row_bytes;
                    const uint8_t *qs = type == DT_Q4_0 ? ((const BlockQ4_0 *)row + k)->qs : ((const BlockQ4A *)row + k / 2)->qs + 16 * (k % 2);
                    const __m256i v = _mm256_set1_epi32(dword_at(qs + 4 * m));
                    lo[r] = _mm256_and_si256(v, low_nibbles);
                    hi[r] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low_nibbles);
                }
                UNROLL for (int g = 0; g < G; g++) {
                    const TokenBlock8 *b = &tb[(size_t)g * blocks + k];
                    const __m256i x_lo = _mm256_loadu_si256((const __m256i *)b->q[m]), x_hi = _mm256_loadu_si256((const __m256i *)b->q[m + 4]);
                    UNROLL for (int r = 0; r < R; r++)
                        p16[r][g] = _mm256_add_epi16(p16[r][g], _mm256_add_epi16(_mm256_maddubs_epi16(lo[r], x_lo),
                                                                                 _mm256_maddubs_epi16(hi[r], x_hi)));
                }
            }
            UNROLL for (int r = 0; r < R; r++) UNROLL for (int g = 0; g < G; g++) isum[r][g] = _mm256_madd_epi16(p16[r][g], ones);
        }
        // The float half, in lanes: the plain kernels' expressions term for term (separate
        // multiplies and adds: this function's target has no FMA, as quant_dot.c's has none).
        UNROLL for (int g = 0; g < G; g++) {
            const TokenBlock8 *b = &tb[(size_t)g * blocks + k];
            const __m256 dx = _mm256_loadu_ps(b->d);
            const __m256i sum_x = _mm256_loadu_si256((const __m256i *)b->sum);
            UNROLL for (int r = 0; r < R; r++) {
                const float s = scale[(size_t)r * blocks + k];
                if (type == DT_Q4A) {   // sum += d_x * (scale * isum + bias * sum_x)
                    const __m256 inner = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(s), _mm256_cvtepi32_ps(isum[r][g])),
                                                       _mm256_mul_ps(_mm256_set1_ps(bias[(size_t)r * blocks + k]), _mm256_cvtepi32_ps(sum_x)));
                    acc[r][g] = _mm256_add_ps(acc[r][g], _mm256_mul_ps(dx, inner));
                } else {   // sum += d_w * d_x * isum; Q4_0's weights were q + 8: minus 8 * sum_x
                    const __m256i exact = type == DT_Q4_0 ? _mm256_sub_epi32(isum[r][g], _mm256_slli_epi32(sum_x, 3)) : isum[r][g];
                    acc[r][g] = _mm256_add_ps(acc[r][g], _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(s), dx), _mm256_cvtepi32_ps(exact)));
                }
            }
        }
    }
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int g = 0; g < G; g++) _mm256_storeu_ps(out + 8 * (r * G + g), acc[r][g]);
}

typedef void (*GemmTile)(const uint8_t *w, size_t row_bytes, const float *scale, const float *bias, int blocks,
                         const TokenBlock8 *tb, float *out);
#define GEMM_FN(fmt, type, R, G)                                                                               \
    AVX2 static void gemm_##fmt##_##R##x##G(const uint8_t *w, size_t row_bytes, const float *scale, const float *bias, \
                                            int blocks, const TokenBlock8 *tb, float *out) {                   \
        gemm_tile_avx2(type, w, row_bytes, scale, bias, blocks, tb, out, R, G);                                  \
    }
GEMM_FN(q8_0, DT_Q8_0, 1, 1) GEMM_FN(q8_0, DT_Q8_0, 1, 2) GEMM_FN(q8_0, DT_Q8_0, 2, 1) GEMM_FN(q8_0, DT_Q8_0, 2, 2)
GEMM_FN(q4_0, DT_Q4_0, 1, 1) GEMM_FN(q4_0, DT_Q4_0, 1, 2) GEMM_FN(q4_0, DT_Q4_0, 2, 1) GEMM_FN(q4_0, DT_Q4_0, 2, 2)
GEMM_FN(q4a, DT_Q4A, 1, 1) GEMM_FN(q4a, DT_Q4A, 1, 2) GEMM_FN(q4a, DT_Q4A, 2, 1) GEMM_FN(q4a, DT_Q4A, 2, 2)
#undef GEMM_FN

// [format][R - 1][G - 1]
static const GemmTile GEMM_TILES[3][2][2] = {
    {{gemm_q8_0_1x1, gemm_q8_0_1x2}, {gemm_q8_0_2x1, gemm_q8_0_2x2}},
    {{gemm_q4_0_1x1, gemm_q4_0_1x2}, {gemm_q4_0_2x1, gemm_q4_0_2x2}},
    {{gemm_q4a_1x1, gemm_q4a_1x2}, {gemm_q4a_2x1, gemm_q4a_2x2}},
};

// The block scales of n rows as floats (bias: Q4A's), eight at a time as f16x8_avx2 converts
// them, which is q_f16_to_f32 bit for bit.
AVX2_INLINE void row_scales_avx2(DType type, const uint8_t *w, size_t row_bytes, int n, int blocks, float *scale, float *bias) {
    for (int r = 0; r < n; r++, w += row_bytes, scale += blocks, bias += blocks) {
        int k = 0;
        for (; k + 8 <= blocks; k += 8) {
            if (type == DT_Q4A) {   // blocks k, k + 1 share group k / 2
                const BlockQ4A *g = (const BlockQ4A *)w + k / 2;
                _mm256_storeu_ps(scale + k, f16x8_avx2(_mm_setr_epi16(half_at(g[0].scale), half_at(g[0].scale), half_at(g[1].scale),
                                                                     half_at(g[1].scale), half_at(g[2].scale), half_at(g[2].scale),
                                                                     half_at(g[3].scale), half_at(g[3].scale))));
                _mm256_storeu_ps(bias + k, f16x8_avx2(_mm_setr_epi16(half_at(g[0].bias), half_at(g[0].bias), half_at(g[1].bias),
                                                                    half_at(g[1].bias), half_at(g[2].bias), half_at(g[2].bias),
                                                                    half_at(g[3].bias), half_at(g[3].bias))));
            } else {
                const size_t bb = type == DT_Q8_0 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0);
                const uint8_t *d = w + (size_t)k * bb;
                _mm256_storeu_ps(scale + k, f16x8_avx2(_mm_setr_epi16(half_at(d), half_at(d + bb), half_at(d + 2 * bb), half_at(d + 3 * bb),
                                                                     half_at(d + 4 * bb), half_at(d + 5 * bb), half_at(d + 6 * bb),
                                                                     half_at(d + 7 * bb))));
            }
        }
        for (; k < blocks; k++) {
            if (type == DT_Q4A) {
                const BlockQ4A *g = (const BlockQ4A *)w + k / 2;
                scale[k] = q_f16_at(g->scale);
                bias[k] = q_f16_at(g->bias);
            } else {
                scale[k] = q_f16_at(w + (size_t)k * (type == DT_Q8_0 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0)));
            }
        }
    }
}

AVX2 static void row_scales(DType type, const uint8_t *w, size_t row_bytes, int n, int blocks, float *scale, float *bias) {
    if (type == DT_Q8_0) row_scales_avx2(DT_Q8_0, w, row_bytes, n, blocks, scale, bias);
    else if (type == DT_Q4_0) row_scales_avx2(DT_Q4_0, w, row_bytes, n, blocks, scale, bias);
    else row_scales_avx2(DT_Q4A, w, row_bytes, n, blocks, scale, bias);
}

// Cache blocking: a panel of rows (about this many bytes) stays in L2 while the prompt's tokens
// pass over it in blocks of groups (about this many bytes of TokenBlock8), each of which stays in
// L1 while every row of the panel passes over it. The weights come from DRAM once per product.
#define GEMM_PANEL_BYTES (192 * 1024)
#define GEMM_TOKEN_BYTES (20 * 1024)

AVX2 void quant_avx2_gemm(DType type, const uint8_t *w, int rows, int cols, const TokenBlock8 *tiles, int n_tokens,
                          int row_begin, int row_end, float *out) {
    const int blocks = cols / 32, groups = (n_tokens + GEMM_TOKENS - 1) / GEMM_TOKENS;
    const size_t row_bytes = quant_row_bytes(type, cols);
    const int fmt = type == DT_Q8_0 ? 0 : type == DT_Q4_0 ? 1 : 2;
    int panel_rows = (int)(GEMM_PANEL_BYTES / row_bytes) & ~(GEMM_ROWS - 1);
    if (panel_rows < GEMM_ROWS) panel_rows = GEMM_ROWS;
    int group_block = (int)(GEMM_TOKEN_BYTES / ((size_t)blocks * sizeof(TokenBlock8)));
    if (group_block < GEMM_GROUPS) group_block = GEMM_GROUPS;
    static _Thread_local Scratch scales_scratch;   // each thread's, grown once: a panel's scales
    float *scale = scratch_reserve(&scales_scratch, 2 * (size_t)panel_rows * blocks * sizeof(float));
    float *bias = scale + (size_t)panel_rows * blocks;
    for (int p0 = row_begin; p0 < row_end; p0 += panel_rows) {
        const int p1 = row_end - p0 < panel_rows ? row_end : p0 + panel_rows;
        row_scales(type, w + (size_t)p0 * row_bytes, row_bytes, p1 - p0, blocks, scale, bias);
        for (int g0 = 0; g0 < groups; g0 += group_block) {
            const int g1 = groups - g0 < group_block ? groups : g0 + group_block;
            for (int r = p0; r < p1; r += GEMM_ROWS) {
                const int R = p1 - r < GEMM_ROWS ? p1 - r : GEMM_ROWS;
                const uint8_t *w_rows = w + (size_t)r * row_bytes;
                const size_t first = (size_t)(r - p0) * blocks;
                for (int g = g0; g < g1; g += GEMM_GROUPS) {
                    const int G = g1 - g < GEMM_GROUPS ? g1 - g : GEMM_GROUPS;
                    float tile[GEMM_ROWS * GEMM_GROUPS * GEMM_TOKENS];
                    GEMM_TILES[fmt][R - 1][G - 1](w_rows, row_bytes, scale + first, bias + first, blocks,
                                                  tiles + (size_t)g * blocks, tile);
                    for (int i = 0; i < R; i++)
                        for (int j = 0; j < G; j++)
                            for (int lane = 0; lane < GEMM_TOKENS; lane++) {
                                const int t = (g + j) * GEMM_TOKENS + lane;
                                if (t < n_tokens) out[(size_t)t * rows + r + i] = tile[(i * G + j) * GEMM_TOKENS + lane];
                            }
                }
            }
        }
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
