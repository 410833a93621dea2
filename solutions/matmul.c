// lab: m2-forward
// matmul: where nearly all of the forward pass's time goes (every weight is read once per call: once
// per token in a decode, once for all of a prompt's tokens in a prefill).
// The rows of W are split between threads; each thread computes whole dot products, so the result
// is bit-identical whatever the thread count. (The engine runs the same loop with SIMD,
// solutions/matmul_simd.c, unless told not to.) The threads are started once and reused by every
// product (the pool of solutions/quant_pool.c, which M5's quantized products share): starting
// threads costs tens of microseconds, as much as a small matrix-vector product.
#include <stdio.h>
#include <stdlib.h>

#include "forward.h"
#include "quant.h"   // M5: quantized weights, and the thread pool

// Below this many multiply-adds per thread, waking one more thread costs more than it saves.
#define MIN_WORK_PER_THREAD (1 << 15)

void matmul_set_threads(int n) { quant_set_threads(n); }

// out[t][r] for rows r in [row_begin, row_end) of an f32 matrix.
static void matmul_f32_rows(float *out, const float *x, const Mat *w, int n_tokens, int row_begin, int row_end) {
    const float *W = w->data;
    int rows = w->rows, cols = w->cols;
    //> M2 matmul
    //? For each row r in [row_begin, row_end) and each token t: out[t*rows + r] is the dot product of
    //? row r of W (W + r*cols) with token t's input (x + t*cols). Accumulate in a float.
    //? Loop over rows outside and tokens inside: then a prompt of many tokens reads each row of W
    //? from memory once, while it sits in cache, instead of once per token.
    for (int r = row_begin; r < row_end; r++) {
        const float *wr = W + (size_t)r * cols;
        for (int t = 0; t < n_tokens; t++) {
            const float *xt = x + (size_t)t * cols;
            float sum = 0.0f;
            for (int c = 0; c < cols; c++) sum += wr[c] * xt[c];
            out[(size_t)t * rows + r] = sum;
        }
    }
    //<
}

typedef struct {
    float *out;
    const float *x;
    const Mat *w;
    int n_tokens;
} Job;

// One thread's share: an equal slice of the rows. With SIMD (solutions/matmul_simd.c, the
// default) when this CPU has a kernel for it; your loop otherwise, and in this lab's tests.
static void job_part(void *arg, int part, int n_parts) {
    const Job *j = arg;
    const int r0 = (int)((long long)j->w->rows * part / n_parts), r1 = (int)((long long)j->w->rows * (part + 1) / n_parts);
    if (!matmul_simd_rows(j->out, j->x, j->w->data, j->w->rows, j->w->cols, j->n_tokens, r0, r1))
        matmul_f32_rows(j->out, j->x, j->w, j->n_tokens, r0, r1);
}

//[ matmul-threads
void matmul(float *out, const float *x, const Mat *w, int n_tokens) {
    if (dtype_is_quantized(w->dtype)) {   // M5: block-quantized weights (quant.h), same pool
        quant_matmul(out, x, w->data, w->dtype, w->rows, w->cols, n_tokens);
        return;
    }
    if (w->dtype != DT_F32) {
        fprintf(stderr, "matmul: no kernel for %s weights\n", dtype_name(w->dtype));
        abort();
    }
    // One slice of rows per thread; fewer slices for a small product.
    double parts = (double)w->rows * w->cols * n_tokens / MIN_WORK_PER_THREAD;
    Job job = {out, x, w, n_tokens};
    quant_parallel_parts(job_part, &job, parts < w->rows ? (int)parts : w->rows);
}
//]
