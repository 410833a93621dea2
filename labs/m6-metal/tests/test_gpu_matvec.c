// M6 tests, part 2: the matrix-vector products y = W x on the GPU (the emulator on Linux), with W
// in f32, Q8_0, Q4_0 and Q4A (M5's blocks, read in place).
//
// References and tolerances:
//   - the CPU on the same weights: f32 through forward.h's matmul; quantized rows dequantized by
//     quant.h's dequantize_row, then multiplied in double. atol 1e-4 + rtol 1e-4: only the order
//     of the additions differs (up to 3072 terms).
//   - transformers' layer-0 projections (golden/m2/ops-MODEL.psg): f32 weights within 1e-4, as in
//     lab M2; quantized weights are not the same weights any more, so there the test bounds the
//     relative error of the whole output vector, ||y - y_hf|| / ||y_hf||: < 1% for Q8_0, < 12% for
//     Q4_0 and Q4A (measured on these synthetic models, whose random weights are hard on 4 bits:
//     0.5% and 8%; a wrong scale or nibble order gives 100% and more).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "gpu.h"
#include "harness.h"
#include "model.h"
#include "quant.h"

#define ANCHOR(task) "book/m6-metal.md#" task

static Gpu *open_gpu(void) {
    Gpu *g = gpu_new();
    PS_CHECK(g != NULL, "gpu_new failed (message above)");
    return g;
}

static void fill(float *x, size_t n, unsigned seed, float scale) {
    unsigned s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = ((float)(s >> 8) / 16777216.0f * 2.0f - 1.0f) * scale;
    }
}

// W (rows x cols, f32) stored as `type`: the f32 copy, or the rows quantized by M5's quantize_row.
static void *store(const float *w, DType type, int rows, int cols, size_t *bytes) {
    size_t row_bytes = type == DT_F32 ? (size_t)cols * 4 : quant_row_bytes(type, cols);
    unsigned char *data = malloc(row_bytes * rows);
    for (int r = 0; r < rows; r++) {
        if (type == DT_F32) memcpy(data + r * row_bytes, w + (size_t)r * cols, row_bytes);
        else quantize_row(type, w + (size_t)r * cols, data + r * row_bytes, cols);
    }
    *bytes = row_bytes * rows;
    return data;
}

// y = W x on the GPU. The weights sit at an offset in their buffer, as they will in M7's model.
static float *gpu_product(Gpu *g, const void *w, size_t w_bytes, DType type, int rows, int cols, const float *x) {
    const size_t at = 4096;
    MtlBuffer *bw = gpu_alloc(g, at + w_bytes), *bx = gpu_upload(g, x, (size_t)cols * 4), *by = gpu_alloc(g, (size_t)rows * 4);
    memcpy((char *)mtl_buffer_ptr(bw) + at, w, w_bytes);
    GpuBatch *b = gpu_begin(g);
    gpu_matvec(b, GPU_REF(by, 0), GPU_REF(bw, at), type, rows, cols, GPU_REF(bx, 0));
    PS_CHECK(gpu_run(b, NULL) == 0, "gpu_run: %s", gpu_error(g));
    float *y = malloc((size_t)rows * 4);
    memcpy(y, mtl_buffer_ptr(by), (size_t)rows * 4);
    gpu_release(g, bw), gpu_release(g, bx), gpu_release(g, by);
    return y;
}

// The CPU reference: each row widened to f32 (dequantize_row for blocks), dot product in double.
static void cpu_product(float *y, const void *w, DType type, int rows, int cols, const float *x) {
    float *row = malloc((size_t)cols * 4);
    size_t row_bytes = type == DT_F32 ? (size_t)cols * 4 : quant_row_bytes(type, cols);
    for (int r = 0; r < rows; r++) {
        const unsigned char *src = (const unsigned char *)w + r * row_bytes;
        if (type == DT_F32) memcpy(row, src, row_bytes);
        else dequantize_row(type, src, row, cols);
        double acc = 0;
        for (int c = 0; c < cols; c++) acc += (double)row[c] * x[c];
        y[r] = (float)acc;
    }
    free(row);
}

