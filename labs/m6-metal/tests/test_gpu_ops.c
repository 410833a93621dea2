// M6 tests, part 1: rmsnorm, RoPE, SwiGLU, the residual add and the embedding lookup on the GPU
// (the emulator on Linux), each against the CPU reference of forward.h / quant.h on ragged sizes,
// and against transformers' own activations inside decoder layer 0 (golden/m2/ops-MODEL.psg).
//
// Tolerances: against the CPU, 1e-5 (absolute and relative; the GPU adds in another order and
// its rsqrt/exp differ in the last bits), plus 2e-7 per position for RoPE (see t_rope); against
// transformers, 1e-4 as in lab M2; the embedding and the add are exact.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "gpu.h"
#include "harness.h"
#include "model.h"
#include "quant.h"
#include "quant_model.h"

#define CPU_TOL 1e-5
#define HF_TOL 1e-4
#define ANCHOR(task) "book/m6-metal.md#" task

static Gpu *open_gpu(void) {
    Gpu *g = gpu_new();
    PS_CHECK(g != NULL, "gpu_new failed (message above)");
    return g;
}

static void run(Gpu *g, GpuBatch *b) { PS_CHECK(gpu_run(b, NULL) == 0, "gpu_run: %s", gpu_error(g)); }

// Deterministic test data in [-scale, scale).
static void fill(float *x, size_t n, unsigned seed, float scale) {
    unsigned s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = ((float)(s >> 8) / 16777216.0f * 2.0f - 1.0f) * scale;
    }
}

static float *gpu_floats(MtlBuffer *b) { return mtl_buffer_ptr(b); }

// ---- the ops models of lab M2 (tiny-gqa2-bf16: GQA 2, head_dim 32; small-gqa4-bf16: GQA 4, head_dim 24) ----
static const char *OPS_MODELS[] = {"tiny-gqa2-bf16", "small-gqa4-bf16"};

typedef struct {
    Model m;
    PsGolden *g;
    int n;   // tokens in the golden
} Fixture;

static void open_fixture(Fixture *f, const char *name) {
    char path[300];
    const char *dir = ps_model(name);
    PS_CHECK(model_load(&f->m, dir, PS_MAP_MMAP) == 0, "model_load(%s) failed (lab M1)", dir);
    snprintf(path, sizeof path, "golden/m2/ops-%s.psg", name);
    f->g = ps_golden_open(path);
    f->n = (int)ps_golden_get(f->g, "x")->dims[0];
}

static const PsTensor *T(const Fixture *f, const char *name) { return ps_golden_get(f->g, name); }
static MtlBuffer *upload_golden(Gpu *g, const Fixture *f, const char *name) {
    const PsTensor *t = T(f, name);
    return gpu_upload(g, t->data, t->count * sizeof(float));
}
static void expect_golden(const char *model, const char *what, MtlBuffer *got, const Fixture *f,
                          const char *name) {
    char label[200];
    snprintf(label, sizeof label, "%s: %s (vs transformers' %s)", model, what, name);
    PS_CHECK_CLOSE(label, gpu_floats(got), (const float *)T(f, name)->data, T(f, name)->count, HF_TOL, HF_TOL);
}

// ---- rmsnorm ----
static void t_rmsnorm_ragged(void) {
    Gpu *g = open_gpu();
    const int sizes[][2] = {{1, 1}, {3, 24}, {2, 31}, {1, 33}, {5, 100}, {1, 1000}, {16, 128}, {1, 1024}, {2, 3000}};
    for (size_t s = 0; s < PS_COUNT(sizes); s++) {
        int rows = sizes[s][0], n = sizes[s][1];
        size_t total = (size_t)rows * n;
        float *x = malloc(total * sizeof *x), *w = malloc((size_t)n * sizeof *w), *want = malloc(total * sizeof *want);
        fill(x, total, (unsigned)s, 3.0f);
        fill(w, (size_t)n, 100 + (unsigned)s, 1.5f);
        for (int r = 0; r < rows; r++) rmsnorm(want + (size_t)r * n, x + (size_t)r * n, w, n, 1e-6f);
        MtlBuffer *bx = gpu_upload(g, x, total * 4), *bw = gpu_upload(g, w, (size_t)n * 4), *out = gpu_alloc(g, total * 4);
        GpuBatch *b = gpu_begin(g);
        gpu_rmsnorm(b, GPU_REF(out, 0), GPU_REF(bx, 0), GPU_REF(bw, 0), rows, n, 1e-6f);
        gpu_rmsnorm(b, GPU_REF(bx, 0), GPU_REF(bx, 0), GPU_REF(bw, 0), rows, n, 1e-6f);   // in place
        run(g, b);
        char label[80];
        snprintf(label, sizeof label, "rmsnorm %d rows x %d", rows, n);
        PS_CHECK_CLOSE(label, gpu_floats(out), want, total, CPU_TOL, CPU_TOL);
        snprintf(label, sizeof label, "rmsnorm in place %d rows x %d", rows, n);
        PS_CHECK_CLOSE(label, gpu_floats(bx), want, total, CPU_TOL, CPU_TOL);
        gpu_release(g, bx), gpu_release(g, bw), gpu_release(g, out);
        free(x), free(w), free(want);
    }
    gpu_free(g);
}

