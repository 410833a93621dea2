// M7 tests, part 1: the f32 GPU engine against Hugging Face. Logits at every position against
// transformers' (golden/m2, the tiny model and the synthetic presets), greedy continuations against
// transformers' generate() (golden/m3, where the margins allow), the limits (context and
// ids), and weights wrapped in place giving the very logits of copied ones.
//
// Tolerance against transformers: 1e-3, absolute plus relative, where lab M2's CPU forward meets
// 1e-4. The GPU engine adds in another order (SIMD-group trees instead of a loop) and, on a Mac,
// Metal's default fast math makes exp, rsqrt and division a few ulp off; the differences of ~100
// dispatches compound through every layer. Measured on the emulator: at most ~2e-5 (see
// book/m7-gpu-engine.md#tests); 1e-3 leaves room for a real GPU.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forward.h"
#include "generate.h"
#include "gpu_engine.h"
#include "harness.h"
#include "model.h"

#define HF_TOL 1e-3
#define ANCHOR(task) "book/m7-gpu-engine.md#" task

// Loads a test model (ps_model's names: "tiny" or a synthetic preset, made when missing). false:
// it is not there and cannot be made, the test goes on with the next one.
static bool load(Model *m, const char *name) {
    const char *dir = ps_model_try(name);
    PS_CHECK(!dir || model_load(m, dir, PS_MAP_READ) == 0, "cannot load %s (lab M1)", dir);
    return dir != NULL;
}

static void open_engine(GpuEngine *e, const Model *m, int ctx) {
    PS_CHECK(gpu_engine_init(e, m, ctx) == 0, "gpu_engine_init(ctx %d) failed (message above)", ctx);
}

// ---- (a) logits at every position vs transformers ----
static const char *M2_MODELS[][2] = {
    {"tiny", "golden/m2/tiny.psg"},
    {"tiny-mha-f32", "golden/m2/tiny-mha-f32.psg"},
    {"tiny-gqa2-bf16", "golden/m2/tiny-gqa2-bf16.psg"},
    {"small-gqa4-bf16", "golden/m2/small-gqa4-bf16.psg"},
    {"small-tiedcopy-f32", "golden/m2/small-tiedcopy-f32.psg"},
};

static void t_hf_logits(void) {
    int tested = 0;
    for (size_t i = 0; i < PS_COUNT(M2_MODELS); i++) {
        Model m;
        if (!load(&m, M2_MODELS[i][0])) continue;
        PsGolden *g = ps_golden_open(M2_MODELS[i][1]);
        int n;
        const int32_t *ids = ps_golden_ids(g, "ids", &n);
        const float *want = ps_golden_get(g, "logits")->data;
        size_t vocab = (size_t)m.cfg.vocab_size;
        float *got = malloc((size_t)n * vocab * sizeof *got);
        GpuEngine e;
        open_engine(&e, &m, n);
        // One call for the whole prompt: one command buffer per token, every position's logits.
        PS_CHECK(gpu_engine_forward(&e, ids, n, got, true) == 0, "gpu_engine_forward failed on %s", M2_MODELS[i][0]);
        PS_CHECK(e.n == n && e.steps == n, "after %d tokens: %d positions, %d command buffers", n, e.n, e.steps);
        double worst = 0;
        for (int t = 0; t < n; t++) {
            char what[200];
            snprintf(what, sizeof what, "%s: logits at position %d", M2_MODELS[i][0], t);
            PS_CHECK_CLOSE(what, got + t * vocab, want + t * vocab, vocab, HF_TOL, HF_TOL);
            double err = ps_max_abs_err(got + t * vocab, want + t * vocab, vocab, NULL);
            if (err > worst) worst = err;
        }
        printf("%-32s %2d positions, max |GPU - HF| = %.2e\n", M2_MODELS[i][0], n, worst);
        gpu_engine_free(&e);
        free(got);
        ps_golden_close(g);
        model_free(&m);
        tested++;
    }
    PS_CHECK(tested > 0, "no model found (models/tiny, or run make synth)");
}

