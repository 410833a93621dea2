// M2 tests, part 2: the whole forward pass against transformers, checkpoint by checkpoint
// (golden/m2/MODEL.psg): the embedding, every block's output, the final norm, the logits at every
// position. The first checkpoint that diverges is reported first: that is where the bug is.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "harness.h"
#include "model.h"

#define TOL 1e-4   // atol = rtol: f32 against f32, only the order of the sums differs

// Are got and want within tolerance? If not, says where the biggest error is, as [pos, dim].
static bool close_enough(const char *what, const float *got, const PsTensor *want_t, int n, int width) {
    PS_CHECK(want_t->count == (size_t)n * width, "%s: golden holds %zu values, expected %d x %d", what, want_t->count, n, width);
    const float *want = want_t->data;
    size_t bad = 0, worst = 0;
    double worst_err = -1;
    for (size_t i = 0; i < (size_t)n * width; i++) {
        double err = fabs((double)got[i] - want[i]);
        if (!(err <= TOL + TOL * fabs(want[i]))) bad++;   // NaN counts as bad
        if (!(err <= worst_err)) worst_err = err, worst = i;
    }
    if (!bad) return true;
    printf("FIRST DIVERGENCE: %s: max abs err %.3g at [pos %zu, dim %zu] (yours %.6g, transformers %.6g); "
           "%zu of %zu values off\n", what, worst_err, worst / width, worst % width, got[worst], want[worst], bad,
           (size_t)n * width);
    return false;
}

static void check_model(const char *name) {
    const char *dir = ps_model(name);
    char path[256];
    snprintf(path, sizeof path, "golden/m2/%s.psg", name);
    PsGolden *g = ps_golden_open(path);
    Model m;
    PS_CHECK(model_load(&m, dir, PS_MAP_MMAP) == 0, "model_load(%s) failed (lab M1)", dir);
    const Config *c = &m.cfg;
    const PsTensor *ids_t = ps_golden_get(g, "ids");
    int n = (int)ids_t->count;
    Checkpoints ck;
    PS_CHECK(checkpoints_alloc(&ck, c, n) == 0, "out of memory");
    float *logits = malloc((size_t)n * c->vocab_size * sizeof *logits);
    PS_CHECK(forward(&m, ids_t->data, n, logits, &ck) == 0, "forward() failed on %d valid ids", n);
    // In order: the first checkpoint off is the one to debug; later ones are consequences.
    char what[64];
    bool ok = close_enough("embedding", ck.embedding, ps_golden_get(g, "embedding"), n, c->dim);
    for (int l = 0; l < c->n_layers && ok; l++) {
        snprintf(what, sizeof what, "block.%d", l);
        const PsTensor *want = ps_golden_get(g, what);
        snprintf(what, sizeof what, "block %d output", l);
        ok = close_enough(what, ck.blocks + (size_t)l * n * c->dim, want, n, c->dim);
    }
    ok = ok && close_enough("final norm", ck.final_norm, ps_golden_get(g, "final_norm"), n, c->dim);
    ok = ok && close_enough("logits", logits, ps_golden_get(g, "logits"), n, c->vocab_size);
    if (!ok) PS_FAIL("%s: the forward pass diverges from transformers (see FIRST DIVERGENCE above; "
                     "debug that checkpoint first)", dir);
    // Greedy agreement at every position: what M3 will generate from.
    const float *want = ps_golden_get(g, "logits")->data;
    for (int t = 0; t < n; t++) {
        int a = 0, b = 0;
        for (int v = 1; v < c->vocab_size; v++) {
            if (logits[(size_t)t * c->vocab_size + v] > logits[(size_t)t * c->vocab_size + a]) a = v;
            if (want[(size_t)t * c->vocab_size + v] > want[(size_t)t * c->vocab_size + b]) b = v;
        }
        PS_CHECK(a == b, "position %d: your top token is %d, transformers' is %d", t, a, b);
    }
    free(logits);
    checkpoints_free(&ck);
    model_free(&m);
    ps_golden_close(g);
}

static void t_tiny(void) { check_model("tiny"); }
static void t_mha_f32(void) { check_model("tiny-mha-f32"); }
static void t_gqa2_bf16(void) { check_model("tiny-gqa2-bf16"); }
static void t_gqa4_bf16(void) { check_model("small-gqa4-bf16"); }
static void t_tiedcopy_f32(void) { check_model("small-tiedcopy-f32"); }

// Position t's logits may depend only on tokens 0..t: changing the last token must leave every
// earlier position's logits bit-identical (a missing causal mask fails this).
static void t_causal(void) {
    Model m;
    PS_CHECK(model_load(&m, ps_model("tiny-gqa2-bf16"), PS_MAP_MMAP) == 0, "model_load failed (lab M1)");
    int32_t a[6] = {5, 17, 17, 200, 3, 9}, b[6] = {5, 17, 17, 200, 3, 300};
    int V = m.cfg.vocab_size;
    float *la = malloc(6 * (size_t)V * sizeof *la), *lb = malloc(6 * (size_t)V * sizeof *lb);
    PS_CHECK(forward(&m, a, 6, la, NULL) == 0 && forward(&m, b, 6, lb, NULL) == 0, "forward failed");
    PS_CHECK(memcmp(la, lb, 5 * (size_t)V * sizeof *la) == 0, "positions 0-4 changed when only token 5 did: "
             "a position must not attend to later ones");
    PS_CHECK(memcmp(la + 5 * V, lb + 5 * V, (size_t)V * sizeof *la) != 0, "position 5 must depend on its own token");
    free(la);
    free(lb);
    model_free(&m);
}

static void t_bad_ids(void) {
    Model m;
    PS_CHECK(model_load(&m, ps_model("tiny-mha-f32"), PS_MAP_MMAP) == 0, "model_load failed (lab M1)");
    int32_t ids[3] = {1, m.cfg.vocab_size, 2};
    float *logits = malloc(3 * (size_t)m.cfg.vocab_size * sizeof *logits);
    PS_CHECK(forward(&m, ids, 3, logits, NULL) == -1, "an id equal to vocab_size must be refused, not read past the embedding");
    ids[1] = -1;
    PS_CHECK(forward(&m, ids, 3, logits, NULL) == -1, "a negative id must be refused");
    free(logits);
    model_free(&m);
}

static const PsTest TESTS[] = {
    {"forward.tiny-mha-f32", t_mha_f32, "book/m2-forward.md#debugging", 60},
    {"forward.tiny-gqa2-bf16", t_gqa2_bf16, "book/m2-forward.md#debugging", 60},
    {"forward.small-gqa4-bf16", t_gqa4_bf16, "book/m2-forward.md#debugging", 60},
    {"forward.small-tiedcopy-f32", t_tiedcopy_f32, "book/m2-forward.md#debugging", 60},
    {"forward.tiny", t_tiny, "book/m2-forward.md#debugging", 60},
    {"forward.causal", t_causal, "book/m2-forward.md#attention", 60},
    {"forward.bad-ids", t_bad_ids, "book/m2-forward.md#embedding", 60},
};

int main(int argc, char **argv) {
    matmul_use_simd(false);   // your matmul, not the engine's SIMD one (solutions/m2-forward/matmul_simd.c)
    return ps_main("M2", TESTS, PS_COUNT(TESTS), argc, argv);
}
