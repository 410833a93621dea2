// M5 tests, part 5: quantize_model on a model whose bf16 matrices lab M1 kept as they are
// (model_keep_bf16, for M2's bf16 kernels). Widening bf16 to f32 is exact, so quantizing the kept
// model must give, matrix by matrix, the very bytes of quantizing the model widened at load: a
// kept matrix skipped (left bf16) or widened differently shows up as a dtype or a byte that differs.
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "model.h"
#include "quant.h"
#include "quant_model.h"

#define ANCHOR "book/m5-quantization.md#quantize-command"

// The model's matrices in a fixed order (at most cap); returns how many.
static int matrices(Model *m, const Mat **out, int cap) {
    int n = 0;
    out[n++] = &m->embed;
    out[n++] = &m->lm_head;
    for (int l = 0; l < m->cfg.n_layers && n + 7 <= cap; l++)
        for (int k = 0; k < LAYER_TENSOR_COUNT; k++)   // M1's table: the seven matrices of a layer
            if (LAYER_TENSORS[k].cols != LD_NONE) out[n++] = layer_mat(&m->layers[l], &LAYER_TENSORS[k]);
    return n;
}

// Loads preset `name` widened and kept, quantizes both to `type`, and compares every matrix.
static void check_same_blocks(const char *name, DType type) {
    const char *dir = ps_model(name);
    Model wide, kept;
    model_keep_bf16(false);
    PS_CHECK(model_load(&wide, dir, PS_MAP_MMAP) == 0, "model_load(%s) failed (lab M1)", dir);
    model_keep_bf16(true);
    int rc = model_load(&kept, dir, PS_MAP_MMAP);
    model_keep_bf16(false);
    PS_CHECK(rc == 0, "model_load(%s) with model_keep_bf16(true) failed", dir);
    PS_CHECK(kept.layers[0].wq.dtype == DT_BF16 && kept.embed.dtype == DT_BF16,
             "%s: the kept model's matrices are %s, %s; want BF16 (is this model bf16?)", name,
             mat_type_name(kept.layers[0].wq.dtype), mat_type_name(kept.embed.dtype));

    PS_CHECK(quantize_model(&wide, type, false) == 0, "quantize_model of the widened model failed");
    PS_CHECK(quantize_model(&kept, type, false) == 0, "quantize_model of the bf16-kept model failed");
    enum { CAP = 2 + 7 * 8 };
    const Mat *a[CAP], *b[CAP];
    int n = matrices(&wide, a, CAP), n_quantized = 0;
    PS_CHECK(matrices(&kept, b, CAP) == n && n == 2 + 7 * wide.cfg.n_layers, "%s: more than 8 layers", name);
    for (int i = 0; i < n; i++) {
        // A matrix the policy leaves (cols not whole blocks) stays f32 in one model, bf16 in the other.
        PS_CHECK((a[i]->dtype == type) == (b[i]->dtype == type), "%s, %s, matrix %d: %s from the widened "
                 "model, %s from the kept one", name, quant_type_name(type), i, mat_type_name(a[i]->dtype),
                 mat_type_name(b[i]->dtype));
        if (a[i]->dtype != type) continue;
        size_t bytes = quant_row_bytes(type, a[i]->cols) * (size_t)a[i]->rows;
        PS_CHECK(memcmp(a[i]->data, b[i]->data, bytes) == 0, "%s, %s, matrix %d [%d x %d]: the blocks differ",
                 name, quant_type_name(type), i, a[i]->rows, a[i]->cols);
        n_quantized++;
    }
    PS_CHECK(n_quantized >= 2, "%s, %s: only %d matrices quantized", name, quant_type_name(type), n_quantized);
    model_free(&wide);
    model_free(&kept);
}

// An untied model (lm_head a matrix of its own; dim 96: Q4A, 64 weights a block, skips some).
static void t_untied(void) {
    check_same_blocks("small-gqa4-bf16", DT_Q8_0);
    check_same_blocks("small-gqa4-bf16", DT_Q4_0);
    check_same_blocks("small-gqa4-bf16", DT_Q4A);
}

// A tied model (lm_head is the embedding), every matrix in whole Q4A blocks.
static void t_tied(void) {
    check_same_blocks("tiny-gqa2-bf16", DT_Q8_0);
    check_same_blocks("tiny-gqa2-bf16", DT_Q4A);
}

static const PsTest TESTS[] = {
    {"quant.bf16-kept-untied", t_untied, ANCHOR, 60},
    {"quant.bf16-kept-tied", t_tied, ANCHOR, 60},
};

int main(int argc, char **argv) { return ps_main("M5", TESTS, PS_COUNT(TESTS), argc, argv); }
