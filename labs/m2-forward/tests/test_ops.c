// M2 tests, part 1: each building block alone, fed with transformers' own activations from inside
// decoder layer 0 (golden/m2/ops-MODEL.psg), so a bug in one step cannot hide behind another.
// Two models: GQA 2 (tiny-gqa2-bf16) and GQA 4 (small-gqa4-bf16), both with head_dim != dim/heads.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thread_pool.h"
#include "forward.h"
#include "harness.h"
#include "model.h"

#define TOL 1e-4
#define ANCHOR(task) "book/m2-forward.md#" task

static const char *OPS_MODELS[] = {"tiny-gqa2-bf16", "small-gqa4-bf16"};

typedef struct {
    Model m;
    PsGolden *g;
    int n;   // tokens
    char name[64];
} Fixture;

static void open_fixture(Fixture *f, const char *name) {
    char path[300];
    snprintf(f->name, sizeof f->name, "%s", name);
    const char *dir = ps_model(name);
    PS_CHECK(model_load(&f->m, dir, PS_MAP_MMAP) == 0, "model_load(%s) failed (lab M1)", dir);
    snprintf(path, sizeof path, "golden/m2/ops-%s.psg", name);
    f->g = ps_golden_open(path);
    f->n = (int)ps_golden_get(f->g, "x")->dims[0];
}

static void close_fixture(Fixture *f) {
    ps_golden_close(f->g);
    model_free(&f->m);
}

static const float *G(const Fixture *f, const char *name) { return ps_golden_get(f->g, name)->data; }

static void expect(const Fixture *f, const char *what, const float *got, const char *golden_name) {
    const PsTensor *t = ps_golden_get(f->g, golden_name);
    char label[160];
    snprintf(label, sizeof label, "%s: %s (vs transformers' %s)", f->name, what, golden_name);
    PS_CHECK_CLOSE(label, got, (const float *)t->data, t->count, TOL, TOL);
}

static float *buffer(const Fixture *f, const char *like) {
    return calloc(ps_golden_get(f->g, like)->count, sizeof(float));
}

static void t_rmsnorm(void) {
    for (size_t i = 0; i < PS_COUNT(OPS_MODELS); i++) {
        Fixture f;
        open_fixture(&f, OPS_MODELS[i]);
        const Config *c = &f.m.cfg;
        const Layer *L = &f.m.layers[0];
        float *out = buffer(&f, "x");
        for (int t = 0; t < f.n; t++) rmsnorm(out + t * c->dim, G(&f, "x") + t * c->dim, L->attn_norm, c->dim, c->norm_eps);
        expect(&f, "rmsnorm(x) with input_layernorm", out, "attn_norm");
        for (int t = 0; t < f.n; t++) rmsnorm(out + t * c->dim, G(&f, "h") + t * c->dim, L->mlp_norm, c->dim, c->norm_eps);
        expect(&f, "rmsnorm(h) with post_attention_layernorm", out, "mlp_norm");
        free(out);
        close_fixture(&f);
    }
}

static void t_matmul(void) {
    for (size_t i = 0; i < PS_COUNT(OPS_MODELS); i++) {
        Fixture f;
        open_fixture(&f, OPS_MODELS[i]);
        const Layer *L = &f.m.layers[0];
        struct { const Mat *w; const char *in, *out; } cases[] = {
            {&L->wq, "attn_norm", "q_proj"}, {&L->wk, "attn_norm", "k_proj"}, {&L->wv, "attn_norm", "v_proj"},
            {&L->wo, "attn_out", "o_proj"}, {&L->w_gate, "mlp_norm", "gate"}, {&L->w_up, "mlp_norm", "up"},
            {&L->w_down, "act", "down"}};
        for (int threads = 1; threads <= 2; threads++) {   // one thread and two must agree with transformers
            pool_set_threads(threads);
            for (size_t k = 0; k < PS_COUNT(cases); k++) {
                float *out = buffer(&f, cases[k].out);
                matmul(out, G(&f, cases[k].in), cases[k].w, f.n);
                char what[96];
                snprintf(what, sizeof what, "matmul(%s, W) on %d thread(s)", cases[k].in, threads);
                expect(&f, what, out, cases[k].out);
                free(out);
            }
        }
        close_fixture(&f);
    }
}

