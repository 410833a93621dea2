// M2 tests, part 4: matmul_many(), the products that share their input (q, k and v; gate and up)
// in one round of the thread pool. It must write exactly what one matmul() per matrix writes, bit
// for bit: with your loop and with the SIMD kernels, f32 and bf16 matrices (and both in one
// group), one token and several, on 1 and 3 threads, with row counts that split unevenly between
// threads and into the 16-row units matmul_many() deals out.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "harness.h"
#include "model.h"
#include "thread_pool.h"

#define ANCHOR "book/m2-forward.md#matmul-many"
#define COLS 520   // no multiple of any vector width: the kernels' tails run too
#define MAX_ROWS 203

static uint32_t next_random(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }

// n values in [-1, 1).
static float *random_floats(size_t n, uint32_t seed) {
    float *v = malloc(n * sizeof *v);
    PS_CHECK(v != NULL, "out of memory");
    for (size_t i = 0; i < n; i++) v[i] = (float)(next_random(&seed) >> 8) * 0x1p-23f - 1.0f;
    return v;
}

// The same as bf16: the top halves of random floats.
static uint16_t *random_bf16(size_t n, uint32_t seed) {
    float *f = random_floats(n, seed);
    uint16_t *h = malloc(n * sizeof *h);
    PS_CHECK(h != NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &f[i], sizeof bits);
        h[i] = (uint16_t)(bits >> 16);
    }
    free(f);
    return h;
}

// The group `ws` (count matrices of COLS columns) times n_tokens random tokens: matmul_many()
// against one matmul() per matrix, on 1 and 3 threads.
static void check_group(const Mat *const ws[], int count, int n_tokens, const char *what) {
    float *x = random_floats((size_t)n_tokens * COLS, 77u + (uint32_t)n_tokens);
    float *separate[MATMUL_MANY_MAX], *fused[MATMUL_MANY_MAX];
    for (int i = 0; i < count; i++) {
        separate[i] = malloc((size_t)n_tokens * ws[i]->rows * sizeof(float));
        fused[i] = malloc((size_t)n_tokens * ws[i]->rows * sizeof(float));
        PS_CHECK(separate[i] && fused[i], "out of memory");
    }
    for (int threads = 1; threads <= 3; threads += 2) {
        pool_set_threads(threads);
        for (int i = 0; i < count; i++) {
            matmul(separate[i], x, ws[i], n_tokens);
            memset(fused[i], 0xff, (size_t)n_tokens * ws[i]->rows * sizeof(float));   // NaN: a row left out shows
        }
        matmul_many(fused, ws, count, x, n_tokens);
        for (int i = 0; i < count; i++)
            for (size_t o = 0; o < (size_t)n_tokens * ws[i]->rows; o++)
                PS_CHECK(memcmp(&fused[i][o], &separate[i][o], sizeof(float)) == 0,
                         "%s, %d token(s), %d thread(s): matrix %d (%d rows), token %zu row %zu: matmul_many "
                         "wrote %.9g, matmul %.9g", what, n_tokens, threads, i, ws[i]->rows,
                         o / (size_t)ws[i]->rows, o % (size_t)ws[i]->rows, (double)fused[i][o],
                         (double)separate[i][o]);
    }
    pool_set_threads(1);
    for (int i = 0; i < count; i++) free(separate[i]), free(fused[i]);
    free(x);
}

// Rows 37, 100 and 203: none a multiple of 16, and 340 rows of 520 columns are enough work for
// the pool to use 3 threads even for one token.
static const int ROWS[] = {37, 100, MAX_ROWS};

static void check_dtype(DType dtype, const char *what) {
    void *data[3];
    Mat m[3];
    for (int i = 0; i < 3; i++) {
        const size_t n = (size_t)ROWS[i] * COLS;
        data[i] = dtype == DT_F32 ? (void *)random_floats(n, 5u + (uint32_t)i) : (void *)random_bf16(n, 5u + (uint32_t)i);
        m[i] = (Mat){.dtype = dtype, .rows = ROWS[i], .cols = COLS, .data = data[i]};
    }
    const Mat *const group[] = {&m[0], &m[1], &m[2]};
    for (int n_tokens = 1; n_tokens <= 7; n_tokens += 6) {
        check_group(group, 3, n_tokens, what);
        check_group(group + 1, 1, n_tokens, what);   // a group of one is matmul()
    }
    for (int i = 0; i < 3; i++) free(data[i]);
}

// Your loop first (on a skeleton, this test stops at your matmul task), then the SIMD kernels.
static void t_f32(void) {
    matmul_use_simd(false);
    check_dtype(DT_F32, "f32, your loop");
    matmul_use_simd(true);
    check_dtype(DT_F32, "f32, SIMD kernels");
    matmul_use_simd(false);
}

static void t_bf16(void) {
    matmul_use_simd(false);
    {   // your loop, as a start: without it the plain bf16 products never call your code
        Mat one = {.dtype = DT_F32, .rows = 1, .cols = 1, .data = &(float){2.0f}};
        float y;
        matmul(&y, &(float){3.0f}, &one, 1);
        PS_CHECK(y == 6.0f, "a 1 x 1 product: 2 * 3 gave %g", (double)y);
    }
    check_dtype(DT_BF16, "bf16, plain loop");
    matmul_use_simd(true);
    check_dtype(DT_BF16, "bf16, SIMD kernels");
    matmul_use_simd(false);
}

// f32 and bf16 matrices in one group: each format's rows in the same round.
static void t_mixed(void) {
    matmul_use_simd(false);
    float *f = random_floats((size_t)ROWS[2] * COLS, 11u);
    uint16_t *b = random_bf16((size_t)ROWS[1] * COLS, 12u);
    const Mat mf = {.dtype = DT_F32, .rows = ROWS[2], .cols = COLS, .data = f};
    const Mat mb = {.dtype = DT_BF16, .rows = ROWS[1], .cols = COLS, .data = b};
    const Mat *const group[] = {&mb, &mf, &mb};
    for (int simd = 0; simd <= 1; simd++) {
        matmul_use_simd(simd);
        check_group(group, 3, 1, simd ? "f32 and bf16, SIMD" : "f32 and bf16, plain");
        check_group(group, 3, 5, simd ? "f32 and bf16, SIMD" : "f32 and bf16, plain");
    }
    matmul_use_simd(false);
    free(f), free(b);
}

// Units dealt out dynamically ($PS_MATMUL_CHUNKS, read once per process: each test runs in a
// process of its own) take other rows per thread, never other bits.
static void t_chunks(void) {
    setenv("PS_MATMUL_CHUNKS", "3", 1);
    matmul_use_simd(false);
    check_dtype(DT_F32, "f32, your loop, PS_MATMUL_CHUNKS=3");
    check_dtype(DT_BF16, "bf16, plain loop, PS_MATMUL_CHUNKS=3");
    matmul_use_simd(true);
    check_dtype(DT_F32, "f32, SIMD kernels, PS_MATMUL_CHUNKS=3");
    check_dtype(DT_BF16, "bf16, SIMD kernels, PS_MATMUL_CHUNKS=3");
    matmul_use_simd(false);
}

static const PsTest TESTS[] = {
    {"ops.matmul-many-f32", t_f32, ANCHOR, 0},
    {"ops.matmul-many-bf16", t_bf16, ANCHOR, 0},
    {"ops.matmul-many-mixed", t_mixed, ANCHOR, 0},
    {"ops.matmul-many-chunks", t_chunks, ANCHOR, 0},
};

int main(int argc, char **argv) { return ps_main("M2", TESTS, PS_COUNT(TESTS), argc, argv); }