// The reduction under the emulator's reverse schedule (threads of a threadgroup run in reverse
// order between barriers; a real GPU ignores MSL_SCHEDULE): a missing barrier shows here.
static void t_rmsnorm_reverse(void) {
    setenv("MSL_SCHEDULE", "reverse", 1);
    t_rmsnorm_ragged();
}

// The block norms over every golden token, and QK-norm (one row per head, head_dim 32 and 24).
static void t_rmsnorm_hf(void) {
    for (size_t i = 0; i < PS_COUNT(OPS_MODELS); i++) {
        Fixture f;
        open_fixture(&f, OPS_MODELS[i]);
        const Config *c = &f.m.cfg;
        const Layer *L = &f.m.layers[0];
        Gpu *g = open_gpu();
        int hd = c->head_dim, nq = f.n * c->n_heads, nk = f.n * c->n_kv_heads;
        MtlBuffer *x = upload_golden(g, &f, "x"), *h = upload_golden(g, &f, "h");
        MtlBuffer *q = upload_golden(g, &f, "q_proj"), *k = upload_golden(g, &f, "k_proj");
        MtlBuffer *w_attn = gpu_upload(g, L->attn_norm, (size_t)c->dim * 4), *w_mlp = gpu_upload(g, L->mlp_norm, (size_t)c->dim * 4);
        MtlBuffer *w_q = gpu_upload(g, L->q_norm, (size_t)hd * 4), *w_k = gpu_upload(g, L->k_norm, (size_t)hd * 4);
        MtlBuffer *o1 = gpu_alloc(g, (size_t)f.n * c->dim * 4), *o2 = gpu_alloc(g, (size_t)f.n * c->dim * 4);
        GpuBatch *b = gpu_begin(g);
        gpu_rmsnorm(b, GPU_REF(o1, 0), GPU_REF(x, 0), GPU_REF(w_attn, 0), f.n, c->dim, c->norm_eps);
        gpu_rmsnorm(b, GPU_REF(o2, 0), GPU_REF(h, 0), GPU_REF(w_mlp, 0), f.n, c->dim, c->norm_eps);
        gpu_rmsnorm(b, GPU_REF(q, 0), GPU_REF(q, 0), GPU_REF(w_q, 0), nq, hd, c->norm_eps);
        gpu_rmsnorm(b, GPU_REF(k, 0), GPU_REF(k, 0), GPU_REF(w_k, 0), nk, hd, c->norm_eps);
        run(g, b);
        expect_golden(OPS_MODELS[i], "rmsnorm(x) with input_layernorm", o1, &f, "attn_norm");
        expect_golden(OPS_MODELS[i], "rmsnorm(h) with post_attention_layernorm", o2, &f, "mlp_norm");
        expect_golden(OPS_MODELS[i], "QK-norm of q, one row per head", q, &f, "q_norm");
        expect_golden(OPS_MODELS[i], "QK-norm of k, one row per head", k, &f, "k_norm");
        gpu_free(g);   // and every buffer made by gpu_alloc / gpu_upload
        ps_golden_close(f.g);
        model_free(&f.m);
    }
}

// ---- RoPE ----
static void t_rope(void) {
    Gpu *g = open_gpu();
    const int shapes[][2] = {{1, 2}, {4, 24}, {16, 32}, {3, 64}, {16, 128}};
    const int positions[] = {0, 1, 17, 1000, 4095};
    for (size_t s = 0; s < PS_COUNT(shapes); s++) {
        for (size_t p = 0; p < PS_COUNT(positions); p++) {
            int heads = shapes[s][0], hd = shapes[s][1], n = heads * hd;
            float *want = malloc((size_t)n * 4);
            fill(want, (size_t)n, (unsigned)(s * 7 + p), 2.0f);
            MtlBuffer *x = gpu_upload(g, want, (size_t)n * 4);
            rope(want, heads, hd, positions[p], 1000000.0f);
            GpuBatch *b = gpu_begin(g);
            gpu_rope(b, GPU_REF(x, 0), heads, hd, positions[p], 1000000.0f);
            run(g, b);
            char label[80];
            snprintf(label, sizeof label, "rope %d heads x %d at position %d", heads, hd, positions[p]);
            // pow() differs by an ulp between implementations (glibc, Metal's precise::pow), and the
            // angle pos * freq multiplies that error by pos: about 2.3e-5 was seen at 4095.
            PS_CHECK_CLOSE(label, gpu_floats(x), want, (size_t)n, CPU_TOL + 2e-7 * positions[p], CPU_TOL);
            gpu_release(g, x);
            free(want);
        }
    }
    gpu_free(g);
}

