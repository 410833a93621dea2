// M5 tests, part 3: the SIMD products (solutions/m5-quantization/quant_simd.c, quant_avx512.c) against your plain
// kernels. Two kinds of SIMD kernel are checked, each where this CPU has one:
//   - the exact ones (AVX2, NEON, and a prompt's tiles: AVX2's and AVX-512 VNNI's) compute each
//     block's integer sum with vector instructions and then repeat your float expression, in your
//     order: they must agree with you bit for bit;
//   - the lane ones (AVX-512) add in vector lanes, so they may differ by rounding: at most
//     (2 * blocks + 16) * 2^-24 * sum_j |w_j x_j| (plus |bias| |x_j| for Q4A), twice the textbook
//     bound for summing the same terms in any order, since both sums are within it of the truth.
// On random blocks, on rows whose length is not a multiple of the vector width, on rows that end
// where memory ends, in the activation quantization, and through quant_matmul on several tokens
// and threads. Your kernels run first: if they are not written yet, the test stops at their TODO.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "thread_pool.h"
#include "harness.h"
#include "model.h"
#include "quant.h"
#include "quant_model.h"
#include "quant_simd.h"   // quant_simd_prompt_exact

static uint32_t next(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }

// A random finite half: any sign and mantissa, exponents 1..29 plus subnormals (no inf/NaN).
static void random_f16(uint8_t p[2], uint32_t *s) {
    uint16_t h = (uint16_t)(next(s) >> 16);
    if (((h >> 10) & 0x1f) >= 30) h &= 0xbfff;   // exponent 30 or 31 -> 14 or 15
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

// Random bytes for n weights of a row: every quant value is possible, scales are random halves.
static void random_row(DType type, uint8_t *row, int n, uint32_t *s) {
    size_t bytes = quant_row_bytes(type, n), block = quant_block_bytes(type);
    for (size_t i = 0; i < bytes; i++) row[i] = (uint8_t)(next(s) >> 24);
    for (size_t b = 0; b < bytes / block; b++) {
        random_f16(row + b * block, s);
        if (type == DT_Q4A) random_f16(row + b * block + 2, s);
        if (type == DT_Q8_0)   // Q8_0's quants are -127..127; -128 never occurs
            for (int j = 0; j < QK8_0; j++)
                if (row[b * block + 2 + j] == 0x80) row[b * block + 2 + j] = 0x81;
    }
}

// Random activations as quantize_act makes them (qs in -127..127, sum = their sum), plus the
// extremes: all +127 and all -127 blocks, the largest integer sums.
static void random_act(QuantAct *x, int n_blocks, uint32_t *s) {
    for (int b = 0; b < n_blocks; b++) {
        int kind = (int)(next(s) >> 29);
        x[b].d = (float)(next(s) >> 8) * 0x1p-30f;
        x[b].sum = 0;
        for (int j = 0; j < 32; j++) {
            int v = kind == 0 ? 127 : kind == 1 ? -127 : (int)(next(s) >> 24) % 255 - 127;
            x[b].qs[j] = (int16_t)v;
            x[b].sum += v;
        }
    }
}

static const DType TYPES[] = {DT_Q8_0, DT_Q4_0, DT_Q4A};

// Pass 0: the best exact SIMD kernel; pass 1: the best of all, if it is another (a lane kernel).
// False when this pass has nothing to test.
static bool choose_kernel(int pass) {
    if (pass == 0) return quant_set_simd_exact();
    quant_set_simd(true);
    return quant_simd_enabled() && !quant_simd_exact();
}

// The scale of the rounding errors of one product: sum_j |w_j x_j| (+ |bias| |x_j| for Q4A), in
// double, from your dequantize_row and the activations' own values.
static double magnitude(DType type, const uint8_t *row, const QuantAct *x, int n) {
    float *w = malloc((size_t)n * sizeof *w);
    dequantize_row(type, row, w, n);
    double m = 0;
    for (int j = 0; j < n; j++) {
        double xj = fabs((double)x[j / 32].d * x[j / 32].qs[j % 32]), bias = 0;
        if (type == DT_Q4A) {
            const uint8_t *g = row + (size_t)(j / QK4A) * quant_block_bytes(type) + 2;
            bias = fabs((double)q_f16_to_f32((uint16_t)(g[0] | g[1] << 8)));
        }
        m += (fabs((double)w[j]) + bias) * xj;
    }
    free(w);
    return m;
}

// Exact kernels: the same bits. Lane kernels: within the bound above.
static bool agrees(float plain, float simd, int n, double m) {
    if (quant_simd_exact()) return memcmp(&plain, &simd, sizeof plain) == 0;
    return fabs((double)simd - plain) <= (2.0 * (n / 32) + 16) * 0x1p-24 * m;
}

// The same for one output of a product (row of w, token x) that is `exact` or not: the bound's
// magnitude is computed only where it is needed.
static bool output_agrees(bool exact, float plain, float simd, DType type, const uint8_t *row, const QuantAct *x, int n) {
    if (exact) return memcmp(&plain, &simd, sizeof plain) == 0;
    return fabs((double)simd - plain) <= (2.0 * (n / 32) + 16) * 0x1p-24 * magnitude(type, row, x, n);
}

// Dot products of random rows, every length from one block (or group) to 40, then a long row.
static void t_simd_dot(void) {
    enum { MAX_N = 64 * 300 };
    uint8_t *row = malloc(quant_row_bytes(DT_Q8_0, MAX_N));
    QuantAct *x = malloc(MAX_N / 32 * sizeof *x);
    int checked = 0;
    for (int pass = 0; pass < 2; pass++) {
        uint32_t s = 2024;
        for (size_t k = 0; k < PS_COUNT(TYPES); k++) {
            const int len = quant_block_len(TYPES[k]);
            for (int blocks = 1; blocks <= 41; blocks++) {
                const int n = blocks <= 40 ? blocks * len : MAX_N;
                for (int rep = 0; rep < 4; rep++) {
                    random_row(TYPES[k], row, n, &s);
                    random_act(x, n / 32, &s);
                    quant_set_simd(false);
                    float plain = quant_dot(TYPES[k], row, x, n);   // your kernel
                    if (!choose_kernel(pass)) continue;
                    float simd = quant_simd_dot(TYPES[k], row, x, n);
                    PS_CHECK(agrees(plain, simd, n, magnitude(TYPES[k], row, x, n)),
                             "%s, %d weights: plain C gives %.9g (%a), %s gives %.9g (%a)", mat_type_name(TYPES[k]),
                             n, (double)plain, (double)plain, quant_simd_name(), (double)simd, (double)simd);
                    checked++;
                }
            }
        }
    }
    if (checked == 0) PS_SKIP("no SIMD kernel for this CPU (the products run your plain C)");
    PS_CHECK(checked == 3 * 41 * 4 || checked == 2 * 3 * 41 * 4, "only %d products compared", checked);
    free(row);
    free(x);
}

// A row that ends exactly where readable memory ends (the next page is PROT_NONE): vector loads
// must not read past a matrix's last byte. Every length from 1 to 17 blocks, so that the last
// step of the kernels is full, partial and single.
static void t_simd_row_end(void) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *mem = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    PS_CHECK(mem != MAP_FAILED, "mmap failed");
    PS_CHECK(mprotect(mem + page, page, PROT_NONE) == 0, "mprotect failed");
    QuantAct x[17 * 2];
    uint32_t s = 5;
    int checked = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < PS_COUNT(TYPES); k++)
            for (int blocks = 1; blocks <= 17; blocks++) {
                const int n = blocks * quant_block_len(TYPES[k]);
                uint8_t *row = mem + page - quant_row_bytes(TYPES[k], n);
                random_row(TYPES[k], row, n, &s);
                random_act(x, n / 32, &s);
                quant_set_simd(false);
                const float plain = quant_dot(TYPES[k], row, x, n);
                if (!choose_kernel(pass)) continue;
                const float simd = quant_simd_dot(TYPES[k], row, x, n);   // a fault here is the failure
                PS_CHECK(agrees(plain, simd, n, magnitude(TYPES[k], row, x, n)), "%s, %d weights at the end of memory: "
                         "plain C %.9g, %s %.9g", mat_type_name(TYPES[k]), n, (double)plain, quant_simd_name(), (double)simd);
                checked++;
            }
    munmap(mem, 2 * page);
    if (checked == 0) PS_SKIP("no SIMD kernel for this CPU");
}

