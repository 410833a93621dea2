// M2 tests, part 3: bf16 matrices kept as they are (M1's model_keep_bf16) and computed on by the
// engine's bf16 kernels (solutions/m2-forward/matmul_bf16.c, matmul_gemm.c). Widening bf16 to f32
// is exact, so a product with the kept matrix must give the bits of the product with the matrix
// widened at load when both run the engine's SIMD kernels; your loop (SIMD off) is the reference
// either way, within the rounding of a different order of additions.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "harness.h"
#include "model.h"
#include "thread_pool.h"

#define ANCHOR "book/m2-forward.md#matmul"
#define MODEL "small-gqa4-bf16"

// The model twice: widened to f32 at load (as M1 does by default) and with its bf16 matrices kept.
static void load_both(Model *wide, Model *kept) {
    const char *dir = ps_model(MODEL);
    model_keep_bf16(false);
    PS_CHECK(model_load(wide, dir, PS_MAP_MMAP) == 0, "model_load(%s) failed (lab M1)", dir);
    model_keep_bf16(true);
    const int rc = model_load(kept, dir, PS_MAP_MMAP);
    model_keep_bf16(false);
    PS_CHECK(rc == 0, "model_load(%s) with model_keep_bf16(true) failed", dir);
}

// n tokens of random inputs in [-1, 1) for a matrix of `cols` columns.
static float *random_tokens(int n, int cols, uint32_t seed) {
    float *x = malloc((size_t)n * cols * sizeof *x);
    for (int i = 0; i < n * cols; i++) x[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 8) * 0x1p-23f - 1.0f;
    return x;
}

// The kept model's matrices are bf16, the same numbers as the widened model's; its vectors (the
// norms) are widened as before. And the plain bf16 product (SIMD off) is your loop's result
// within rounding (your loop on the widened matrix is the reference).
static void t_kept(void) {
    Model wide, kept;
    load_both(&wide, &kept);
    const Layer *W = &wide.layers[0], *K = &kept.layers[0];
    const Mat *pairs[][2] = {{&W->wq, &K->wq}, {&W->w_down, &K->w_down}, {&wide.lm_head, &kept.lm_head}};
    enum { N = 5 };
    for (size_t p = 0; p < PS_COUNT(pairs); p++) {
        const Mat *f = pairs[p][0], *b = pairs[p][1];
        PS_CHECK(b->dtype == DT_BF16 && f->dtype == DT_F32, "matrix %zu: dtypes %s and %s, expected F32 and BF16", p,
                 mat_type_name(f->dtype), mat_type_name(b->dtype));
        float *x = random_tokens(N, f->cols, 7u + (uint32_t)p), *yours = malloc((size_t)N * f->rows * sizeof *yours),
              *plain = malloc((size_t)N * f->rows * sizeof *plain), *row = malloc((size_t)f->cols * sizeof *row);
        matmul_use_simd(false);
        matmul(yours, x, f, N);
        matmul(plain, x, b, N);
        for (int r = 0; r < f->rows; r += 37) {
            matmul_kernels(b)->get_row(row, b, r);
            PS_CHECK(memcmp(row, (const float *)f->data + (size_t)r * f->cols, (size_t)f->cols * sizeof *row) == 0,
                     "matrix %zu row %d: the bf16 row widened differs from the row widened at load", p, r);
        }
        for (int t = 0; t < N; t++)
            for (int r = 0; r < f->rows; r++) {
                double m = 0;
                for (int c = 0; c < f->cols; c++)
                    m += fabs((double)((const float *)f->data)[(size_t)r * f->cols + c] * x[(size_t)t * f->cols + c]);
                const size_t o = (size_t)t * f->rows + r;
                PS_CHECK(fabs((double)plain[o] - yours[o]) <= (f->cols + f->cols / 16 + 16) * 0x1p-24 * m,
                         "matrix %zu, token %d row %d: yours %.9g, the plain bf16 product %.9g", p, t, r,
                         (double)yours[o], (double)plain[o]);
            }
        free(x), free(yours), free(plain), free(row);
    }
    PS_CHECK(memcmp(W->attn_norm, K->attn_norm, (size_t)wide.cfg.dim * sizeof(float)) == 0,
             "the norms must be widened to f32 as before");
    model_free(&wide);
    model_free(&kept);
}

