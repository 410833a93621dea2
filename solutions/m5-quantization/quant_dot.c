// Products with quantized weights: W (rows x cols, Q8_0 / Q4_0 / Q4A) times activations.
//
// The weights are never widened to f32 in memory: that would move 4 bytes per weight again and
// undo the whole point. Instead each activation vector is rounded to 8 bits per block of 32 once
// (QuantAct, the same idea as llama.cpp's Q8_0 activations), and every block of a weight row is
// consumed in place by an integer dot product:
//
//   sum_j w_j x_j = sum_blocks (d_w * d_x) * sum_j q_w[j] * q_x[j]
//
// The inner sum is over small integers, so it is exact in any order: compilers vectorise such
// loops at -O2 (NEON on a Mac, SSE/AVX on x86), which they may not do for float sums (reordering
// float additions changes the result). One float multiply-add per block of 32 remains.
// solutions/m5-quantization/quant_simd.c and quant_avx512.c do the same with intrinsics (bit for bit with AVX2 and
// NEON; AVX-512 adds in vector lanes, so within rounding); the engine uses them unless PS_SIMD=0
// (book/m5-quantization.md#simd).
#include "forward.h"   // lab M2: matmul()
#include "quant.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

void quantize_act(const float *x, QuantAct *y, int n) {
    for (int b = 0; b < n / 32; b++, x += 32) {
        //> M5 act-quantize
        //? Like Q8_0, but the scale stays a float (activations are not stored, so there is no
        //? reason to round it): d = amax / 127, qs = roundf(x / d), sum = the sum of the qs.
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        int32_t sum = 0;
        for (int j = 0; j < 32; j++) {
            y[b].qs[j] = (int16_t)roundf(x[j] * id);
            sum += y[b].qs[j];
        }
        y[b].d = d;
        y[b].sum = sum;
        //<
    }
}

static float dot_q8_0(const BlockQ8_0 *w, const QuantAct *x, int n_blocks) {
    float sum = 0.0f;
    //> M5 dot-q8
    //? Per block: an int32 sum of q_w * q_x (32 products of values within +-127 cannot overflow
    //? it), then one float multiply by the two scales.
    for (int b = 0; b < n_blocks; b++) {
        int32_t isum = 0;
        for (int j = 0; j < 32; j++) isum += w[b].qs[j] * x[b].qs[j];
        sum += q_f16_at(w[b].d) * x[b].d * (float)isum;
    }
    //<
    return sum;
}

static float dot_q4_0(const BlockQ4_0 *w, const QuantAct *x, int n_blocks) {
    float sum = 0.0f;
    //> M5 dot-q4
    //? Same as Q8_0 once the nibbles are unpacked: byte j holds weights j (low nibble) and j + 16
    //? (high nibble), each stored with +8. Unpack into int8_t q[32] first, then the Q8_0 loop:
    //? two simple loops vectorise better than one that mixes shifts and products.
    for (int b = 0; b < n_blocks; b++) {
        int8_t q[32];
        for (int j = 0; j < 16; j++) {
            q[j] = (int8_t)((w[b].qs[j] & 0x0f) - 8);
            q[j + 16] = (int8_t)((w[b].qs[j] >> 4) - 8);
        }
        int32_t isum = 0;
        for (int j = 0; j < 32; j++) isum += q[j] * x[b].qs[j];
        sum += q_f16_at(w[b].d) * x[b].d * (float)isum;
    }
    //<
    return sum;
}

static float dot_q4a(const BlockQ4A *w, const QuantAct *x, int n_groups) {
    float sum = 0.0f;
    //> M5 dot-q4a
    //? w = scale * q + bias, so sum_j w_j x_j = scale * sum_j q_j x_j + bias * sum_j x_j. A group
    //? of 64 spans two activation blocks: with x_j = d_x * q_x[j], each half contributes
    //? d_x * (scale * isum + bias * sum_of_q_x). Byte j holds weights 2j (low) and 2j+1 (high);
    //? unpack them into int8_t q[32] per half, as for Q4_0.
    for (int g = 0; g < n_groups; g++) {
        const float scale = q_f16_at(w[g].scale), bias = q_f16_at(w[g].bias);
        for (int half = 0; half < 2; half++) {
            const QuantAct *xb = &x[2 * g + half];
            const uint8_t *qs = w[g].qs + 16 * half;
            int8_t q[32];
            for (int j = 0; j < 16; j++) {
                q[2 * j] = (int8_t)(qs[j] & 0x0f);
                q[2 * j + 1] = (int8_t)(qs[j] >> 4);
            }
            int32_t isum = 0;
            for (int j = 0; j < 32; j++) isum += q[j] * xb->qs[j];
            sum += xb->d * (scale * (float)isum + bias * (float)xb->sum);
        }
    }
    //<
    return sum;
}

float quant_dot(DType type, const void *w_row, const QuantAct *x, int n) {
    switch (type) {
    case DT_Q8_0: return dot_q8_0(w_row, x, n / QK8_0);
    case DT_Q4_0: return dot_q4_0(w_row, x, n / QK4_0);
    case DT_Q4A: return dot_q4a(w_row, x, n / QK4A);
    default: return NAN;
    }
}

typedef struct {
    float *out;
    const QuantAct *x;        // n_tokens rows of cols / 32 blocks
    const uint8_t *w;
    DType type;
    int rows, cols, n_tokens;
} MatmulJob;

