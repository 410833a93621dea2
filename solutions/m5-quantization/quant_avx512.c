// The quantized products with AVX-512 (x86-64 CPUs with VNNI and VBMI: Intel since Ice Lake, AMD
// since Zen 4), chosen at run time by quant_simd.c. The fastest kernels here, and the only ones
// that do not give your kernels' bits: they add in vector lanes.
//
// Why it pays: a 4-bit block of 32 weights is 18 bytes, which DRAM delivers in about two cycles
// of one core. The bit-exact AVX2 kernels spend four: their float half adds one block after the
// other, as your loop does. Here nothing is scalar. Per step of 8 activation blocks (256 weights):
//   1. the step's bytes are loaded as 64-byte registers; vpermt2b (a byte shuffle across two
//      registers, from a table) pulls out the 8 scales and the quants, blocks side by side
//      (Q8_0's quants, 32 bytes a block, are loaded directly);
//   2. vpdpbusd multiplies unsigned weight bytes by signed activation bytes and adds groups of
//      four into 32-bit lanes: each block's integer sum ends up spread over 4 or 8 lanes, exact;
//   3. the lanes become floats and are multiplied by their block's d_w * d_x, then added into
//      two accumulators of 16 lanes, which are summed only at the end of the row.
// So the result differs from your kernel's by rounding only: the same terms, other additions.
// labs/m5-quantization/tests/test_quant_simd.c bounds the difference (quant_simd_exact()).
//
// The activations are rearranged once per token (prepare) into the order the quants come out of
// the shuffles, with the integer corrections (Q8_0's +128, Q4_0's -8) folded into the lanes'
// starting values, so the per-row loop does nothing else. quant_matmul prepares them once, its
// threads each taking some of the tokens, and every thread's rows read them (rows_prepared).
// A prompt's tokens go through a row four at a time, sharing the unpacking of its weights.
#include "quant.h"
#include "scratch.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi,avx2,fma,f16c")))
#define AVX512_INLINE AVX512 __attribute__((always_inline)) static inline

// Every CPU with AVX-512 also has FMA and F16C (and clang 14 cannot ask for "f16c" here).
bool quant_avx512_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
           __builtin_cpu_supports("avx512vbmi");
}

#define STEP 8            // activation blocks per step
// Weights are asked for this far ahead of the ones being multiplied: the hardware prefetcher
// alone leaves one core waiting on DRAM part of the time (measured: 1.5x slower on Zen 4; 4 KiB
// ahead was 10% slower than 8, 16 KiB no better).
#define PREFETCH_BYTES 8192

// Lanes per activation block after vpdpbusd: a Q8_0 register holds 2 blocks (16 lanes), a 4-bit
// register the low or high nibbles of 4 blocks.
static int lanes_per_block(DType type) { return type == DT_Q8_0 ? 8 : 4; }

// ---- shuffle tables: byte i of the result is byte TABLE[i] of the pair of registers ----
#define R4(a) (a), (a) + 1, (a) + 2, (a) + 3
#define R16(a) R4(a), R4((a) + 4), R4((a) + 8), R4((a) + 12)
#define HALF(a) (a), (a) + 1   // the two bytes of an f16

// Q4_0 (18-byte blocks at 18k: [d][16 bytes]): quants of blocks 0-3 from registers 0:1, of
// blocks 4-7 from registers 1:2 (offsets then count from byte 64), scales from registers 0:1.
static const uint8_t Q4_0_QA[64] = {R16(2), R16(20), R16(38), R16(56)};
static const uint8_t Q4_0_QB[64] = {R16(74 - 64), R16(92 - 64), R16(110 - 64), R16(128 - 64)};
static const uint8_t Q4_0_D[64] = {HALF(0), HALF(18), HALF(36), HALF(54), HALF(72), HALF(90), HALF(108), HALF(126)};
// Q4A (36-byte groups at 36g: [scale][bias][32 bytes]; a group is two activation blocks): the
// same two quant tables for groups 0-1 and 2-3, and the 4 scales then the 4 biases.
static const uint8_t Q4A_QA[64] = {R16(4), R16(20), R16(40), R16(56)};
static const uint8_t Q4A_QB[64] = {R16(76 - 64), R16(92 - 64), R16(112 - 64), R16(128 - 64)};
static const uint8_t Q4A_SB[64] = {HALF(0), HALF(36), HALF(72), HALF(108), HALF(2), HALF(38), HALF(74), HALF(110)};
// Q8_0 (34-byte blocks at 34k: [d][32 bytes]): 4 scales from registers 0:1, 4 from registers
// 2:3 (whose first byte is byte 128). Its quants are loaded directly (q8_0_pair).
static const uint8_t Q8_0_DA[64] = {HALF(0), HALF(34), HALF(68), HALF(102)};
static const uint8_t Q8_0_DB[64] = {HALF(136 - 128), HALF(170 - 128), HALF(204 - 128), HALF(238 - 128)};