// With SIMD: the bf16 kernels give the f32 kernels' bits on the widened matrix, for a prompt and
// for one token at a time, on 1 and 2 threads.
static void t_simd_bits(void) {
    Model wide, kept;
    load_both(&wide, &kept);
    matmul_use_simd(false);
    {   // your loop first: on a skeleton, this test stops at your task like the others
        float one;
        const Mat *w = &wide.layers[0].wq;
        matmul(&one, w->data, &(Mat){DT_F32, 1, w->cols, w->data}, 1);
    }
    matmul_use_simd(true);
    if (strcmp(matmul_simd_name(), "plain C") == 0) PS_SKIP("no SIMD kernel for this CPU");
    const Layer *W = &wide.layers[1], *K = &kept.layers[1];
    const Mat *pairs[][2] = {{&W->wk, &K->wk}, {&W->w_gate, &K->w_gate}, {&W->w_down, &K->w_down},
                             {&wide.lm_head, &kept.lm_head}};
    enum { N = 13 };
    for (size_t p = 0; p < PS_COUNT(pairs); p++) {
        const Mat *f = pairs[p][0], *b = pairs[p][1];
        float *x = random_tokens(N, f->cols, 99u + (uint32_t)p), *yf = malloc((size_t)N * f->rows * sizeof *yf),
              *yb = malloc((size_t)N * f->rows * sizeof *yb);
        for (int threads = 1; threads <= 2; threads++) {
            pool_set_threads(threads);
            matmul(yf, x, f, N);
            matmul(yb, x, b, N);
            PS_CHECK(memcmp(yf, yb, (size_t)N * f->rows * sizeof *yf) == 0,
                     "matrix %zu, %d tokens, %d thread(s): %s bf16 product differs from the f32 one", p, N, threads,
                     matmul_simd_name());
            for (int t = 0; t < N; t += 4) {
                matmul(yb, x + (size_t)t * f->cols, b, 1);
                PS_CHECK(memcmp(yb, yf + (size_t)t * f->rows, (size_t)f->rows * sizeof *yb) == 0,
                         "matrix %zu: token %d alone (bf16) differs from token %d among %d (f32)", p, t, t, N);
            }
        }
        free(x), free(yf), free(yb);
    }
    matmul_use_simd(false);
    model_free(&wide);
    model_free(&kept);
}

// The whole forward pass: with SIMD, the kept model's logits are the widened model's, bit for bit
// (the embedding rows widened by get_row, the tied lm_head computed on in bf16).
static void t_forward(void) {
    Model wide, kept;
    load_both(&wide, &kept);
    const int32_t ids[] = {1, 17, 4, 250, 3, 3, 99};
    const int n = (int)PS_COUNT(ids), v = wide.cfg.vocab_size;
    float *lw = malloc((size_t)n * v * sizeof *lw), *lk = malloc((size_t)n * v * sizeof *lk);
    matmul_use_simd(false);
    PS_CHECK(forward(&wide, ids, n, lw, NULL) == 0, "forward() failed");   // yours, as a start
    matmul_use_simd(true);
    PS_CHECK(forward(&wide, ids, n, lw, NULL) == 0, "forward() failed");
    PS_CHECK(forward(&kept, ids, n, lk, NULL) == 0, "forward() failed on the bf16 model");
    if (strcmp(matmul_simd_name(), "plain C") != 0)
        PS_CHECK(memcmp(lw, lk, (size_t)n * v * sizeof *lw) == 0, "%s: logits of the bf16 model differ from the "
                 "widened model's", matmul_simd_name());
    else
        PS_CHECK_CLOSE("logits, bf16 kept vs widened", lk, lw, (size_t)n * v, 1e-4, 1e-4);
    matmul_use_simd(false);
    free(lw), free(lk);
    model_free(&wide);
    model_free(&kept);
}

static const PsTest TESTS[] = {
    {"bf16.kept", t_kept, ANCHOR, 0},
    {"bf16.simd-bits", t_simd_bits, ANCHOR, 0},
    {"bf16.forward", t_forward, ANCHOR, 0},
};

int main(int argc, char **argv) { return ps_main("M2", TESTS, PS_COUNT(TESTS), argc, argv); }
