// M5 tests, part 6: quantized matrices in lab M2's matmul_many() (q, k and v; gate and up), which
// quantizes the shared activations once (quant_prepare) and then computes rows of every matrix
// from them (quant_rows). The result must be what one quant_matmul() per matrix writes, bit for
// bit: with your kernels and with the SIMD ones, every format, formats mixed in one group (and
// with f32), one token and several, on 1 and 3 threads, with row counts that split unevenly; and
// a token that is not all finite makes every output NaN, as in quant_matmul().
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "harness.h"
#include "quant.h"
#include "quant_model.h"
#include "thread_pool.h"

#define ANCHOR "book/m5-quantization.md#matmul-rows"
#define COLS 640   // a multiple of Q4A's 64
#define N_MATS 3

static const int ROWS[N_MATS] = {37, 100, 203};   // none a multiple of 16

static uint32_t next_random(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }

static float *random_floats(size_t n, uint32_t seed, float scale) {
    float *v = malloc(n * sizeof *v);
    PS_CHECK(v != NULL, "out of memory");
    for (size_t i = 0; i < n; i++) v[i] = ((float)(next_random(&seed) >> 8) * 0x1p-23f - 1.0f) * scale;
    return v;
}

typedef struct {
    Mat m[N_MATS];
    void *data[N_MATS];
} Group;

// Three matrices of random weights, matrix i in types[i] (f32 kept as it is).
static Group make_group(const DType types[N_MATS]) {
    Group g;
    for (int i = 0; i < N_MATS; i++) {
        float *w = random_floats((size_t)ROWS[i] * COLS, 3u + (uint32_t)i, 0.5f);
        if (types[i] == DT_F32) {
            g.data[i] = w;
        } else {
            const size_t row_bytes = quant_row_bytes(types[i], COLS);
            uint8_t *q = malloc((size_t)ROWS[i] * row_bytes);
            PS_CHECK(q != NULL, "out of memory");
            for (int r = 0; r < ROWS[i]; r++) quantize_row(types[i], w + (size_t)r * COLS, q + r * row_bytes, COLS);
            free(w);
            g.data[i] = q;
        }
        g.m[i] = (Mat){.dtype = types[i], .rows = ROWS[i], .cols = COLS, .data = g.data[i]};
    }
    return g;
}

static void free_group(Group *g) {
    for (int i = 0; i < N_MATS; i++) free(g->data[i]);
}

// The group times x (n_tokens tokens): matmul_many() against one matmul() per matrix (for a
// quantized matrix, quant_matmul()), on 1 and 3 threads.
static void check_group(const Group *g, const float *x, int n_tokens, const char *what) {
    const Mat *const ws[N_MATS] = {&g->m[0], &g->m[1], &g->m[2]};
    float *separate[N_MATS], *fused[N_MATS];
    for (int i = 0; i < N_MATS; i++) {
        separate[i] = malloc((size_t)n_tokens * ROWS[i] * sizeof(float));
        fused[i] = malloc((size_t)n_tokens * ROWS[i] * sizeof(float));
        PS_CHECK(separate[i] && fused[i], "out of memory");
    }
    for (int threads = 1; threads <= 3; threads += 2) {
        pool_set_threads(threads);
        for (int i = 0; i < N_MATS; i++) {
            matmul(separate[i], x, ws[i], n_tokens);
            memset(fused[i], 0x7f, (size_t)n_tokens * ROWS[i] * sizeof(float));   // a row left out shows
        }
        matmul_many(fused, ws, N_MATS, x, n_tokens);
        for (int i = 0; i < N_MATS; i++)
            for (size_t o = 0; o < (size_t)n_tokens * ROWS[i]; o++)
                PS_CHECK(memcmp(&fused[i][o], &separate[i][o], sizeof(float)) == 0,
                         "%s (%s), %d token(s), %d thread(s): matrix %d (%s, %d rows), token %zu row %zu: "
                         "matmul_many wrote %.9g, matmul %.9g", what,
                         quant_simd_enabled() ? quant_simd_name() : "your kernels", n_tokens, threads, i,
                         mat_type_name(ws[i]->dtype), ROWS[i], o / (size_t)ROWS[i], o % (size_t)ROWS[i],
                         (double)fused[i][o], (double)separate[i][o]);
    }
    pool_set_threads(1);
    for (int i = 0; i < N_MATS; i++) free(separate[i]), free(fused[i]);
}

static void check_types(const DType types[N_MATS], const char *what) {
    Group g = make_group(types);
    for (int n_tokens = 1; n_tokens <= 9; n_tokens += 8) {   // a decode's token, a prompt's tile and tail
        float *x = random_floats((size_t)n_tokens * COLS, 41u + (uint32_t)n_tokens, 2.0f);
        for (int simd = 0; simd <= 1; simd++) {
            quant_set_simd(simd);
            check_group(&g, x, n_tokens, what);
        }
        quant_set_simd(false);
        free(x);
    }
    free_group(&g);
}

static void t_formats(void) {
    PS_CHECK(quant_register() == 0, "quant_register() failed");
    quant_set_simd(false);   // your kernels first: on a skeleton, this test stops at your tasks
    static const DType formats[] = {DT_Q8_0, DT_Q4_0, DT_Q4A};
    for (size_t f = 0; f < PS_COUNT(formats); f++) {
        const DType types[N_MATS] = {formats[f], formats[f], formats[f]};
        check_types(types, mat_type_name(formats[f]));
    }
}

// Q8_0, f32 and Q4_0 in one group: each quantized format prepares its own activations.
static void t_mixed(void) {
    PS_CHECK(quant_register() == 0, "quant_register() failed");
    quant_set_simd(false);
    const DType types[N_MATS] = {DT_Q8_0, DT_F32, DT_Q4_0};
    check_types(types, "Q8_0, f32 and Q4_0");
}

// An activation that is infinite: every output of the quantized products is NaN, as quant_matmul
// gives it, and none is left unwritten.
static void t_not_finite(void) {
    PS_CHECK(quant_register() == 0, "quant_register() failed");
    quant_set_simd(false);
    const DType types[N_MATS] = {DT_Q4_0, DT_Q4_0, DT_Q8_0};
    Group g = make_group(types);
    enum { TOKENS = 3 };
    float *x = random_floats((size_t)TOKENS * COLS, 5u, 1.0f);
    x[COLS + 17] = INFINITY;   // token 1
    const Mat *const ws[N_MATS] = {&g.m[0], &g.m[1], &g.m[2]};
    float *outs[N_MATS];
    for (int i = 0; i < N_MATS; i++) {
        outs[i] = calloc((size_t)TOKENS * ROWS[i], sizeof(float));
        PS_CHECK(outs[i] != NULL, "out of memory");
    }
    pool_set_threads(3);
    matmul_many(outs, ws, N_MATS, x, TOKENS);
    pool_set_threads(1);
    for (int i = 0; i < N_MATS; i++)
        for (int o = 0; o < TOKENS * ROWS[i]; o++)
            PS_CHECK(isnan(outs[i][o]), "matrix %d, output %d: %g where an infinite activation must give NaN", i, o,
                     (double)outs[i][o]);
    for (int i = 0; i < N_MATS; i++) free(outs[i]);
    free(x);
    free_group(&g);
}

static const PsTest TESTS[] = {
    {"quant.matmul-many", t_formats, ANCHOR, 0},
    {"quant.matmul-many-mixed", t_mixed, ANCHOR, 0},
    {"quant.matmul-many-not-finite", t_not_finite, ANCHOR, 0},
};

int main(int argc, char **argv) { return ps_main("M5", TESTS, PS_COUNT(TESTS), argc, argv); }
