// lab: m2-forward
// matmul: where nearly all of the forward pass's time goes (every weight is read once per token).
// The rows of W are split between threads; each thread computes whole dot products, so the result
// is bit-identical whatever the thread count.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "forward.h"
#include "quant.h"   // M5

#define MAX_THREADS 16
// Below this many multiply-adds, starting threads costs more than it saves.
#define MIN_WORK_PER_THREAD (1 << 16)

static int n_threads_wanted;   // 0: not chosen yet

void matmul_set_threads(int n) { n_threads_wanted = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : n; }

static int thread_count(void) {
    if (!n_threads_wanted) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        matmul_set_threads(cpus > 0 ? (int)cpus : 1);
    }
    return n_threads_wanted;
}

// out[t][r] for rows r in [row_begin, row_end) of an f32 matrix.
static void matmul_f32_rows(float *out, const float *x, const Mat *w, int n_tokens, int row_begin, int row_end) {
    const float *W = w->data;
    int rows = w->rows, cols = w->cols;
    //> M2 matmul
    //? For each token t and each row r in [row_begin, row_end): out[t*rows + r] is the dot product of
    //? row r of W (W + r*cols) with token t's input (x + t*cols). Accumulate in a float.
    for (int t = 0; t < n_tokens; t++) {
        const float *xt = x + (size_t)t * cols;
        for (int r = row_begin; r < row_end; r++) {
            const float *wr = W + (size_t)r * cols;
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
    int n_tokens, row_begin, row_end;
} Slice;

static void run_slice(const Slice *s) {
    switch (s->w->dtype) {
    case DT_F32: matmul_f32_rows(s->out, s->x, s->w, s->n_tokens, s->row_begin, s->row_end); break;
    case DT_Q8_0: case DT_Q4_0: case DT_Q4A:   // M5: block-quantized weights (quant.h)
        quant_matmul_rows(s->out, s->x, s->w->data, s->w->dtype, s->w->rows, s->w->cols, s->n_tokens,
                          s->row_begin, s->row_end);
        break;
    default:   // M5 adds its quantized formats here
        fprintf(stderr, "matmul: no kernel for %s weights\n", dtype_name(s->w->dtype));
        abort();
    }
}

static void *slice_thread(void *arg) {
    run_slice(arg);
    return NULL;
}

//[ matmul-threads
void matmul(float *out, const float *x, const Mat *w, int n_tokens) {
    double work = (double)w->rows * w->cols * n_tokens;
    int n = thread_count();
    if (work / MIN_WORK_PER_THREAD < n) n = (int)(work / MIN_WORK_PER_THREAD);
    if (n > w->rows) n = w->rows;
    if (n < 1) n = 1;
    Slice slices[MAX_THREADS];
    pthread_t threads[MAX_THREADS];
    int started = 0;
    for (int i = 0; i < n; i++) {
        slices[i] = (Slice){out, x, w, n_tokens, (int)((long long)w->rows * i / n), (int)((long long)w->rows * (i + 1) / n)};
        // the last slice runs on this thread; a thread that fails to start runs here too
        if (i == n - 1 || pthread_create(&threads[started], NULL, slice_thread, &slices[i]) != 0) run_slice(&slices[i]);
        else started++;
    }
    for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
}
//]
