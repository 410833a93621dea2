// M2 tests, part 5: the blocking of the SIMD tiles (solutions/m2-forward/matmul_gemm.c, given
// code). Row blocks, column chunks and packed rows decide how fast a prompt's products run, never
// their bits: every (row, token) sum adds its products in one fixed order. So each blocking that
// tools/bench_gemm can try must write, bit for bit, what the same token computed alone writes,
// with f32 and bf16 matrices, row counts that are no multiple of a tile, rows with a tail after
// the last full vector, and the rows split between threads as matmul() splits them.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "harness.h"
#include "matmul_gemm.h"
#include "model.h"

#define ANCHOR "book/m2-forward.md#matmul-blocking"

static uint32_t next_random(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }

// The blockings tried: the defaults; none packed; blocks of a few rows, chunks of one or three
// AVX-512 vectors, packed from 1 token; a 1 MiB block with rows whole; 2 tokens packed.
static const GemmBlocking BLOCKINGS[] = {
    {0, 0, 0}, {0, 0, -1}, {1, 16, 1}, {5000, 48, 1}, {1 << 20, 1 << 20, 1}, {100, 512, 2},
};

// rows x cols random weights (f32 values a bf16 holds, so that both formats give the same sums)
// times n_tokens random tokens, under every blocking, split into 1 and 3 parts of rows.
static void check_shape(int rows, int cols, int n_tokens) {
    const size_t n_w = (size_t)rows * cols, n_x = (size_t)n_tokens * cols, n_out = (size_t)n_tokens * rows;
    float *W = malloc(n_w * sizeof *W), *x = malloc(n_x * sizeof *x);
    uint16_t *W16 = malloc(n_w * sizeof *W16);
    float *alone = malloc(n_out * sizeof *alone), *out = malloc(n_out * sizeof *out);
    PS_CHECK(W && x && W16 && alone && out, "out of memory");
    uint32_t s = 12345u + (uint32_t)cols;
    for (size_t i = 0; i < n_w; i++) {
        const float f = (float)(next_random(&s) >> 8) * 0x1p-23f - 1.0f;
        uint32_t bits;
        memcpy(&bits, &f, sizeof bits);
        W16[i] = (uint16_t)(bits >> 16);
        bits = (uint32_t)W16[i] << 16;
        memcpy(&W[i], &bits, sizeof bits);
    }
    for (size_t i = 0; i < n_x; i++) x[i] = (float)(next_random(&s) >> 8) * 0x1p-23f - 1.0f;
    for (int bf16 = 0; bf16 <= 1; bf16++) {
        const void *M = bf16 ? (const void *)W16 : (const void *)W;
        matmul_gemm_set_blocking((GemmBlocking){0, 0, 0});
        for (int t = 0; t < n_tokens; t++) {   // each token alone, as a decode computes it
            float *one = out;
            PS_CHECK(matmul_gemm_rows(one, x + (size_t)t * cols, M, bf16, rows, cols, 1, 0, rows),
                     "no SIMD kernel, though matmul_simd_name() says %s", matmul_simd_name());
            for (int r = 0; r < rows; r++) alone[(size_t)t * rows + r] = one[r];
        }
        for (size_t k = 0; k < PS_COUNT(BLOCKINGS); k++) {
            matmul_gemm_set_blocking(BLOCKINGS[k]);
            const GemmBlocking b = matmul_gemm_blocking();
            for (int parts = 1; parts <= 3; parts += 2) {
                memset(out, 0xff, n_out * sizeof *out);   // NaN: an output left out shows
                for (int p = 0; p < parts; p++) {
                    int r0, r1;
                    matmul_gemm_part(rows, p, parts, &r0, &r1);
                    matmul_gemm_rows(out, x, M, bf16, rows, cols, n_tokens, r0, r1);
                }
                for (size_t o = 0; o < n_out; o++)
                    PS_CHECK(memcmp(&out[o], &alone[o], sizeof *out) == 0,
                             "%s %d x %d, %d tokens in %d part(s), blocks of %d bytes, chunks of %d columns, "
                             "packed from %d tokens: token %zu row %zu is %.9g, alone %.9g (%s)",
                             bf16 ? "bf16" : "f32", rows, cols, n_tokens, parts, b.block_bytes, b.chunk_cols,
                             b.pack_min_tokens, o / (size_t)rows, o % (size_t)rows, (double)out[o],
                             (double)alone[o], matmul_simd_name());
            }
        }
    }
    matmul_gemm_set_blocking((GemmBlocking){0, 0, 0});
    free(W), free(x), free(W16), free(alone), free(out);
}

static void t_gemm_blocking(void) {
    {   // your loop first: on a skeleton, this test stops at your matmul task
        matmul_use_simd(false);
        Mat one = {.dtype = DT_F32, .rows = 1, .cols = 1, .data = &(float){2.0f}};
        float y;
        matmul(&y, &(float){3.0f}, &one, 1);
        PS_CHECK(y == 6.0f, "a 1 x 1 product: 2 * 3 gave %g", (double)y);
    }
    matmul_use_simd(true);
    if (strcmp(matmul_simd_name(), "plain C") == 0) PS_SKIP("no SIMD kernel for this CPU");
    check_shape(37, 1031, 13);   // a row left after the tiles, a tail of 7 columns, tokens in 6s, 3s, pairs
    check_shape(64, 2053, 40);   // chunks of columns, enough tokens for the default packing
    check_shape(21, 256, 5);
    matmul_use_simd(false);
}

static const PsTest TESTS[] = {
    {"ops.gemm-blocking", t_gemm_blocking, ANCHOR, 0},
};

int main(int argc, char **argv) { return ps_main("M2", TESTS, PS_COUNT(TESTS), argc, argv); }