static void check_shapes(DType type, const int (*shapes)[2], size_t n) {
    Gpu *g = open_gpu();
    for (size_t s = 0; s < n; s++) {
        int rows = shapes[s][0], cols = shapes[s][1];
        float *w = malloc((size_t)rows * cols * 4), *x = malloc((size_t)cols * 4), *want = malloc((size_t)rows * 4);
        fill(w, (size_t)rows * cols, (unsigned)s, 1.0f);
        fill(x, (size_t)cols, 1000 + (unsigned)s, 2.0f);
        size_t bytes;
        void *data = store(w, type, rows, cols, &bytes);
        cpu_product(want, data, type, rows, cols, x);
        float *got = gpu_product(g, data, bytes, type, rows, cols, x);
        char label[80];
        snprintf(label, sizeof label, "matvec type %d, %d x %d", (int)type, rows, cols);
        PS_CHECK_CLOSE(label, got, want, (size_t)rows, 1e-4, 1e-4);
        if (type == DT_F32) {   // forward.h's matmul agrees too
            Mat m = {DT_F32, rows, cols, w};
            matmul(want, x, &m, 1);
            PS_CHECK_CLOSE(label, got, want, (size_t)rows, 1e-4, 1e-4);
        }
        free(w), free(x), free(want), free(got), free(data);
    }
    gpu_free(g);
}

// Ragged shapes: rows not a multiple of the 4 rows of a threadgroup, f32 columns not a multiple of 32.
static void t_matvec_f32(void) {
    const int shapes[][2] = {{1, 1}, {5, 24}, {33, 31}, {3, 33}, {100, 1000}, {1024, 64}, {7, 3072}};
    check_shapes(DT_F32, shapes, PS_COUNT(shapes));
}
static void t_matvec_q8_0(void) {
    const int shapes[][2] = {{1, 32}, {3, 64}, {37, 96}, {6, 160}, {257, 1024}, {9, 3072}};
    check_shapes(DT_Q8_0, shapes, PS_COUNT(shapes));
}
static void t_matvec_q4_0(void) {
    const int shapes[][2] = {{1, 32}, {3, 64}, {37, 96}, {6, 160}, {257, 1024}, {9, 3072}};
    check_shapes(DT_Q4_0, shapes, PS_COUNT(shapes));
}
// Q4A's kernel is given (no TODO): groups of 64, 8 lanes per group.
static void t_matvec_q4a(void) {
    const int shapes[][2] = {{1, 64}, {3, 128}, {37, 192}, {6, 320}, {257, 1024}, {9, 3072}};
    check_shapes(DT_Q4A, shapes, PS_COUNT(shapes));
}

