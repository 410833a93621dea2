// Products with bf16 matrices kept as they are (model_keep_bf16, M1): half the bytes of f32 per
// weight, and a decode step is limited by the bytes it reads. The SIMD tiles (matmul_gemm.c) widen
// the weights in registers: a bf16 number is the top half of an f32, so widening is a shift, exact,
// and the products are bit for bit those of the f32 kernels on the matrix widened at load. Without
// SIMD, the plain loop below widens one row at a time and adds in matmul's order (your loop's): the
// same bits as your matmul on the widened matrix.
//
// Not AVX-512 BF16's dot product (vdpbf16ps): it would round the activations to bf16 too, which
// changes the results; widening costs two instructions per 16 weights, and the weights' bytes,
// not the instructions, are what a decode step waits for.
#include <stdint.h>
#include <string.h>

#include "forward.h"
#include "scratch.h"

static float widen(uint16_t h) {
    const uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void get_row_bf16(float *out, const Mat *w, int row) {
    const uint16_t *src = (const uint16_t *)w->data + (size_t)row * w->cols;
    for (int c = 0; c < w->cols; c++) out[c] = widen(src[c]);
}

// Rows [r0, r1) without SIMD: each row widened once into this thread's scratch, then the plain
// dot product with every token, summed in order as in matmul_f32_rows.
static void plain_rows(float *out, const float *x, const Mat *w, int n_tokens, int r0, int r1) {
    static _Thread_local Scratch scratch;
    const int rows = w->rows, cols = w->cols;
    float *row = scratch_reserve(&scratch, (size_t)cols * sizeof *row);
    for (int r = r0; r < r1; r++) {
        get_row_bf16(row, w, r);
        for (int t = 0; t < n_tokens; t++) {
            const float *xt = x + (size_t)t * cols;
            float sum = 0.0f;
            for (int c = 0; c < cols; c++) sum += row[c] * xt[c];
            out[(size_t)t * rows + r] = sum;
        }
    }
}

// Rows [r0, r1) of out = x w^T: the SIMD tiles where this CPU has them, else the plain loop.
static void bf16_rows(float *out, const void *prep, const float *x, const Mat *w, int n_tokens, int r0, int r1) {
    (void)prep;   // bf16 products read x as it is
    if (!matmul_gemm_rows(out, x, w->data, true, w->rows, w->cols, n_tokens, r0, r1))
        plain_rows(out, x, w, n_tokens, r0, r1);
}

// matmul() deals the rows of a bf16 product to its threads through the row kernels, as it does
// f32's: no whole-product function of its own (NULL).
const MatKernels MATMUL_BF16 = {DT_BF16, NULL, get_row_bf16};
const MatRowKernels MATMUL_BF16_ROWS = {DT_BF16, NULL, NULL, bf16_rows};