// ---- (b) greedy continuations vs transformers' generate() ----
static const char *M3_MODELS[][2] = {
    {"tiny", "golden/m3/greedy-tiny.psg"},
    {"tiny-gqa2-bf16", "golden/m3/greedy-synth-tiny-gqa2-bf16.psg"},
    {"small-gqa4-bf16", "golden/m3/greedy-synth-small-gqa4-bf16.psg"},
};
#define MAX_RUNS 4   // per model: the emulator is slow, and more runs test nothing new

static void t_greedy(void) {
    int compared = 0;
    for (size_t i = 0; i < PS_COUNT(M3_MODELS); i++) {
        Model m;
        if (!load(&m, M3_MODELS[i][0])) continue;
        PsGolden *g = ps_golden_open(M3_MODELS[i][1]);
        const int32_t *eos;
        int n_eos, runs = ps_greedy_runs(g, &eos, &n_eos);
        GpuEngine e;
        open_engine(&e, &m, 128);
        for (int r = 0; r < runs && r < MAX_RUNS; r++) {
            PsGreedyRun run = ps_greedy_run_get(g, r);
            SamplerConfig sc = sampler_config_default();
            sc.temperature = 0;
            sc.repetition_penalty = run.penalty;
            // Only the steps whose top-1/top-2 margin (and every earlier one) beats the noise.
            if (run.trusted == 0 || run.n_prompt + run.n_want > 128) continue;
            int32_t ids[128];
            memcpy(ids, run.prompt, (size_t)run.n_prompt * sizeof *ids);
            Sampler s;
            sampler_init(&s, &sc);
            GenerateOptions opt = {.max_new_tokens = run.trusted, .stop_ids = eos, .n_stop = n_eos};
            GenerateStats st;
            int n = generate(&e.base, &s, ids, run.n_prompt, 128, &opt, &st);
            PS_CHECK(n > run.n_prompt, "generate on the GPU engine failed on %s run %d", M3_MODELS[i][0], r);
            char what[300];
            snprintf(what, sizeof what, "%s run %d", M3_MODELS[i][1], r);
            compared += PS_CHECK_GREEDY(what, ids + run.n_prompt, n - run.n_prompt, &run);
        }
        gpu_engine_free(&e);
        ps_golden_close(g);
        model_free(&m);
    }
    printf("%d generated ids equal Hugging Face's\n", compared);
    PS_CHECK(compared >= 100, "only %d ids compared (models/tiny, or run make synth)", compared);
}

