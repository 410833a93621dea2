// M1 tests, part 4: model_load. Every weight the engine loaded is compared with the same tensor as
// transformers loaded it in float32 (golden/m1/MODEL.psg: 16 samples and the sum of each tensor), for
// the tiny trained model and the synthetic presets; plus tied embeddings, parameter counts, and
// checkpoints whose shapes contradict their config.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "model.h"
#include "safetensors.h"

#define ANCHOR(task) "book/m1-weights.md#" task

// The engine's f32 copy of checkpoint tensor `name` (NULL if the name is not one the model has).
static const float *weight(const Model *m, const char *name, size_t *numel) {
    const Config *c = &m->cfg;
    int l, used = 0;
    char rest[96];
    const Mat *mat = NULL;
    const float *vec = NULL;
    if (strcmp(name, "model.embed_tokens.weight") == 0) mat = &m->embed;
    else if (strcmp(name, "lm_head.weight") == 0) mat = &m->lm_head;
    else if (strcmp(name, "model.norm.weight") == 0) vec = m->final_norm, *numel = (size_t)c->dim;
    else if (sscanf(name, "model.layers.%d.%95s%n", &l, rest, &used) == 2 && l >= 0 && l < c->n_layers) {
        const Layer *L = &m->layers[l];
        const struct { const char *name; const Mat *mat; const float *vec; size_t n; } parts[] = {
            {"input_layernorm.weight", NULL, L->attn_norm, (size_t)c->dim},
            {"post_attention_layernorm.weight", NULL, L->mlp_norm, (size_t)c->dim},
            {"self_attn.q_norm.weight", NULL, L->q_norm, (size_t)c->head_dim},
            {"self_attn.k_norm.weight", NULL, L->k_norm, (size_t)c->head_dim},
            {"self_attn.q_proj.weight", &L->wq, NULL, 0}, {"self_attn.k_proj.weight", &L->wk, NULL, 0},
            {"self_attn.v_proj.weight", &L->wv, NULL, 0}, {"self_attn.o_proj.weight", &L->wo, NULL, 0},
            {"mlp.gate_proj.weight", &L->w_gate, NULL, 0}, {"mlp.up_proj.weight", &L->w_up, NULL, 0},
            {"mlp.down_proj.weight", &L->w_down, NULL, 0}};
        for (size_t i = 0; i < PS_COUNT(parts); i++)
            if (strcmp(rest, parts[i].name) == 0) mat = parts[i].mat, vec = parts[i].vec, *numel = parts[i].n;
    }
    if (mat) {
        PS_CHECK(mat->dtype == DT_F32, "%s: M1 loads every matrix as F32, got %s", name, mat_type_name(mat->dtype));
        *numel = (size_t)mat->rows * (size_t)mat->cols;
        return mat->data;
    }
    return vec;
}

static void check_against_hf(const char *name) {
    const char *dir = ps_model(name);
    Model m;
    PS_CHECK(model_load(&m, dir, PS_MAP_MMAP) == 0, "model_load(%s) failed", dir);
    char path[256];
    snprintf(path, sizeof path, "golden/m1/%s.psg", name);
    PsGolden *g = ps_golden_open(path);
    int checked = 0;
    for (size_t i = 0; i < g->n; i++) {
        const PsTensor *idx = &g->tensors[i];
        size_t len = strlen(idx->name);
        if (len < 4 || strcmp(idx->name + len - 4, ".idx") != 0) continue;
        char tname[128], key[160];
        snprintf(tname, sizeof tname, "%.*s", (int)(len - 4), idx->name);
        size_t numel = 0;
        const float *w = weight(&m, tname, &numel);
        PS_CHECK(w != NULL, "%s: transformers has a tensor '%s' that the model struct does not hold", dir, tname);
        snprintf(key, sizeof key, "%s.val", tname);
        const float *want = ps_golden_get(g, key)->data;
        snprintf(key, sizeof key, "%s.sum", tname);
        float want_sum = *(const float *)ps_golden_get(g, key)->data;
        const int32_t *at = idx->data;
        for (size_t k = 0; k < idx->count; k++) {
            PS_CHECK((size_t)at[k] < numel, "%s: sample index %d past the %zu elements we hold", tname, at[k], numel);
            PS_CHECK(w[at[k]] == want[k], "%s: element %d is %.9g, transformers loaded %.9g", tname, at[k], w[at[k]], want[k]);
        }
        double sum = 0;
        for (size_t k = 0; k < numel; k++) sum += w[k];
        PS_CHECK(fabs(sum - want_sum) <= 1e-5 * (1 + fabs(want_sum)) + 1e-6 * sqrt((double)numel),
                 "%s: sum of %zu elements %.9g, transformers %.9g", tname, numel, sum, want_sum);
        checked++;
    }
    PS_CHECK(checked == 3 + 11 * m.cfg.n_layers, "expected %d tensors in %s, found %d", 3 + 11 * m.cfg.n_layers, path, checked);
    // parameter counts: transformers' model.parameters() (tied counted once) and the file's total
    SafeTensors st;
    PS_CHECK(st_open_dir(&st, dir, PS_MAP_MMAP) == 0, "st_open_dir(%s)", dir);
    ParamCount p = count_params(&st, &m.cfg);
    const int32_t *want_p = ps_golden_get(g, "params")->data;
    PS_CHECK(p.logical == want_p[0] && p.stored == want_p[1], "params: logical %lld stored %lld, want %d %d",
             p.logical, p.stored, want_p[0], want_p[1]);
    st_close(&st);
    ps_golden_close(g);
    model_free(&m);
}

