// matmul: where nearly all of the forward pass's time goes (every weight is read once per call: once
// per token in a decode, once for all of a prompt's tokens in a prefill).
// The rows of W are split between threads; each thread computes whole dot products, so the result
// is bit-identical whatever the thread count. (The engine runs the same loop with SIMD,
// matmul_simd.c, when the SIMD policy allows it.) The threads are started once and reused by every
// product (shared/thread_pool.c): starting threads costs tens of microseconds, as much as a small
// matrix-vector product.
#include <stdio.h>
#include <stdlib.h>

#include "forward.h"
#include "thread_pool.h"


// Kernels for matrices that are not f32 (forward.h, MatKernels).
#define MAX_KERNELS 8
static const MatKernels *kernels[MAX_KERNELS];
static int n_kernels;

int matmul_register(const MatKernels *k) {
    for (int i = 0; i < n_kernels; i++)
        if (kernels[i] == k) return 0;
    if (n_kernels == MAX_KERNELS) {
        fprintf(stderr, "matmul_register: table full\n");
        return -1;
    }
    kernels[n_kernels++] = k;
    return 0;
}

// The kernels for w's dtype. A dtype nobody registered is a broken invariant (the loader makes
// only matrices of registered formats, and computing on without kernels would be silently wrong):
// a message, and abort() so that a debugger stops here.
const MatKernels *matmul_kernels(const Mat *w) {
    for (int i = 0; i < n_kernels; i++)
        if (kernels[i]->dtype == w->dtype) return kernels[i];
    if (w->dtype == DT_BF16) return &MATMUL_BF16;   // this lab's own (matmul_bf16.c)
    fprintf(stderr, "matmul: no kernels registered for %s matrices\n", mat_type_name(w->dtype));
    abort();
}

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

// One thread's share: an equal slice of the rows. With SIMD (solutions/m2-forward/matmul_simd.c, the
// default) when this CPU has a kernel for it; your loop otherwise, and in this lab's tests.
// Slices start at multiples of 16 rows (matmul_gemm_part), so the SIMD tiles rarely split.
static void job_part(void *arg, int part, int n_parts) {
    const Job *j = arg;
    int r0, r1;
    matmul_gemm_part(j->w->rows, part, n_parts, &r0, &r1);
    if (!matmul_simd_rows(j->out, j->x, j->w->data, j->w->rows, j->w->cols, j->n_tokens, r0, r1))
        matmul_f32_rows(j->out, j->x, j->w, j->n_tokens, r0, r1);
}

//[ matmul-threads
void matmul(float *out, const float *x, const Mat *w, int n_tokens) {
    if (w->dtype != DT_F32) {   // a registered format (MatKernels)
        matmul_kernels(w)->matmul(out, x, w, n_tokens);
        return;
    }
    // One slice of rows per thread; fewer slices for a small product.
    Job job = {out, x, w, n_tokens};
    pool_run(job_part, &job, pool_parts_for((double)w->rows * w->cols * n_tokens, w->rows));
}
//]