// Activation quantization: random rows, plus blocks that land exactly on halves (x = k + 0.5 with
// 127 in the block, so d = 1), zeros, tiny and huge values.
static void t_simd_act(void) {
    enum { N = 32 * 64 };
    float *x = malloc(N * sizeof *x);
    QuantAct *plain = malloc(N / 32 * sizeof *plain), *simd = malloc(N / 32 * sizeof *simd);
    uint32_t s = 99;
    for (int rep = 0; rep < 20; rep++) {
        for (int i = 0; i < N; i++) {
            const int block = i / 32, j = i % 32;
            const float r = (float)(next(&s) >> 8) * 0x1p-23f - 1.0f;   // -1 .. 1
            switch (block % 8) {
            case 0: x[i] = j == 0 ? 127.0f : (float)((int)(next(&s) >> 25) - 63) + 0.5f; break;   // halves
            case 1: x[i] = 0.0f; break;
            case 2: x[i] = r * 1e-30f; break;   // tiny (not below ~1e-36: then 1 / d overflows)
            case 3: x[i] = r * 1e30f; break;
            case 4: x[i] = j == 5 ? -3.0f : 0.0f; break;   // one value, negative
            default: x[i] = r * (float)(rep + 1); break;
            }
        }
        quantize_act(x, plain, N);   // yours
        quant_set_simd(true);
        if (!quant_simd_enabled()) PS_SKIP("no SIMD kernel for this CPU");
        quant_simd_act(x, simd, N);
        for (int b = 0; b < N / 32; b++) {
            PS_CHECK(memcmp(&plain[b].d, &simd[b].d, sizeof(float)) == 0 && plain[b].sum == simd[b].sum,
                     "block %d: plain C d = %a, sum = %d; %s d = %a, sum = %d", b, (double)plain[b].d, plain[b].sum,
                     quant_simd_name(), (double)simd[b].d, simd[b].sum);
            for (int j = 0; j < 32; j++)
                PS_CHECK(plain[b].qs[j] == simd[b].qs[j], "block %d, x[%d] = %.9g: plain C q = %d, %s q = %d", b, j,
                         (double)x[b * 32 + j], plain[b].qs[j], quant_simd_name(), simd[b].qs[j]);
        }
    }
    free(x);
    free(plain);
    free(simd);
}