// 64 bytes from p, of which only `avail` (may be <= 0) exist: the rest reads as zero. Masked
// bytes are never touched, so the last row of a matrix is not read past its end.
AVX512_INLINE __m512i load64(const uint8_t *p, long avail) {
    if (avail >= 64) return _mm512_loadu_si512(p);
    if (avail <= 0) return _mm512_setzero_si512();
    return _mm512_maskz_loadu_epi8(((__mmask64)1 << avail) - 1, p);
}

AVX512_INLINE __m512i table(const uint8_t t[64]) { return _mm512_loadu_si512(t); }

// Elements first, first + 1, ... of v (one per block), each repeated over its block's 4 (or 8) lanes.
AVX512_INLINE __m512 spread(__m256 v, int first, int per_block) {
    const __m512i idx = per_block == 4 ? _mm512_setr_epi32(first, first, first, first, first + 1, first + 1, first + 1,
                                                           first + 1, first + 2, first + 2, first + 2, first + 2,
                                                           first + 3, first + 3, first + 3, first + 3)
                                       : _mm512_setr_epi32(first, first, first, first, first, first, first, first,
                                                           first + 1, first + 1, first + 1, first + 1, first + 1,
                                                           first + 1, first + 1, first + 1);
    return _mm512_permutexvar_ps(idx, _mm512_castps256_ps512(v));
}

// ---- the prepared activations of one token ----
typedef struct {
    const int8_t *q;      // [steps][256]: quants in the order the shuffles produce the weights
    const int32_t *init;  // [steps][8 * lanes]: each lane's starting value (the integer corrections)
    const float *dx;      // [steps][8]: the blocks' scales d_x
    const float *dxsx;    // [steps][8]: d_x * sum of the block's quants (Q4A's bias term)
} Prep;

// The order of 4 blocks' activations for the 4-bit formats: 16 of each block whose weights are in
// the low nibbles, blocks side by side, then the 16 in the high nibbles. Q4_0: elements 0-15 and
// 16-31; Q4A (byte j holds weights 2j and 2j+1): the even and the odd elements.
static void arrange_4bit(const QuantAct *x, int8_t out[128], bool even_odd) {
    for (int b = 0; b < 4; b++)
        for (int j = 0; j < 16; j++) {
            out[16 * b + j] = (int8_t)x[b].qs[even_odd ? 2 * j : j];
            out[64 + 16 * b + j] = (int8_t)x[b].qs[even_odd ? 2 * j + 1 : j + 16];
        }
}

static size_t prep_bytes(DType type, int steps) {
    return (size_t)steps * STEP * (32 + 4 * (size_t)lanes_per_block(type) + 4 + 4);
}

// Where a Prep of `steps` steps lies in mem (prep_bytes of it).
static Prep prep_view(DType type, int steps, void *mem) {
    const int lanes = lanes_per_block(type), padded = steps * STEP;
    int8_t *q = mem;
    int32_t *init = (int32_t *)(q + (size_t)padded * 32);
    float *dx = (float *)(init + (size_t)padded * lanes), *dxsx = dx + padded;
    return (Prep){q, init, dx, dxsx};
}