// The SIMD products that the engine runs by default (solutions/m2-forward/matmul_simd.c): against
// transformers like yours; within rounding of yours (the same products, added in another order:
// at most (cols + cols/16 + 16) * 2^-24 * sum_c |w_c x_c| apart, from the textbook bound for each
// order); and the same bits for 1 or 2 threads and for the tokens one at a time or all at once.
static void t_matmul_simd(void) {
    for (size_t i = 0; i < PS_COUNT(OPS_MODELS); i++) {
        Fixture f;
        open_fixture(&f, OPS_MODELS[i]);
        const Layer *L = &f.m.layers[0];
        struct { const Mat *w; const char *in, *out; } cases[] = {
            {&L->wq, "attn_norm", "q_proj"}, {&L->w_up, "mlp_norm", "up"}, {&L->w_down, "act", "down"}};
        for (size_t k = 0; k < PS_COUNT(cases); k++) {
            const Mat *w = cases[k].w;
            const float *x = G(&f, cases[k].in), *W = w->data;
            float *plain = buffer(&f, cases[k].out), *simd = buffer(&f, cases[k].out),
                  *first = buffer(&f, cases[k].out), *one = malloc((size_t)w->rows * sizeof *one);
            matmul_use_simd(false);
            pool_set_threads(1);
            matmul(plain, x, w, f.n);   // yours
            matmul_use_simd(true);
            if (strcmp(matmul_simd_name(), "plain C") == 0) PS_SKIP("no SIMD kernel for this CPU");
            for (int threads = 1; threads <= 2; threads++) {
                pool_set_threads(threads);
                matmul(simd, x, w, f.n);
                char what[96];
                snprintf(what, sizeof what, "%s matmul(%s, W) on %d thread(s)", matmul_simd_name(), cases[k].in, threads);
                expect(&f, what, simd, cases[k].out);
                for (int t = 0; t < f.n; t++)
                    for (int r = 0; r < w->rows; r++) {
                        double m = 0;
                        for (int c = 0; c < w->cols; c++) m += fabs((double)W[(size_t)r * w->cols + c] * x[(size_t)t * w->cols + c]);
                        const size_t o = (size_t)t * w->rows + r;
                        PS_CHECK(fabs((double)simd[o] - plain[o]) <= (w->cols + w->cols / 16 + 16) * 0x1p-24 * m,
                                 "%s, token %d row %d: yours %.9g, %s %.9g", what, t, r, (double)plain[o],
                                 matmul_simd_name(), (double)simd[o]);
                        if (threads == 1) first[o] = simd[o];
                        else PS_CHECK(memcmp(&first[o], &simd[o], sizeof *simd) == 0, "%s, token %d row %d: %.9g on "
                                      "1 thread, %.9g on 2", cases[k].in, t, r, (double)first[o], (double)simd[o]);
                    }
            }
            for (int t = 0; t < f.n; t++) {   // one token at a time, as in a decode
                matmul(one, x + (size_t)t * w->cols, w, 1);
                PS_CHECK(memcmp(one, simd + (size_t)t * w->rows, (size_t)w->rows * sizeof *one) == 0,
                         "%s matmul(%s, W): token %d alone differs from token %d among %d", matmul_simd_name(),
                         cases[k].in, t, t, f.n);
            }
            matmul_use_simd(false);
            free(plain), free(simd), free(first), free(one);
        }
        close_fixture(&f);
    }
}

