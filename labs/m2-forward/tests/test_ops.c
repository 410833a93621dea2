// M2 tests, part 1: each building block alone, fed with transformers' own activations from inside
// decoder layer 0 (golden/m2/ops-MODEL.psg), so a bug in one step cannot hide behind another.
// Two models: GQA 2 (tiny-gqa2-bf16) and GQA 4 (small-gqa4-bf16), both with head_dim != dim/heads.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "harness.h"
#include "model.h"

#define TOL 1e-4
#define ANCHOR(task) "book/m2-forward.md#" task

static const char *OPS_MODELS[] = {"tiny-gqa2-bf16", "small-gqa4-bf16"};

typedef struct {
    Model m;
    ps_golden *g;
    int n;   // tokens
    char name[64];
} Fixture;

static void open_fixture(Fixture *f, const char *name) {
    char path[300], cmd[400];
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(path, sizeof path, "build/models/%s/model.safetensors", name);
    snprintf(cmd, sizeof cmd, "make -s %s >/dev/null", path);
    if (!ps_file_exists(path) && system(cmd) != 0) PS_SKIP("cannot generate %s (make synth)", path);
    snprintf(path, sizeof path, "build/models/%s", name);
    PS_CHECK(model_load(&f->m, path, PS_MAP_MMAP) == 0, "model_load(%s) failed (lab M1)", path);
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
    const ps_tensor *t = ps_golden_get(f->g, golden_name);
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
            matmul_set_threads(threads);
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
    const ps_tensor *in = ps_golden_get(f.g, "softmax_in");
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

static const ps_test TESTS[] = {
    {"ops.rmsnorm", t_rmsnorm, ANCHOR("rmsnorm"), 30},
    {"ops.matmul", t_matmul, ANCHOR("matmul"), 30},
    {"ops.qk-norm", t_qk_norm, ANCHOR("qk-norm-rope"), 30},
    {"ops.rope", t_rope, ANCHOR("rope"), 30},
    {"ops.softmax", t_softmax, ANCHOR("softmax"), 30},
    {"ops.attention", t_attention, ANCHOR("attention"), 30},
    {"ops.swiglu", t_swiglu, ANCHOR("swiglu"), 30},
};

int main(int argc, char **argv) { return ps_main("M2", TESTS, PS_COUNT(TESTS), argc, argv); }