// Every golden token t at position t, q and k, as transformers' apply_rotary_pos_emb did.
static void t_rope_hf(void) {
    for (size_t i = 0; i < PS_COUNT(OPS_MODELS); i++) {
        Fixture f;
        open_fixture(&f, OPS_MODELS[i]);
        const Config *c = &f.m.cfg;
        Gpu *g = open_gpu();
        int q_dim = c->n_heads * c->head_dim, kv_dim = c->n_kv_heads * c->head_dim;
        MtlBuffer *q = upload_golden(g, &f, "q_norm"), *k = upload_golden(g, &f, "k_norm");
        GpuBatch *b = gpu_begin(g);
        for (int t = 0; t < f.n; t++) {
            gpu_rope(b, GPU_REF(q, (size_t)t * q_dim * 4), c->n_heads, c->head_dim, t, c->rope_theta);
            gpu_rope(b, GPU_REF(k, (size_t)t * kv_dim * 4), c->n_kv_heads, c->head_dim, t, c->rope_theta);
        }
        run(g, b);
        expect_golden(OPS_MODELS[i], "rope(q) at positions 0..n-1", q, &f, "q_rope");
        expect_golden(OPS_MODELS[i], "rope(k) at positions 0..n-1", k, &f, "k_rope");
        gpu_free(g);
        ps_golden_close(f.g);
        model_free(&f.m);
    }
}

// ---- SwiGLU and the residual add ----
static void t_swiglu(void) {
    Gpu *g = open_gpu();
    const int sizes[] = {1, 31, 257, 3072, 10000};
    for (size_t s = 0; s < PS_COUNT(sizes); s++) {
        int n = sizes[s];
        float *gate = malloc((size_t)n * 4), *up = malloc((size_t)n * 4), *want = malloc((size_t)n * 4);
        fill(gate, (size_t)n, (unsigned)s, 8.0f);
        fill(up, (size_t)n, 50 + (unsigned)s, 2.0f);
        gate[0] = -100.0f;   // exp(100) overflows to inf: silu must still be -0, not NaN
        if (n > 1) gate[1] = 100.0f;
        swiglu(want, gate, up, n);
        MtlBuffer *bg = gpu_upload(g, gate, (size_t)n * 4), *bu = gpu_upload(g, up, (size_t)n * 4), *out = gpu_alloc(g, (size_t)n * 4);
        GpuBatch *b = gpu_begin(g);
        gpu_swiglu(b, GPU_REF(out, 0), GPU_REF(bg, 0), GPU_REF(bu, 0), n);
        run(g, b);
        char label[40];
        snprintf(label, sizeof label, "swiglu n=%d", n);
        PS_CHECK_CLOSE(label, gpu_floats(out), want, (size_t)n, CPU_TOL, CPU_TOL);
        gpu_release(g, bg), gpu_release(g, bu), gpu_release(g, out);
        free(gate), free(up), free(want);
    }
    for (size_t i = 0; i < PS_COUNT(OPS_MODELS); i++) {
        Fixture f;
        open_fixture(&f, OPS_MODELS[i]);
        MtlBuffer *gate = upload_golden(g, &f, "gate"), *up = upload_golden(g, &f, "up");
        int n = (int)T(&f, "gate")->count;
        GpuBatch *b = gpu_begin(g);
        gpu_swiglu(b, GPU_REF(gate, 0), GPU_REF(gate, 0), GPU_REF(up, 0), n);   // in place
        run(g, b);
        expect_golden(OPS_MODELS[i], "swiglu(gate, up)", gate, &f, "act");
        ps_golden_close(f.g);
        model_free(&f.m);
    }
    gpu_free(g);
}