// Output rows [r0, r1) of the product. Rows are independent, so threads that take different
// rows never write the same element, and the result does not depend on the thread count.
static void product_rows(const MatmulJob *job, int r0, int r1) {
    //> M5 matmul-rows
    //? For each row r in [r0, r1) and each token t: out[t * rows + r] = quant_dot(row r, token
    //? t's QuantAct blocks). Loop over the tokens inside, so the row's blocks are read from
    //? memory once and then come from the cache. Row r starts r * quant_row_bytes() into w.
    const size_t row_bytes = quant_row_bytes(job->type, job->cols);
    const int blocks = job->cols / 32;
    for (int r = r0; r < r1; r++) {
        const uint8_t *w_row = job->w + (size_t)r * row_bytes;
        for (int t = 0; t < job->n_tokens; t++)
            job->out[(size_t)t * job->rows + r] =
                quant_dot(job->type, w_row, job->x + (size_t)t * blocks, job->cols);
    }
    //<
}

// The activations of a product as its threads read them (quant_prep_bytes): per token a byte
// that says whether its values are all finite, then every token's QuantAct blocks, then (when the
// SIMD kernel in use wants them) the same rearranged for it (quant_simd_prepare).
typedef struct {
    size_t acts, prepared, prepared_bytes, total;   // offsets and sizes in bytes
} PrepLayout;

static size_t round_up_64(size_t n) { return (n + 63) & ~(size_t)63; }

static PrepLayout prep_layout(DType type, int cols, int n_tokens) {
    PrepLayout l;
    l.acts = round_up_64((size_t)n_tokens);
    l.prepared = l.acts + round_up_64((size_t)n_tokens * (cols / 32) * sizeof(QuantAct));
    l.prepared_bytes = quant_simd_enabled() ? quant_simd_prep_bytes(type, cols, n_tokens) : 0;
    l.total = l.prepared + l.prepared_bytes;
    return l;
}

size_t quant_prep_bytes(DType type, int cols, int n_tokens) { return prep_layout(type, cols, n_tokens).total; }

// True when every one of the n values is finite. Rounding inf or NaN to an integer is undefined in
// C (and the SIMD conversions give INT_MIN, whose sums then overflow), so activations that are no
// longer numbers are never quantized.
// Integer tests of the exponent bits, so the compiler vectorises the loop (a float sum would have
// to stay in order): a few microseconds per decode step.
static bool all_finite(const float *x, size_t n) {
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        bad |= (bits & 0x7f800000u) == 0x7f800000u;   // exponent all ones: inf or NaN
    }
    return bad == 0;
}

void quant_prepare(void *prep, const float *x, DType type, int cols, int n_tokens, int t0, int t1) {
    const PrepLayout l = prep_layout(type, cols, n_tokens);
    uint8_t *finite = prep;
    QuantAct *xq = (QuantAct *)((uint8_t *)prep + l.acts);
    const int blocks = cols / 32;
    for (int t = t0; t < t1; t++) {
        const float *xt = x + (size_t)t * cols;
        QuantAct *y = xq + (size_t)t * blocks;
        finite[t] = all_finite(xt, (size_t)cols);
        if (!finite[t]) continue;   // broken weights upstream: the product's rows will be NaN
        if (quant_simd_enabled()) quant_simd_act(xt, y, cols);   // same bits
        else quantize_act(xt, y, cols);
        if (l.prepared_bytes) quant_simd_prepare(type, y, cols, t, n_tokens, (uint8_t *)prep + l.prepared);
    }
}

void quant_rows(float *out, const void *prep, const void *w, DType type, int rows, int cols, int n_tokens, int r0,
                int r1) {
    const PrepLayout l = prep_layout(type, cols, n_tokens);
    const uint8_t *finite = prep;
    bool all = true;
    for (int t = 0; t < n_tokens; t++) all &= finite[t];
    if (!all) {   // a token that is no number makes every output NaN, as the products always did
        for (int t = 0; t < n_tokens; t++)
            for (int r = r0; r < r1; r++) out[(size_t)t * rows + r] = NAN;
        return;
    }
    const QuantAct *xq = (const QuantAct *)((const uint8_t *)prep + l.acts);
    // The same rows with SIMD intrinsics (solutions/m5-quantization/quant_simd.c): used unless PS_SIMD=0 or
    // quant_set_simd(false), which the lab's tests do to run your product_rows.
    if (l.prepared_bytes)
        quant_simd_rows_prepared(out, (const uint8_t *)prep + l.prepared, w, type, rows, cols, n_tokens, r0, r1);
    else if (quant_simd_enabled())
        quant_simd_rows(out, xq, w, type, rows, cols, n_tokens, r0, r1);
    else
        product_rows(&(MatmulJob){out, xq, w, type, rows, cols, n_tokens}, r0, r1);
}

// One product is M2's matmul() of a Mat in this format: its activations are prepared on the pool's
// threads and its rows dealt out to them, as for every product of the engine (quant_register()
// gives M2 quant_prep_bytes, quant_prepare and quant_rows).
void quant_matmul(float *out, const float *x, const void *w, DType type, int rows, int cols,
                  int n_tokens) {
    const Mat m = {type, rows, cols, w};
    matmul(out, x, &m, n_tokens);
}