// Prep for n_blocks activation blocks (zero blocks pad them to whole steps) in `mem`.
static void prepare(DType type, const QuantAct *x, int n_blocks, int steps, void *mem) {
    const int padded = steps * STEP;
    const Prep view = prep_view(type, steps, mem);
    int8_t *q = (int8_t *)view.q;
    int32_t *init = (int32_t *)view.init;
    float *dx = (float *)view.dx, *dxsx = (float *)view.dxsx;
    memset(mem, 0, prep_bytes(type, steps));
    for (int b = 0; b < n_blocks; b++) {
        dx[b] = x[b].d;
        dxsx[b] = x[b].d * (float)x[b].sum;
        if (type == DT_Q8_0)
            for (int j = 0; j < 32; j++) q[32 * b + j] = (int8_t)x[b].qs[j];
    }
    if (type != DT_Q8_0)
        for (int b = 0; b < n_blocks; b += 4) {
            QuantAct four[4] = {{0}};
            memcpy(four, x + b, (size_t)(n_blocks - b < 4 ? n_blocks - b : 4) * sizeof *x);
            arrange_4bit(four, q + 32 * b, type == DT_Q4A);
        }
    // Q8_0 multiplies q_w + 128 by x, Q4_0's nibbles are q_w + 8: each lane starts at minus what
    // that adds to it, minus 128 (or 8) times the sum of its own activations. (Taking it off the
    // block's total in one lane would also be exact, but then the lanes become large numbers that
    // cancel, and the float sums lose precision.) Lane i of a Q8_0 step multiplies bytes 4i..4i+3
    // of its activations; lane i of a 4-bit step's half h (16 lanes) bytes 4i..4i+3 of the low and
    // of the high nibbles' activations, at 128h and 128h + 64.
    if (type == DT_Q8_0)
        for (int i = 0; i < padded * 8; i++) init[i] = -128 * (q[4 * i] + q[4 * i + 1] + q[4 * i + 2] + q[4 * i + 3]);
    if (type == DT_Q4_0)
        for (int s = 0; s < steps; s++)
            for (int h = 0; h < 2; h++)
                for (int i = 0; i < 16; i++) {
                    const int8_t *low = q + 256 * s + 128 * h + 4 * i, *high = low + 64;
                    init[32 * s + 16 * h + i] = -8 * (low[0] + low[1] + low[2] + low[3] + high[0] + high[1] + high[2] + high[3]);
                }
}


// ---- one row times T tokens (T <= TOKENS_MAX, a constant where inlined); `bytes` = the row's
// bytes. A prompt's tokens share each step's unpacking of the weights (the loads, the byte
// shuffles, the scales' conversion); each token then runs exactly the operations of a token alone
// (the same vpdpbusd, the same d_w * d_x, the same two accumulators), so its result has the same
// bits in a prompt as in a decode step. ----

#define TOKENS_MAX 4

AVX512_INLINE void rows_q4_0(const uint8_t *w, long bytes, const Prep *a, int steps, float *out, const int T) {
    const __m512i nib = _mm512_set1_epi8(0x0f), ta = table(Q4_0_QA), tb = table(Q4_0_QB), td = table(Q4_0_D);
    __m512 acc0[TOKENS_MAX], acc1[TOKENS_MAX];
    for (int j = 0; j < T; j++) acc0[j] = acc1[j] = _mm512_setzero_ps();
    for (int s = 0; s < steps; s++, w += 144, bytes -= 144) {
        for (int off = 0; off < 144; off += 64) _mm_prefetch((const char *)w + PREFETCH_BYTES + off, _MM_HINT_T0);
        const __m512i z0 = load64(w, bytes), z1 = load64(w + 64, bytes - 64), z2 = load64(w + 128, bytes - 128);
        const __m256 dw = _mm256_cvtph_ps(_mm512_castsi512_si128(_mm512_permutex2var_epi8(z0, td, z1)));
        const __m512i qa = _mm512_permutex2var_epi8(z0, ta, z1), qb = _mm512_permutex2var_epi8(z1, tb, z2);
        const __m512i qa_lo = _mm512_and_si512(qa, nib), qa_hi = _mm512_and_si512(_mm512_srli_epi16(qa, 4), nib);
        const __m512i qb_lo = _mm512_and_si512(qb, nib), qb_hi = _mm512_and_si512(_mm512_srli_epi16(qb, 4), nib);
        for (int j = 0; j < T; j++) {
            const int8_t *x = a[j].q + 256 * (size_t)s;
            const int32_t *init = a[j].init + 32 * (size_t)s;
            __m512i sa = _mm512_dpbusd_epi32(_mm512_loadu_si512(init), qa_lo, _mm512_loadu_si512(x));
            sa = _mm512_dpbusd_epi32(sa, qa_hi, _mm512_loadu_si512(x + 64));
            __m512i sb = _mm512_dpbusd_epi32(_mm512_loadu_si512(init + 16), qb_lo, _mm512_loadu_si512(x + 128));
            sb = _mm512_dpbusd_epi32(sb, qb_hi, _mm512_loadu_si512(x + 192));
            const __m256 scale = _mm256_mul_ps(dw, _mm256_loadu_ps(a[j].dx + 8 * (size_t)s));   // d_w * d_x
            acc0[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sa), spread(scale, 0, 4), acc0[j]);
            acc1[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sb), spread(scale, 4, 4), acc1[j]);
        }
    }
    for (int j = 0; j < T; j++) out[j] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[j], acc1[j]));
}