// ---- (e) limits: refused with a message, nothing changed ----
static void t_limits(void) {
    Model m;
    PS_CHECK(load(&m, "tiny"), "models/tiny/model.safetensors is missing");
    size_t vocab = (size_t)m.cfg.vocab_size;
    float *logits = malloc(8 * vocab * sizeof *logits);
    GpuEngine e;
    PS_CHECK(gpu_engine_init(&e, &m, 0) == -1, "ctx 0 must be refused");
    PS_CHECK(gpu_engine_init(&e, &m, gpu_engine_max_ctx(&m.cfg) + 1) == -1, "ctx beyond the GPU limit");
    int32_t ids[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    open_engine(&e, &m, 6);
    PS_CHECK(gpu_engine_forward(&e, ids, 4, logits, false) == 0, "4 tokens in a context of 6");
    PS_CHECK(gpu_engine_forward(&e, ids, 3, logits, false) == -1, "4 + 3 tokens in a context of 6 must fail");
    PS_CHECK(e.n == 4, "a refused call must leave the cache as it was (%d positions)", e.n);
    int32_t bad[2] = {5, m.cfg.vocab_size};
    PS_CHECK(gpu_engine_forward(&e, bad, 2, logits, false) == -1, "id %d must be refused", m.cfg.vocab_size);
    int32_t negative = -1;
    PS_CHECK(gpu_engine_forward(&e, &negative, 1, logits, false) == -1, "id -1 must be refused");
    PS_CHECK(e.n == 4 && e.steps == 4, "a bad id must run nothing (%d positions, %d steps)", e.n, e.steps);
    PS_CHECK(gpu_engine_forward(&e, ids, 2, logits, false) == 0 && e.n == 6, "4 + 2 tokens fill it");
    PS_CHECK(gpu_engine_forward(&e, ids, 1, logits, false) == -1, "a full context must refuse one more");
    PS_CHECK(e.base.next_logits(&e.base, ids, 8, logits) == -1, "a sequence of 8 in a context of 6 must fail");
    gpu_engine_free(&e);
    free(logits);
    model_free(&m);
}

// ---- weights wrapped in place (no copy) ----

// Moves (mem != NULL) every weight of m to mem, packed, and points m at the copies; returns the
// bytes that takes (mem == NULL: only counts them).
static size_t pack_weights(Model *m, char *mem) {
    const Config *c = &m->cfg;
    size_t used = 0;
#define MOVE(ptr, bytes) \
    do { \
        if (mem) memcpy(mem + used, (ptr), (bytes)), (ptr) = (void *)(mem + used); \
        used += (bytes); \
    } while (0)
    MOVE(m->embed.data, (size_t)m->embed.rows * m->embed.cols * sizeof(float));
    MOVE(m->final_norm, (size_t)c->dim * sizeof(float));
    for (int l = 0; l < c->n_layers; l++) {
        Layer *L = &m->layers[l];
        MOVE(L->attn_norm, (size_t)c->dim * sizeof(float));
        MOVE(L->mlp_norm, (size_t)c->dim * sizeof(float));
        MOVE(L->q_norm, (size_t)c->head_dim * sizeof(float));
        MOVE(L->k_norm, (size_t)c->head_dim * sizeof(float));
        Mat *mats[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (int k = 0; k < 7; k++) MOVE(mats[k]->data, (size_t)mats[k]->rows * mats[k]->cols * sizeof(float));
    }
#undef MOVE
    m->lm_head = m->embed;   // tied
    return used;
}

// The weights of m moved to one page-aligned allocation (returned), as a Mac's allocator (large
// blocks are whole pages) or an mmap'd file would give them.
static void *rebase_page_aligned(Model *m) {
    size_t page = (size_t)getpagesize(), total = pack_weights(m, NULL);
    void *mem = NULL;
    PS_CHECK(posix_memalign(&mem, page, (total + page - 1) / page * page) == 0, "out of memory");
    pack_weights(m, mem);
    return mem;
}

static void t_wrap(void) {
    Model m;
    PS_CHECK(load(&m, "tiny"), "models/tiny/model.safetensors is missing");
    PS_CHECK(m.lm_head_is_embed && m.embed.dtype == DT_F32, "the tiny model has a tied f32 embedding");
    size_t vocab = (size_t)m.cfg.vocab_size;
    const int32_t ids[4] = {100, 2000, 33, 4000};
    float *copied = malloc(4 * vocab * sizeof *copied), *wrapped = malloc(4 * vocab * sizeof *wrapped);
    GpuEngine e;
    open_engine(&e, &m, 8);
    PS_CHECK(gpu_engine_forward(&e, ids, 4, copied, true) == 0, "forward with copied weights failed");
    printf("malloc'd weights: %zu bytes copied, %zu wrapped\n", e.weight_bytes_copied, e.weight_bytes_wrapped);
    gpu_engine_free(&e);
    void *mem = rebase_page_aligned(&m);
    open_engine(&e, &m, 8);
    printf("page-aligned weights: %zu bytes copied, %zu wrapped\n", e.weight_bytes_copied, e.weight_bytes_wrapped);
    PS_CHECK(e.weight_bytes_copied == 0 && e.weight_bytes_wrapped > 0,
             "page-aligned weights must be wrapped, not copied (%zu bytes copied)", e.weight_bytes_copied);
    PS_CHECK(gpu_engine_forward(&e, ids, 4, wrapped, true) == 0, "forward with wrapped weights failed");
    PS_CHECK_BYTES("logits from wrapped weights", wrapped, copied, 4 * vocab * sizeof *copied);
    gpu_engine_free(&e);
    free(mem);
    free(copied), free(wrapped);
    model_free(&m);
}

static const PsTest TESTS[] = {
    {"gpu_engine.hf_logits", t_hf_logits, ANCHOR("encode-attention"), 60},
    {"gpu_engine.greedy", t_greedy, ANCHOR("logits-readback"), 60},
    {"gpu_engine.limits", t_limits, ANCHOR("kv-write"), 30},
    {"gpu_engine.wrap", t_wrap, ANCHOR("upload-weights"), 30},
};

int main(int argc, char **argv) { return ps_main("M7", TESTS, PS_COUNT(TESTS), argc, argv); }
