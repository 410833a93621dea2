// mlx_lm folders (solutions/m5-quantization/mlx_model.c; book/appendix-formats.md#mlx): folders
// written by tools/oracle_mlx.py (a transcription of MLX's affine quantizer) from the synthetic
// tiny-gqa2-bf16 model, in 4 and 8 bits, groups of 64 and 32. Each loaded matrix must hold exactly
// the dequantized weights the oracle wrote beside it (scale * q + bias in f32), in the format
// mlx_model.h promises, and the logits must follow those weights' logits:
//   MLX4/MLX8 (float kernels, the same products summed in another order): within 1e-4;
//   Q4A (M5's kernels round the activations to 8 bits first, which on this random model moves
//   logits of size 1 to 8 by up to 0.28, measured): within 0.4. The weights themselves are
//   checked bit for bit, so the tolerance covers only the activations' rounding.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "harness.h"
#include "mlx_model.h"

static const int32_t IDS[] = {1, 17, 300, 42, 256, 381, 7, 99, 380, 5};
#define N_IDS ((int)(sizeof IDS / sizeof IDS[0]))

// Every matrix of m, in a fixed order.
static int mats_of(Model *m, Mat **out) {
    int n = 0;
    out[n++] = &m->embed;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        Layer *L = &m->layers[l];
        Mat *mats[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (int k = 0; k < 7; k++) out[n++] = mats[k];
    }
    return n;
}

static void check_variant(const char *name, DType want_type, double tolerance) {
    char dir[128], ref_dir[128];
    snprintf(dir, sizeof dir, "golden/mlx/%s", name);
    snprintf(ref_dir, sizeof ref_dir, "golden/mlx/%s-dequant", name);
    PS_CHECK(mlx_path_is_mlx(dir) && !mlx_path_is_mlx(ref_dir), "mlx_path_is_mlx");
    Model m, ref;
    PS_CHECK(mlx_model_load(&m, dir) == 0, "cannot load %s", dir);
    PS_CHECK(model_load(&ref, ref_dir, PS_MAP_READ) == 0, "cannot load %s", ref_dir);
    PS_CHECK(m.lm_head_is_embed, "the tied model shares its embedding");
    Mat *a[64], *b[64];
    int n = mats_of(&m, a);
    PS_CHECK(mats_of(&ref, b) == n, "matrix count");
    float *row = malloc(4096 * sizeof *row);
    for (int k = 0; k < n; k++) {
        PS_CHECK(a[k]->dtype == want_type, "%s: matrix %d is %s, not %s", name, k, mat_type_name(a[k]->dtype),
                 mat_type_name(want_type));
        PS_CHECK(b[k]->dtype == DT_F32 && a[k]->rows == b[k]->rows && a[k]->cols == b[k]->cols && a[k]->cols <= 4096,
                 "shapes");
        for (int r = 0; r < a[k]->rows; r++) {
            matmul_kernels(a[k])->get_row(row, a[k], r);
            const float *want = (const float *)b[k]->data + (size_t)r * (size_t)b[k]->cols;
            if (memcmp(row, want, (size_t)a[k]->cols * sizeof *row) != 0) {
                PS_CHECK(ps_close_f32("row", row, want, (size_t)a[k]->cols, 0, 0), "%s: matrix %d row %d differs", name, k, r);
            }
        }
    }
    size_t n_logits = (size_t)N_IDS * (size_t)m.cfg.vocab_size;
    float *got = malloc(n_logits * sizeof *got), *want = malloc(n_logits * sizeof *want);
    PS_CHECK(forward(&m, IDS, N_IDS, got, NULL) == 0 && forward(&ref, IDS, N_IDS, want, NULL) == 0, "forward");
    size_t where;
    printf("    %s: %s, largest logit difference %.2g\n", name, mat_type_name(want_type),
           ps_max_abs_err(got, want, n_logits, &where));
    PS_CHECK_CLOSE(name, got, want, n_logits, tolerance, 0);
    free(row);
    free(got);
    free(want);
    model_free(&m);
    model_free(&ref);
}

static void t_q4g64(void) { check_variant("q4g64", DT_Q4A, 0.4); }
static void t_q4g32(void) { check_variant("q4g32", DT_MLX4, 1e-4); }
static void t_q8g64(void) { check_variant("q8g64", DT_MLX8, 1e-4); }
static void t_q8g32(void) { check_variant("q8g32", DT_MLX8, 1e-4); }

// A folder that lies: U32 rows that are neither 4 nor 8 bits wide, or missing biases.
static void t_bad(void) {
    char dir[512], cmd[1200];
    snprintf(dir, sizeof dir, "%s/bad", ps_test_dir());
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp golden/mlx/q4g32/config.json %s/", dir, dir);
    PS_CHECK(system(cmd) == 0, "cannot make %s", dir);
    // The safetensors file of q4g32 with 'model.norm.weight' renamed: an unexpected tensor and a
    // missing one, found by name.
    PsFile f;
    PS_CHECK(ps_file_open(&f, "golden/mlx/q4g32/model.safetensors", PS_MAP_READ) == 0, "open");
    size_t size = f.size;
    unsigned char *copy = malloc(size);
    PS_CHECK(copy && size > 4096, "size");
    memcpy(copy, f.data, size);
    ps_file_close(&f);
    unsigned char *hit = NULL;
    for (size_t i = 8; i + 17 < size && !hit; i++)
        if (memcmp(copy + i, "model.norm.weight", 17) == 0) hit = copy + i;
    PS_CHECK(hit, "no model.norm.weight in the header");
    memcpy(hit, "model.norm.wexght", 17);
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *out = fopen(path, "wb");
    PS_CHECK(out && fwrite(copy, 1, size, out) == size && fclose(out) == 0, "write");
    free(copy);
    Model m;
    PsCapture cap;
    ps_capture_begin(&cap, 2);
    int rc = mlx_model_load(&m, dir);
    char *msg = ps_capture_end(&cap);
    PS_CHECK(rc != 0 && strstr(msg, "model.norm.weight"), "message: %s", msg);
    free(msg);
}

static const PsTest TESTS[] = {
    {"mlx.q4g64_as_q4a", t_q4g64, "book/appendix-formats.md#mlx", 0},
    {"mlx.q4g32_native", t_q4g32, "book/appendix-formats.md#mlx", 0},
    {"mlx.q8g64_native", t_q8g64, "book/appendix-formats.md#mlx", 0},
    {"mlx.q8g32_native", t_q8g32, "book/appendix-formats.md#mlx", 0},
    {"mlx.bad_tensor_names", t_bad, "book/appendix-formats.md#mlx", 0},
};

int main(int argc, char **argv) { return ps_main("mlx", TESTS, PS_COUNT(TESTS), argc, argv); }