// Q4A: x = scale * q + bias, so a block adds d_x * (scale * sum q q_x + bias * sum q_x). The
// first part goes through the lanes like Q4_0; the bias part is one product per block.
AVX512_INLINE void rows_q4a(const uint8_t *w, long bytes, const Prep *a, int steps, float *out, const int T) {
    const __m512i nib = _mm512_set1_epi8(0x0f), ta = table(Q4A_QA), tb = table(Q4A_QB), tsb = table(Q4A_SB);
    const __m256i bias_of_block = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
    __m512 acc0[TOKENS_MAX], acc1[TOKENS_MAX];
    __m256 acc_bias[TOKENS_MAX];
    for (int j = 0; j < T; j++) acc0[j] = acc1[j] = _mm512_setzero_ps(), acc_bias[j] = _mm256_setzero_ps();
    for (int s = 0; s < steps; s++, w += 144, bytes -= 144) {
        for (int off = 0; off < 144; off += 64) _mm_prefetch((const char *)w + PREFETCH_BYTES + off, _MM_HINT_T0);
        const __m512i z0 = load64(w, bytes), z1 = load64(w + 64, bytes - 64), z2 = load64(w + 128, bytes - 128);
        // [scale of group 0..3][bias of group 0..3]; activation block k belongs to group k / 2
        const __m256 sb = _mm256_cvtph_ps(_mm512_castsi512_si128(_mm512_permutex2var_epi8(z0, tsb, z1)));
        const __m256 group_scale = _mm256_permutevar8x32_ps(sb, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
        const __m256 bias = _mm256_permutevar8x32_ps(sb, bias_of_block);
        const __m512i qa = _mm512_permutex2var_epi8(z0, ta, z1), qb = _mm512_permutex2var_epi8(z1, tb, z2);
        const __m512i qa_lo = _mm512_and_si512(qa, nib), qa_hi = _mm512_and_si512(_mm512_srli_epi16(qa, 4), nib);
        const __m512i qb_lo = _mm512_and_si512(qb, nib), qb_hi = _mm512_and_si512(_mm512_srli_epi16(qb, 4), nib);
        for (int j = 0; j < T; j++) {
            const __m256 scale = _mm256_mul_ps(group_scale, _mm256_loadu_ps(a[j].dx + 8 * (size_t)s));   // scale * d_x
            const int8_t *x = a[j].q + 256 * (size_t)s;
            __m512i sa = _mm512_dpbusd_epi32(_mm512_setzero_si512(), qa_lo, _mm512_loadu_si512(x));
            sa = _mm512_dpbusd_epi32(sa, qa_hi, _mm512_loadu_si512(x + 64));
            __m512i sbq = _mm512_dpbusd_epi32(_mm512_setzero_si512(), qb_lo, _mm512_loadu_si512(x + 128));
            sbq = _mm512_dpbusd_epi32(sbq, qb_hi, _mm512_loadu_si512(x + 192));
            acc0[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sa), spread(scale, 0, 4), acc0[j]);
            acc1[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sbq), spread(scale, 4, 4), acc1[j]);
            acc_bias[j] = _mm256_fmadd_ps(bias, _mm256_loadu_ps(a[j].dxsx + 8 * (size_t)s), acc_bias[j]);
        }
    }
    for (int j = 0; j < T; j++)
        out[j] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0[j], acc1[j]), _mm512_castps256_ps512(acc_bias[j])));
}