// ---- against transformers: the seven projections of layer 0, every golden token ----
static double rel_err(const float *got, const float *want, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)got[i] - want[i]) * ((double)got[i] - want[i]);
        den += (double)want[i] * want[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

static void t_matvec_hf(void) {
    const char *models[] = {"tiny-gqa2-bf16", "small-gqa4-bf16"};
    for (size_t mi = 0; mi < PS_COUNT(models); mi++) {
        char path[300];
        const char *dir = ps_model(models[mi]);
        Model m;
        PS_CHECK(model_load(&m, dir, PS_MAP_MMAP) == 0, "model_load(%s) failed (lab M1)", dir);
        snprintf(path, sizeof path, "golden/m2/ops-%s.psg", models[mi]);
        PsGolden *gd = ps_golden_open(path);
        int n = (int)ps_golden_get(gd, "x")->dims[0];
        const Layer *L = &m.layers[0];
        struct { const Mat *w; const char *in, *out; } cases[] = {
            {&L->wq, "attn_norm", "q_proj"}, {&L->wk, "attn_norm", "k_proj"}, {&L->wv, "attn_norm", "v_proj"},
            {&L->wo, "attn_out", "o_proj"}, {&L->w_gate, "mlp_norm", "gate"}, {&L->w_up, "mlp_norm", "up"},
            {&L->w_down, "act", "down"}};
        Gpu *g = open_gpu();
        const DType types[] = {DT_F32, DT_Q8_0, DT_Q4_0, DT_Q4A};
        const double bound[] = {0, 0.01, 0.12, 0.12};
        for (size_t c = 0; c < PS_COUNT(cases); c++) {
            const Mat *w = cases[c].w;
            const float *in = ps_golden_get(gd, cases[c].in)->data, *want = ps_golden_get(gd, cases[c].out)->data;
            for (size_t t = 0; t < PS_COUNT(types); t++) {
                if (types[t] != DT_F32 && w->cols % quant_block_len(types[t]) != 0) continue;   // M5 keeps those f32
                size_t bytes;
                void *data = store(w->data, types[t], w->rows, w->cols, &bytes);
                float *got = malloc((size_t)n * w->rows * 4);
                for (int tok = 0; tok < n; tok++) {
                    float *y = gpu_product(g, data, bytes, types[t], w->rows, w->cols, in + (size_t)tok * w->cols);
                    memcpy(got + (size_t)tok * w->rows, y, (size_t)w->rows * 4);
                    free(y);
                }
                char label[160];
                snprintf(label, sizeof label, "%s: %s as type %d (vs transformers)", models[mi], cases[c].out, (int)types[t]);
                if (types[t] == DT_F32) {
                    PS_CHECK_CLOSE(label, got, want, (size_t)n * w->rows, 1e-4, 1e-4);
                } else {
                    double e = rel_err(got, want, (size_t)n * w->rows);
                    PS_CHECK(e < bound[t], "%s: relative error %.4f, bound %.2f", label, e, bound[t]);
                }
                free(got), free(data);
            }
        }
        gpu_free(g);
        ps_golden_close(gd);
        model_free(&m);
    }
}

// Arguments the kernels cannot take are refused with a message, and nothing runs.
static void t_matvec_errors(void) {
    Gpu *g = open_gpu();
    MtlBuffer *w = gpu_alloc(g, 34 * 4), *x = gpu_alloc(g, 128 * 4), *y = gpu_alloc(g, 64);
    struct { DType type; int rows, cols; size_t w_off; const char *why; } bad[] = {
        {DT_Q8_0, 1, 48, 0, "cols not a multiple of 32"}, {DT_Q8_0, 5, 32, 0, "weights past the buffer"},
        {DT_Q8_0, 1, 32, 1, "misaligned blocks"}, {DT_Q4A, 1, 96, 0, "cols not a multiple of 64"},
        {DT_BF16, 1, 32, 0, "no kernel for BF16"},
        {DT_F32, 1, 200, 0, "x too short"}, {DT_F32, 0, 4, 0, "no rows"}};
    for (size_t i = 0; i < PS_COUNT(bad); i++) {
        GpuBatch *b = gpu_begin(g);
        gpu_matvec(b, GPU_REF(y, 0), GPU_REF(w, bad[i].w_off), bad[i].type, bad[i].rows, bad[i].cols, GPU_REF(x, 0));
        PS_CHECK(gpu_run(b, NULL) == -1 && strstr(gpu_error(g), "matvec"), "accepted: %s", bad[i].why);
    }
    // and a good call after the bad ones still works
    fill(mtl_buffer_ptr(x), 32, 3, 1.0f);
    quantize_row_q8_0(mtl_buffer_ptr(x), mtl_buffer_ptr(w), 32);
    float want;
    cpu_product(&want, mtl_buffer_ptr(w), DT_Q8_0, 1, 32, mtl_buffer_ptr(x));
    GpuBatch *b = gpu_begin(g);
    gpu_matvec(b, GPU_REF(y, 0), GPU_REF(w, 0), DT_Q8_0, 1, 32, GPU_REF(x, 0));
    PS_CHECK(gpu_run(b, NULL) == 0, "gpu_run: %s", gpu_error(g));
    PS_CHECK_CLOSE("Q8_0 1 x 32 after errors", (float *)mtl_buffer_ptr(y), &want, 1, 1e-4, 1e-4);
    gpu_free(g);
}

static const PsTest TESTS[] = {
    {"gpu.matvec_f32", t_matvec_f32, ANCHOR("matvec-f32-kernel"), 60},
    {"gpu.matvec_q8_0", t_matvec_q8_0, ANCHOR("matvec-q8-kernel"), 60},
    {"gpu.matvec_q4_0", t_matvec_q4_0, ANCHOR("matvec-q4-kernel"), 60},
    {"gpu.matvec_q4a", t_matvec_q4a, ANCHOR("matvec-q4a"), 60},
    {"gpu.matvec_hf", t_matvec_hf, ANCHOR("matvec-dispatch"), 120},
    {"gpu.matvec_errors", t_matvec_errors, ANCHOR("matvec-dispatch"), 30},
};

int main(int argc, char **argv) { return ps_main("M6", TESTS, PS_COUNT(TESTS), argc, argv); }