// Row lengths that are not a multiple of any vector width (the kernels' last, partial vectors),
// and rows long enough for the prompt kernels to take them in chunks of columns (matmul_gemm.c),
// random values, 11 tokens (full tiles, then pairs, then one): within rounding of yours, as above;
// each token alone, and the product on 2 threads, with the prompt's bits; the same matrix kept in
// bf16 with the f32 matrix's bits.
static void t_matmul_simd_tails(void) {
    static const int COLS[] = {1, 7, 15, 17, 63, 100, 1001, 2053, 3077};
    enum { ROWS = 21, TOKENS = 11 };
    uint32_t s = 12345;
    for (size_t i = 0; i < PS_COUNT(COLS); i++) {
        const int cols = COLS[i];
        float *W = malloc((size_t)ROWS * cols * sizeof *W), *x = malloc((size_t)TOKENS * cols * sizeof *x);
        uint16_t *W16 = malloc((size_t)ROWS * cols * sizeof *W16);
        float plain[TOKENS * ROWS], simd[TOKENS * ROWS], other[TOKENS * ROWS];
        for (int k = 0; k < ROWS * cols; k++) {   // values a bf16 holds exactly: W16 is W
            uint32_t bits = (s = s * 1664525u + 1013904223u) >> 8 | 0x3f800000u;   // [1, 2)
            W16[k] = (uint16_t)(bits >> 16 ^ (k & 1) << 15);                       // sign alternating
            bits = (uint32_t)W16[k] << 16;
            memcpy(&W[k], &bits, sizeof bits);
        }
        for (int k = 0; k < TOKENS * cols; k++) x[k] = (float)((s = s * 1664525u + 1013904223u) >> 8) * 0x1p-23f - 1.0f;
        const Mat w = {DT_F32, ROWS, cols, W}, w16 = {DT_BF16, ROWS, cols, W16};
        matmul_use_simd(false);
        matmul(plain, x, &w, TOKENS);   // yours
        matmul_use_simd(true);
        if (strcmp(matmul_simd_name(), "plain C") == 0) PS_SKIP("no SIMD kernel for this CPU");
        pool_set_threads(1);
        matmul(simd, x, &w, TOKENS);
        for (int t = 0; t < TOKENS; t++) {
            matmul(other, x + (size_t)t * cols, &w, 1);
            PS_CHECK(memcmp(other, simd + t * ROWS, ROWS * sizeof *other) == 0,
                     "%d columns: token %d alone differs from token %d among %d (%s)", cols, t, t, TOKENS,
                     matmul_simd_name());
        }
        pool_set_threads(2);
        matmul(other, x, &w, TOKENS);
        PS_CHECK(memcmp(other, simd, sizeof simd) == 0, "%d columns: 2 threads differ from 1 (%s)", cols,
                 matmul_simd_name());
        matmul(other, x, &w16, TOKENS);
        PS_CHECK(memcmp(other, simd, sizeof simd) == 0, "%d columns: the bf16 matrix differs from its f32 copy (%s)",
                 cols, matmul_simd_name());
        matmul(other, x, &w16, 3);   // a short prompt: its bf16 rows widened in registers, not beforehand
        PS_CHECK(memcmp(other, simd, 3 * ROWS * sizeof *other) == 0,
                 "%d columns: 3 tokens with the bf16 matrix differ from its f32 copy (%s)", cols, matmul_simd_name());
        pool_set_threads(1);
        matmul_use_simd(false);
        for (int t = 0; t < TOKENS; t++)
            for (int r = 0; r < ROWS; r++) {
                double m = 0;
                for (int c = 0; c < cols; c++) m += fabs((double)W[r * cols + c] * x[t * cols + c]);
                const int o = t * ROWS + r;
                PS_CHECK(fabs((double)simd[o] - plain[o]) <= (cols + cols / 16 + 16) * 0x1p-24 * m,
                         "%d columns, token %d row %d: yours %.9g, %s %.9g", cols, t, r, (double)plain[o],
                         matmul_simd_name(), (double)simd[o]);
            }
        free(W), free(W16), free(x);
    }
}

// The engine's SIMD attention (attention_head_simd): against transformers like yours, and within
// 1e-5 of yours (only the dot products' rounding differs).
static void t_attention_simd(void) {
    for (size_t i = 0; i < PS_COUNT(OPS_MODELS); i++) {
        Fixture f;
        open_fixture(&f, OPS_MODELS[i]);
        const Config *c = &f.m.cfg;
        int q_dim = c->n_heads * c->head_dim, kv_dim = c->n_kv_heads * c->head_dim;
        float *plain = buffer(&f, "attn_out"), *simd = buffer(&f, "attn_out"), *scores = malloc((size_t)f.n * sizeof *scores);
        for (int pass = 0; pass < 2; pass++) {
            matmul_use_simd(pass == 1);
            if (pass == 1 && strcmp(matmul_simd_name(), "plain C") == 0) PS_SKIP("no SIMD kernel for this CPU");
            for (int t = 0; t < f.n; t++)
                attention((pass ? simd : plain) + t * q_dim, G(&f, "q_rope") + t * q_dim, G(&f, "k_rope"),
                          G(&f, "v_proj"), t + 1, kv_dim, c->n_heads, c->n_kv_heads, c->head_dim, scores);
        }
        matmul_use_simd(false);
        expect(&f, "causal GQA attention with SIMD", simd, "attn_out");
        PS_CHECK_CLOSE("SIMD attention against yours", simd, plain, ps_golden_get(f.g, "attn_out")->count, 1e-5, 1e-5);
        free(plain), free(simd), free(scores);
        close_fixture(&f);
    }
}

static void t_qk_norm(void) {
    for (size_t i = 0; i < PS_COUNT(OPS_MODELS); i++) {
        Fixture f;
        open_fixture(&f, OPS_MODELS[i]);
        const Config *c = &f.m.cfg;
        int hd = c->head_dim;
        float *q = buffer(&f, "q_proj"), *k = buffer(&f, "k_proj");
        memcpy(q, G(&f, "q_proj"), (size_t)f.n * c->n_heads * hd * sizeof(float));
        memcpy(k, G(&f, "k_proj"), (size_t)f.n * c->n_kv_heads * hd * sizeof(float));
        for (int h = 0; h < f.n * c->n_heads; h++) rmsnorm(q + h * hd, q + h * hd, f.m.layers[0].q_norm, hd, c->norm_eps);
        for (int h = 0; h < f.n * c->n_kv_heads; h++) rmsnorm(k + h * hd, k + h * hd, f.m.layers[0].k_norm, hd, c->norm_eps);
        expect(&f, "per-head rmsnorm of q (in place)", q, "q_norm");
        expect(&f, "per-head rmsnorm of k (in place)", k, "k_norm");
        free(q);
        free(k);
        close_fixture(&f);
    }
}