static void t_add(void) {
    Gpu *g = open_gpu();
    const int n = 1000;
    float a[1000], x[1000], want[1000];
    fill(a, n, 1, 5.0f);
    fill(x, n, 2, 5.0f);
    for (int i = 0; i < n; i++) want[i] = a[i] + x[i];
    MtlBuffer *ba = gpu_upload(g, a, sizeof a), *bx = gpu_upload(g, x, sizeof x);
    GpuBatch *b = gpu_begin(g);
    gpu_add(b, GPU_REF(ba, 0), GPU_REF(ba, 0), GPU_REF(bx, 0), n);   // the residual: x += delta
    run(g, b);
    PS_CHECK_BYTES("a + x, in place", gpu_floats(ba), want, sizeof want);
    // against transformers: block 0's output is h + down(...)
    for (size_t i = 0; i < PS_COUNT(OPS_MODELS); i++) {
        Fixture f;
        open_fixture(&f, OPS_MODELS[i]);
        MtlBuffer *h = upload_golden(g, &f, "h"), *down = upload_golden(g, &f, "down");
        b = gpu_begin(g);
        gpu_add(b, GPU_REF(h, 0), GPU_REF(h, 0), GPU_REF(down, 0), (int)T(&f, "h")->count);
        run(g, b);
        expect_golden(OPS_MODELS[i], "h + down (the residual)", h, &f, "out");
        ps_golden_close(f.g);
        model_free(&f.m);
    }
    gpu_free(g);
}

// ---- embedding rows, f32 and quantized ----
static void t_embed(void) {
    PS_CHECK(quant_register() == 0, "quant_register failed");   // embed_token must know the formats
    Gpu *g = open_gpu();
    const int vocab = 37, cols = 192;
    float *table = malloc((size_t)vocab * cols * 4), want[192];
    fill(table, (size_t)vocab * cols, 9, 1.0f);
    const DType types[] = {DT_F32, DT_Q8_0, DT_Q4_0, DT_Q4A};
    for (size_t t = 0; t < PS_COUNT(types); t++) {
        size_t row_bytes = types[t] == DT_F32 ? (size_t)cols * 4 : quant_row_bytes(types[t], cols);
        unsigned char *data = malloc(row_bytes * vocab);
        for (int r = 0; r < vocab; r++) {
            if (types[t] == DT_F32) memcpy(data + r * row_bytes, table + (size_t)r * cols, row_bytes);
            else quantize_row(types[t], table + (size_t)r * cols, data + r * row_bytes, cols);
        }
        Mat m = {types[t], vocab, cols, data};
        MtlBuffer *bt = gpu_upload(g, data, row_bytes * vocab), *out = gpu_alloc(g, sizeof want);
        const int tokens[] = {0, 1, 20, vocab - 1};
        for (size_t k = 0; k < PS_COUNT(tokens); k++) {
            embed_token(want, &m, tokens[k]);
            GpuBatch *b = gpu_begin(g);
            gpu_embed(b, GPU_REF(out, 0), GPU_REF(bt, 0), types[t], cols, tokens[k]);
            run(g, b);
            char label[60];
            snprintf(label, sizeof label, "embedding row %d, type %d", tokens[k], (int)types[t]);
            if (types[t] == DT_Q4A)   // scale * q + bias: either compiler may fuse it into one fma
                PS_CHECK_CLOSE(label, gpu_floats(out), want, (size_t)cols, 1e-6, 1e-6);
            else
                PS_CHECK_BYTES(label, gpu_floats(out), want, sizeof want);
        }
        // a token past the table is refused before anything runs
        GpuBatch *b = gpu_begin(g);
        gpu_embed(b, GPU_REF(out, 0), GPU_REF(bt, 0), types[t], cols, vocab);
        PS_CHECK(gpu_run(b, NULL) == -1 && strstr(gpu_error(g), "embed"), "token %d of %d was accepted", vocab, vocab);
        gpu_release(g, bt), gpu_release(g, out);
        free(data);
    }
    free(table);
    gpu_free(g);
}

static const PsTest TESTS[] = {
    {"gpu.rmsnorm_ragged", t_rmsnorm_ragged, ANCHOR("rmsnorm-kernel"), 60},
    {"gpu.rmsnorm_reverse", t_rmsnorm_reverse, ANCHOR("rmsnorm-kernel"), 60},
    {"gpu.rmsnorm_hf", t_rmsnorm_hf, ANCHOR("rmsnorm-kernel"), 60},
    {"gpu.rope", t_rope, ANCHOR("rope-kernel"), 60},
    {"gpu.rope_hf", t_rope_hf, ANCHOR("rope-kernel"), 60},
    {"gpu.swiglu", t_swiglu, ANCHOR("swiglu-kernel"), 60},
    {"gpu.add", t_add, ANCHOR("add-kernel"), 60},
    {"gpu.embed", t_embed, ANCHOR("embed-q4-kernel"), 60},
};

int main(int argc, char **argv) { return ps_main("M6", TESTS, PS_COUNT(TESTS), argc, argv); }