static void t_tiny(void) { check_against_hf("tiny"); }
static void t_mha_f32(void) { check_against_hf("tiny-mha-f32"); }
static void t_gqa2_bf16(void) { check_against_hf("tiny-gqa2-bf16"); }
static void t_gqa4_bf16(void) { check_against_hf("small-gqa4-bf16"); }
static void t_tiedcopy_f32(void) { check_against_hf("small-tiedcopy-f32"); }

static void t_tied(void) {
    struct { const char *name; bool shared; } cases[] = {
        {"tiny-mha-f32", false},        // untied: its own lm_head.weight
        {"tiny-gqa2-bf16", true},       // tied, no lm_head.weight in the file
        {"small-tiedcopy-f32", true},   // tied, and the file stores an identical copy (like Qwen3-0.6B)
    };
    for (size_t i = 0; i < PS_COUNT(cases); i++) {
        Model m;
        PS_CHECK(model_load(&m, ps_model(cases[i].name), PS_MAP_READ) == 0, "model_load(%s)", cases[i].name);
        PS_CHECK(m.lm_head_is_embed == cases[i].shared, "%s: lm_head_is_embed should be %d", cases[i].name, cases[i].shared);
        PS_CHECK((m.lm_head.data == m.embed.data) == cases[i].shared, "%s: lm_head %s share the embedding's memory",
                 cases[i].name, cases[i].shared ? "must" : "must not");
        PS_CHECK(m.lm_head.rows == m.cfg.vocab_size && m.lm_head.cols == m.cfg.dim, "%s: lm_head is [vocab × dim]",
                 cases[i].name);
        model_free(&m);
    }
}

// A config that contradicts its checkpoint must be refused, naming the tensor.
static void t_shape_mismatch(void) {
    const char *src = ps_model("tiny-gqa2-bf16");
    const char *dir = ps_test_dir();   // removed by the harness, even when model_load stops at a TODO
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "ln -s \"$PWD/%s/model.safetensors\" %s/ && sed 's/\"head_dim\": 32/\"head_dim\": 16/' "
                              "%s/config.json > %s/config.json", src, dir, src, dir);
    PS_CHECK(system(cmd) == 0, "could not prepare %s", dir);
    PsCapture err;
    ps_capture_begin(&err, 2);
    Model m;
    int rc = model_load(&m, dir, PS_MAP_MMAP);
    char *msg = ps_capture_end(&err);
    PS_CHECK(rc == -1, "a config with head_dim 16 was accepted for weights made with head_dim 32");
    PS_CHECK(m.layers == NULL && m.storage == NULL, "a failed model_load must free what it allocated");
    PS_CHECK(strstr(msg, "model.layers.0.self_attn.q_proj.weight") && strstr(msg, "[128, 64]") && strstr(msg, "[64, 64]"),
             "the message should name the tensor, its shape [128, 64] and the expected [64, 64]; got: %s", msg);
    free(msg);
}

static const PsTest TESTS[] = {
    {"model.tiny", t_tiny, ANCHOR("load-layer"), 60},
    {"model.tiny-mha-f32", t_mha_f32, ANCHOR("load-layer"), 60},
    {"model.tiny-gqa2-bf16", t_gqa2_bf16, ANCHOR("load-layer"), 60},
    {"model.small-gqa4-bf16", t_gqa4_bf16, ANCHOR("load-layer"), 60},
    {"model.small-tiedcopy-f32", t_tiedcopy_f32, ANCHOR("load-layer"), 60},
    {"model.tied", t_tied, ANCHOR("tied-embeddings"), 60},
    {"model.shape-mismatch", t_shape_mismatch, ANCHOR("load-layer"), 60},
};

int main(int argc, char **argv) { return ps_main("M1", TESTS, PS_COUNT(TESTS), argc, argv); }