// The quants of blocks 2p and 2p + 1 of a Q8_0 step (w: the step's bytes), side by side: two
// 32-byte loads (cheaper than a shuffle here), made unsigned: q_w + 128 (q_w >= -127).
AVX512_INLINE __m512i q8_0_quants(int p, const uint8_t *w) {
    const __m256i *first = (const __m256i *)(w + 68 * p + 2), *second = (const __m256i *)(w + 68 * p + 36);
    const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(first)), _mm256_loadu_si256(second), 1);
    return _mm512_xor_si512(q, _mm512_set1_epi8((char)0x80));
}

// Those blocks times their activations, added to acc: 16 lanes, 8 per block; init takes the
// 128 * sum q_x back off.
AVX512_INLINE __m512 q8_0_pair(int p, __m512i q, __m256 scale, const int8_t *x, const int32_t *init, __m512 acc) {
    const __m512i isum = _mm512_dpbusd_epi32(_mm512_loadu_si512(init + 16 * p), q, _mm512_loadu_si512(x + 64 * p));
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), spread(scale, 2 * p, 8), acc);
}

AVX512_INLINE void rows_q8_0(const uint8_t *w, long bytes, const Prep *a, int steps, float *out, const int T) {
    const __m512i tda = table(Q8_0_DA), tdb = table(Q8_0_DB);
    __m512 acc0[TOKENS_MAX], acc1[TOKENS_MAX];
    for (int j = 0; j < T; j++) acc0[j] = acc1[j] = _mm512_setzero_ps();
    for (int s = 0; s < steps; s++, w += 272, bytes -= 272) {
        for (int off = 0; off < 272; off += 64) _mm_prefetch((const char *)w + PREFETCH_BYTES + off, _MM_HINT_T0);
        const __m512i z0 = load64(w, bytes), z1 = load64(w + 64, bytes - 64), z2 = load64(w + 128, bytes - 128),
                      z3 = load64(w + 192, bytes - 192);
        const __m128i halves = _mm_unpacklo_epi64(_mm512_castsi512_si128(_mm512_permutex2var_epi8(z0, tda, z1)),
                                                  _mm512_castsi512_si128(_mm512_permutex2var_epi8(z2, tdb, z3)));
        const __m256 dw = _mm256_cvtph_ps(halves);
        if (bytes < 272) {   // the row's last blocks: load only those, through the masked loads
            const __m512i z4 = load64(w + 256, bytes - 256);
            uint8_t last[272 + 64];
            _mm512_storeu_si512(last, z0), _mm512_storeu_si512(last + 64, z1), _mm512_storeu_si512(last + 128, z2);
            _mm512_storeu_si512(last + 192, z3), _mm512_storeu_si512(last + 256, z4);
            const __m512i q[4] = {q8_0_quants(0, last), q8_0_quants(1, last), q8_0_quants(2, last), q8_0_quants(3, last)};
            for (int j = 0; j < T; j++) {
                const __m256 scale = _mm256_mul_ps(dw, _mm256_loadu_ps(a[j].dx + 8 * (size_t)s));
                const int8_t *x = a[j].q + 256 * (size_t)s;
                const int32_t *init = a[j].init + 64 * (size_t)s;
                for (int p = 0; p < 4; p++) acc0[j] = q8_0_pair(p, q[p], scale, x, init, acc0[j]);
            }
            break;
        }
        const __m512i q0 = q8_0_quants(0, w), q1 = q8_0_quants(1, w), q2 = q8_0_quants(2, w), q3 = q8_0_quants(3, w);
        for (int j = 0; j < T; j++) {
            const __m256 scale = _mm256_mul_ps(dw, _mm256_loadu_ps(a[j].dx + 8 * (size_t)s));
            const int8_t *x = a[j].q + 256 * (size_t)s;
            const int32_t *init = a[j].init + 64 * (size_t)s;
            acc0[j] = q8_0_pair(0, q0, scale, x, init, acc0[j]);
            acc1[j] = q8_0_pair(1, q1, scale, x, init, acc1[j]);
            acc0[j] = q8_0_pair(2, q2, scale, x, init, acc0[j]);
            acc1[j] = q8_0_pair(3, q3, scale, x, init, acc1[j]);
        }
    }
    for (int j = 0; j < T; j++) out[j] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[j], acc1[j]));
}

