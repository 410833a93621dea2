// M5 tests, part 2: products with quantized weights. The oracle's quantized W (golden bytes, so a
// bug in your quantizer cannot hide here) times x must match dequant(W) @ x computed in float64 by
// tools/oracle_m5.py, within the error that rounding x to 8 bits can cause, bounded per output.
// Then: the thread count and the number of tokens must not change a single bit. These tests run
// your plain C kernels (quant_set_simd(false)); test_quant_simd.c checks the SIMD ones.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thread_pool.h"
#include "harness.h"
#include "model.h"
#include "quant.h"
#include "quant_model.h"

#define BLOCKS "golden/m5/blocks.psg"

static void check_product(const char *fmt, DType type, const char *anchor_task) {
    PsGolden *g = ps_golden_open(BLOCKS);
    char name[32];
    snprintf(name, sizeof name, "mm_%s", fmt);
    const PsTensor *wq = ps_golden_get(g, name), *xs = ps_golden_get(g, "mm_x");
    snprintf(name, sizeof name, "mm_out_%s", fmt);
    const float *want = ps_golden_get(g, name)->data;
    const float *x = xs->data;
    int rows = (int)wq->dims[0], n_tokens = (int)xs->dims[0], cols = (int)xs->dims[1];
    PS_CHECK((size_t)wq->dims[1] == quant_row_bytes(type, cols), "golden %s: %lld bytes per row",
             fmt, (long long)wq->dims[1]);
    float *out = malloc((size_t)n_tokens * rows * sizeof *out);
    quant_set_simd(false);   // your kernels (test_quant_simd.c compares the SIMD ones with them)
    quant_matmul(out, x, wq->data, type, rows, cols, n_tokens);

    // Bound: rounding x to 8 bits moves each x_j by at most half its block's step d_x = amax/127;
    // an output moves by at most sum_j |w_j| * d_x / 2, plus float rounding of the sums.
    float *w_row = malloc((size_t)cols * sizeof *w_row);
    for (int r = 0; r < rows; r++) {
        dequantize_row(type, (const uint8_t *)wq->data + (size_t)r * wq->dims[1], w_row, cols);
        for (int t = 0; t < n_tokens; t++) {
            const float *xt = x + (size_t)t * cols;
            double bound = 0, magnitude = 0;
            for (int b = 0; b < cols / 32; b++) {
                double amax = 0, wsum = 0;
                for (int j = b * 32; j < b * 32 + 32; j++) {
                    amax = fmax(amax, fabs(xt[j]));
                    wsum += fabs(w_row[j]);
                    magnitude += fabs(w_row[j] * xt[j]);
                }
                bound += wsum * amax / 127 / 2;
            }
            bound = bound * 1.001 + 1e-5 * magnitude;
            double got = out[(size_t)t * rows + r], w = want[(size_t)t * rows + r];
            if (!(fabs(got - w) <= bound))
                PS_FAIL("%s product, token %d row %d: got %.9g, want %.9g (error %.3g > bound %.3g; "
                        "see book/m5-quantization.md#%s)", fmt, t, r, got, w, fabs(got - w), bound,
                        anchor_task);
        }
    }
    free(w_row);
    free(out);
    ps_golden_close(g);
}

static void t_product_q8(void) { check_product("q8_0", DT_Q8_0, "dot-q8"); }
static void t_product_q4(void) { check_product("q4_0", DT_Q4_0, "dot-q4"); }
static void t_product_q4a(void) { check_product("q4a", DT_Q4A, "dot-q4a"); }

// A matrix with a row count that does not split evenly, several tokens, every format: the result
// with 2 and 3 threads equals the 1-thread result bit for bit, and equals one token at a time.
static void t_threads_and_tokens(void) {
    enum { ROWS = 101, COLS = 640, TOKENS = 5 };   // large enough for quant_matmul to use 3 threads
    static const DType types[] = {DT_Q8_0, DT_Q4_0, DT_Q4A};
    float *w = malloc(ROWS * COLS * sizeof *w), *x = malloc(TOKENS * COLS * sizeof *x);
    uint32_t s = 12345;
    for (int i = 0; i < ROWS * COLS; i++) w[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) * 0x1p-24f - 0.5f;
    for (int i = 0; i < TOKENS * COLS; i++) x[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) * 0x1p-23f - 1.0f;
    float one[TOKENS * ROWS], many[TOKENS * ROWS], single[ROWS];
    quant_set_simd(false);   // your product_rows
    for (size_t k = 0; k < PS_COUNT(types); k++) {
        size_t row_bytes = quant_row_bytes(types[k], COLS);
        uint8_t *wq = malloc(ROWS * row_bytes);
        for (int r = 0; r < ROWS; r++) quantize_row(types[k], w + r * COLS, wq + r * row_bytes, COLS);
        pool_set_threads(1);
        quant_matmul(one, x, wq, types[k], ROWS, COLS, TOKENS);
        for (int n = 2; n <= 3; n++) {
            pool_set_threads(n);
            quant_matmul(many, x, wq, types[k], ROWS, COLS, TOKENS);
            PS_CHECK(memcmp(one, many, sizeof one) == 0, "%s: %d threads give different bits than 1",
                     mat_type_name(types[k]), n);
        }
        for (int t = 0; t < TOKENS; t++) {
            quant_matmul(single, x + t * COLS, wq, types[k], ROWS, COLS, 1);
            PS_CHECK(memcmp(single, one + t * ROWS, sizeof single) == 0,
                     "%s: token %d alone differs from the same token in a batch of %d",
                     mat_type_name(types[k]), t, TOKENS);
        }
        free(wq);
    }
    pool_set_threads(1);
    free(w);
    free(x);
}

static const PsTest TESTS[] = {
    {"quant.product-q8_0", t_product_q8, "book/m5-quantization.md#dot-q8", 0},
    {"quant.product-q4_0", t_product_q4, "book/m5-quantization.md#dot-q4", 0},
    {"quant.product-q4a", t_product_q4a, "book/m5-quantization.md#dot-q4a", 0},
    {"quant.threads-and-tokens", t_threads_and_tokens, "book/m5-quantization.md#matmul-rows", 0},
};

int main(int argc, char **argv) {
    if (quant_register() != 0) return 1;   // so that mat_type_name() names the formats in messages
    return ps_main("M5", TESTS, PS_COUNT(TESTS), argc, argv);
}