// Whole products through quant_matmul, rows that do not split evenly, 1 and 2 threads, and
// several prompt lengths: 5 tokens (AVX2: a tile of 8, padded; AVX-512: the lane kernels, 4 at a
// time), 19 and 40 (the tiles of 2 x 8 tokens of AVX2, of 16 tokens of AVX-512 VNNI, the last
// ones padded, and a group left over for VNNI's 2-group tiles), and 12 tokens on 610 rows (one
// padded group; each thread's rows span two of the VNNI tiles' panels and end in single rows).
// A prompt through an exact route (quant_simd_prompt_exact: the AVX2 and VNNI tiles) must give
// your bits exactly, memcmp; through lane kernels, within the bound. Any kernel gives the same
// bits with 1 and 2 threads (each row is one thread's, whole). And a token alone (a decode step)
// must give the same bits as in the prompt where both go the same way (both exact, or both
// through the lane kernels, which do for each token of a prompt what they do for it alone); on a
// CPU whose prompts take the exact VNNI tiles and whose decode the AVX-512 lane kernels, the two
// differ by rounding only, within the bound.
static void t_simd_matmul(void) {
    enum { COLS = 64 * 13, MAX_ROWS = 610, MAX_TOKENS = 40 };   // 29 x 832 x 19: 460K multiply-adds, 2 parts or more
    static const struct { int rows, tokens; } SHAPES[] = {{29, 19}, {29, 5}, {29, 40}, {MAX_ROWS, 12}};
    float *x = malloc(MAX_TOKENS * COLS * sizeof *x), *plain = malloc(MAX_TOKENS * MAX_ROWS * sizeof *plain),
          *simd = malloc(MAX_TOKENS * MAX_ROWS * sizeof *simd), *other = malloc(MAX_TOKENS * MAX_ROWS * sizeof *simd);
    QuantAct *xq = malloc(MAX_TOKENS * COLS / 32 * sizeof *xq);
    uint32_t s = 77;
    int checked = 0;
    for (int i = 0; i < MAX_TOKENS * COLS; i++) x[i] = (float)(next(&s) >> 8) * 0x1p-22f - 2.0f;
    quant_set_simd(false);
    quantize_act(x, xq, MAX_TOKENS * COLS);   // what quant_matmul does to each token (cols / 32 blocks each)
    for (size_t k = 0; k < PS_COUNT(TYPES); k++) {
        const size_t row_bytes = quant_row_bytes(TYPES[k], COLS);
        uint8_t *w = malloc(MAX_ROWS * row_bytes);
        for (int r = 0; r < MAX_ROWS; r++) random_row(TYPES[k], w + r * row_bytes, COLS, &s);
        for (size_t shape = 0; shape < PS_COUNT(SHAPES); shape++) {
            const int rows = SHAPES[shape].rows, tokens = SHAPES[shape].tokens;
            for (int pass = 0; pass < 2; pass++) {
                pool_set_threads(1);
                quant_set_simd(false);
                quant_matmul(plain, x, w, TYPES[k], rows, COLS, tokens);
                if (!choose_kernel(pass)) continue;
                const bool prompt_exact = quant_simd_prompt_exact(tokens), alone_exact = quant_simd_prompt_exact(1);
                for (int threads = 1; threads <= 2; threads++) {
                    pool_set_threads(threads);
                    quant_matmul(simd, x, w, TYPES[k], rows, COLS, tokens);
                    for (int i = 0; i < tokens * rows; i++) {
                        const int t = i / rows, r = i % rows;
                        PS_CHECK(output_agrees(prompt_exact, plain[i], simd[i], TYPES[k], w + r * row_bytes, xq + t * COLS / 32, COLS),
                                 "%s, %d tokens, %d thread(s), token %d row %d: plain C %.9g, %s %.9g (%s)",
                                 mat_type_name(TYPES[k]), tokens, threads, t, r, (double)plain[i], quant_simd_name(),
                                 (double)simd[i], prompt_exact ? "must be the same bits" : "too far");
                        if (threads == 1) other[i] = simd[i];
                        else PS_CHECK(memcmp(&other[i], &simd[i], sizeof *simd) == 0,
                                      "%s, %s, %d tokens, token %d row %d: 1 thread %.9g, 2 threads %.9g", mat_type_name(TYPES[k]),
                                      quant_simd_name(), tokens, t, r, (double)other[i], (double)simd[i]);
                    }
                    checked++;
                }
                for (int t = 0; t < tokens; t++) {   // a decode step: the token alone
                    quant_matmul(other, x + (size_t)t * COLS, w, TYPES[k], rows, COLS, 1);
                    for (int r = 0; r < rows; r++)
                        PS_CHECK(output_agrees(prompt_exact == alone_exact, simd[(size_t)t * rows + r], other[r], TYPES[k],
                                               w + r * row_bytes, xq + t * COLS / 32, COLS),
                                 "%s, %s: token %d alone differs from token %d among %d, row %d: %.9g, %.9g",
                                 mat_type_name(TYPES[k]), quant_simd_name(), t, t, tokens, r, (double)other[r],
                                 (double)simd[(size_t)t * rows + r]);
                }
            }
        }
        free(w);
    }
    pool_set_threads(1);
    if (checked == 0) PS_SKIP("no SIMD kernel for this CPU");
    free(x);
    free(plain);
    free(simd);
    free(other);
    free(xq);
}

static const PsTest TESTS[] = {
    {"quant.simd-dot", t_simd_dot, "book/m5-quantization.md#simd", 0},
    {"quant.simd-row-end", t_simd_row_end, "book/m5-quantization.md#simd", 0},
    {"quant.simd-act", t_simd_act, "book/m5-quantization.md#simd", 0},
    {"quant.simd-matmul", t_simd_matmul, "book/m5-quantization.md#simd", 0},
};

int main(int argc, char **argv) {
    if (quant_register() != 0) return 1;   // so that mat_type_name() names the formats in messages
    return ps_main("M5", TESTS, PS_COUNT(TESTS), argc, argv);
}