static void t_rope(void) {
    for (size_t i = 0; i < PS_COUNT(OPS_MODELS); i++) {
        Fixture f;
        open_fixture(&f, OPS_MODELS[i]);
        const Config *c = &f.m.cfg;
        int q_dim = c->n_heads * c->head_dim, kv_dim = c->n_kv_heads * c->head_dim;
        float *q = buffer(&f, "q_norm"), *k = buffer(&f, "k_norm");
        memcpy(q, G(&f, "q_norm"), (size_t)f.n * q_dim * sizeof(float));
        memcpy(k, G(&f, "k_norm"), (size_t)f.n * kv_dim * sizeof(float));
        for (int t = 0; t < f.n; t++) {
            rope(q + t * q_dim, c->n_heads, c->head_dim, t, c->rope_theta);
            rope(k + t * kv_dim, c->n_kv_heads, c->head_dim, t, c->rope_theta);
        }
        expect(&f, "rope(q) at positions 0..n-1", q, "q_rope");
        expect(&f, "rope(k) at positions 0..n-1", k, "k_rope");
        free(q);
        free(k);
        close_fixture(&f);
    }
}

static void t_softmax(void) {
    Fixture f;
    open_fixture(&f, OPS_MODELS[0]);
    const PsTensor *in = ps_golden_get(f.g, "softmax_in");
    int rows = (int)in->dims[0], cols = (int)in->dims[1];
    float *x = malloc(in->count * sizeof *x);
    memcpy(x, in->data, in->count * sizeof *x);
    for (int r = 0; r < rows; r++) softmax(x + r * cols, cols);
    // row 0 holds values around 300: exp(300) is inf in f32, so only a max-subtracting softmax survives
    expect(&f, "softmax of each row", x, "softmax_out");
    free(x);
    close_fixture(&f);
}

static void t_attention(void) {
    for (size_t i = 0; i < PS_COUNT(OPS_MODELS); i++) {
        Fixture f;
        open_fixture(&f, OPS_MODELS[i]);
        const Config *c = &f.m.cfg;
        int q_dim = c->n_heads * c->head_dim, kv_dim = c->n_kv_heads * c->head_dim;
        float *out = buffer(&f, "attn_out"), *scores = malloc((size_t)f.n * sizeof *scores);
        for (int t = 0; t < f.n; t++)
            attention(out + t * q_dim, G(&f, "q_rope") + t * q_dim, G(&f, "k_rope"), G(&f, "v_proj"), t + 1, kv_dim,
                      c->n_heads, c->n_kv_heads, c->head_dim, scores);
        expect(&f, "causal GQA attention", out, "attn_out");
        free(out);
        free(scores);
        close_fixture(&f);
    }
}

static void t_swiglu(void) {
    for (size_t i = 0; i < PS_COUNT(OPS_MODELS); i++) {
        Fixture f;
        open_fixture(&f, OPS_MODELS[i]);
        float *out = buffer(&f, "gate");
        swiglu(out, G(&f, "gate"), G(&f, "up"), (int)ps_golden_get(f.g, "gate")->count);
        expect(&f, "swiglu(gate, up)", out, "act");
        free(out);
        close_fixture(&f);
    }
}

static const PsTest TESTS[] = {
    {"ops.rmsnorm", t_rmsnorm, ANCHOR("rmsnorm"), 30},
    {"ops.matmul", t_matmul, ANCHOR("matmul"), 30},
    {"ops.matmul-simd", t_matmul_simd, ANCHOR("matmul-simd"), 30},
    {"ops.matmul-simd-tails", t_matmul_simd_tails, ANCHOR("matmul-simd"), 30},
    {"ops.qk-norm", t_qk_norm, ANCHOR("qk-norm-rope"), 30},
    {"ops.rope", t_rope, ANCHOR("rope"), 30},
    {"ops.softmax", t_softmax, ANCHOR("softmax"), 30},
    {"ops.attention", t_attention, ANCHOR("attention"), 30},
    {"ops.attention-simd", t_attention_simd, ANCHOR("attention"), 30},
    {"ops.swiglu", t_swiglu, ANCHOR("swiglu"), 30},
};

int main(int argc, char **argv) {
    matmul_use_simd(false);   // your matmul; ops.matmul-simd switches the engine's SIMD on for itself
    return ps_main("M2", TESTS, PS_COUNT(TESTS), argc, argv);
}