// One function per format and token count, so that both are constants inside.
#define ROWS_FN(fmt, T)                                                                                        \
    AVX512 static void fmt##_x##T(const uint8_t *w, long bytes, const Prep *a, int steps, float *out) {       \
        rows_##fmt(w, bytes, a, steps, out, T);                                                              \
    }
ROWS_FN(q4_0, 1) ROWS_FN(q4_0, 4) ROWS_FN(q4a, 1) ROWS_FN(q4a, 4) ROWS_FN(q8_0, 1) ROWS_FN(q8_0, 4)
#undef ROWS_FN

typedef void (*RowsFn)(const uint8_t *w, long bytes, const Prep *a, int steps, float *out);

// Rows are taken in blocks of about this many bytes: a block and TOKENS_MAX tokens' activations
// stay in L1 while every tile of tokens passes over the block.
#define ROW_BLOCK_BYTES 16384

static int steps_of(int cols) { return (cols / 32 + STEP - 1) / STEP; }

size_t quant_avx512_prep_bytes(DType type, int cols) { return prep_bytes(type, steps_of(cols)); }

void quant_avx512_prepare(DType type, const QuantAct *x, int cols, void *mem) {
    prepare(type, x, cols / 32, steps_of(cols), mem);
}

void quant_avx512_rows_prepared(float *out, const void *acts, const void *w, DType type, int rows, int cols,
                                int n_tokens, int row_begin, int row_end) {
    const int steps = steps_of(cols);
    const size_t one = prep_bytes(type, steps);
    static _Thread_local Scratch prep_scratch;   // each thread's, grown once (scratch.h)
    Prep *prep = scratch_reserve(&prep_scratch, (size_t)n_tokens * sizeof *prep);
    for (int t = 0; t < n_tokens; t++) prep[t] = prep_view(type, steps, (uint8_t *)acts + one * t);
    const RowsFn one_token = type == DT_Q8_0 ? q8_0_x1 : type == DT_Q4_0 ? q4_0_x1 : q4a_x1;
    const RowsFn four_tokens = type == DT_Q8_0 ? q8_0_x4 : type == DT_Q4_0 ? q4_0_x4 : q4a_x4;
    const size_t row_bytes = quant_row_bytes(type, cols);
    const int block_rows = row_bytes >= ROW_BLOCK_BYTES ? 1 : (int)(ROW_BLOCK_BYTES / row_bytes);
    for (int r0 = row_begin; r0 < row_end; r0 += block_rows) {   // a block's bytes come from DRAM once
        const int r1 = row_end - r0 < block_rows ? row_end : r0 + block_rows;
        for (int t = 0; t < n_tokens; t += TOKENS_MAX) {
            const int tile = n_tokens - t < TOKENS_MAX ? n_tokens - t : TOKENS_MAX;
            for (int r = r0; r < r1; r++) {
                const uint8_t *w_row = (const uint8_t *)w + (size_t)r * row_bytes;
                float got[TOKENS_MAX];
                if (tile == TOKENS_MAX) four_tokens(w_row, (long)row_bytes, &prep[t], steps, got);
                else
                    for (int j = 0; j < tile; j++) one_token(w_row, (long)row_bytes, &prep[t + j], steps, &got[j]);
                for (int j = 0; j < tile; j++) out[(size_t)(t + j) * rows + r] = got[j];
            }
        }
    }
}

#else
bool quant_avx512_supported(void) { return false; }
size_t quant_avx512_prep_bytes(DType type, int cols) {
    (void)type, (void)cols;
    return 0;
}
void quant_avx512_prepare(DType type, const QuantAct *x, int cols, void *mem) {
    (void)type, (void)x, (void)cols, (void)mem;
    abort();   // unreachable, as below
}
void quant_avx512_rows_prepared(float *out, const void *acts, const void *w, DType type, int rows, int cols,
                                int n_tokens, int row_begin, int row_end) {
    (void)out, (void)acts, (void)w, (void)type, (void)rows, (void)cols, (void)n_tokens, (void)row_begin, (void)row_end;
    abort();   // unreachable: never chosen where quant_avx512_supported() is false
}
#endif
