// M3 tests, part 1: the samplers against Hugging Face's logits processors on fixed logits
// (golden/m3/samplers.psg, tools/oracle_m3.py), and the seeded draw against its distribution.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "rng.h"
#include "sampler.h"

#define SAMPLERS "golden/m3/samplers.psg"
enum { KIND_REP, KIND_TEMP, KIND_TOPK, KIND_TOPP, KIND_MINP, KIND_CHAIN };
static const char *KIND_NAMES[] = {"repetition penalty", "temperature", "top-k", "top-p", "min-p",
                                   "chain"};

static int32_t get_i32(const PsGolden *g, const char *name) {
    return ((const int32_t *)ps_golden_get(g, name)->data)[0];
}

// Filtered logits: removed tokens must be -inf in both, the others close.
static void check_filtered(const char *what, const float *got, const float *want, int n) {
    for (int i = 0; i < n; i++) {
        bool want_removed = isinf(want[i]) && want[i] < 0, got_removed = isinf(got[i]) && got[i] < 0;
        if (want_removed != got_removed)
            PS_FAIL("%s: token %d is %s by Hugging Face but %s by yours (logit %g, HF %g)", what, i,
                    want_removed ? "removed" : "kept", got_removed ? "removed" : "kept",
                    (double)got[i], (double)want[i]);
        if (!want_removed && !(fabsf(got[i] - want[i]) <= 1e-6f + 1e-5f * fabsf(want[i])))
            PS_FAIL("%s: token %d: got %.9g, HF %.9g", what, i, (double)got[i], (double)want[i]);
    }
}

// Runs every golden case of one kind through `run`; fails when there were none.
static void run_cases(int kind) {
    PsGolden *g = ps_golden_open(SAMPLERS);
    const int32_t *history = ps_golden_get(g, "history")->data;
    int n_history = (int)ps_golden_get(g, "history")->count;
    int ncases = get_i32(g, "ncases"), ran = 0;
    char name[64], what[160];
    for (int c = 0; c < ncases; c++) {
        snprintf(name, sizeof name, "case%d.kind", c);
        if (get_i32(g, name) != kind) continue;
        snprintf(name, sizeof name, "case%d.input", c);
        char xname[32];
        snprintf(xname, sizeof xname, "x%d", get_i32(g, name));
        const PsTensor *x = ps_golden_get(g, xname);
        int n = (int)x->count;
        float *logits = ps_tensor_f32(x);
        snprintf(name, sizeof name, "case%d.params", c);
        const float *p = ps_golden_get(g, name)->data;
        SamplerConfig cfg = {.temperature = p[0], .top_k = (int)p[1], .top_p = p[2], .min_p = p[3],
                             .repetition_penalty = p[4]};
        snprintf(what, sizeof what, "%s (temperature %g, top-k %d, top-p %g, min-p %g, penalty %g) on %s",
                 KIND_NAMES[kind], (double)p[0], cfg.top_k, (double)p[2], (double)p[3], (double)p[4], xname);
        switch (kind) {
        case KIND_REP: sampler_repetition_penalty(logits, n, history, n_history, p[4]); break;
        case KIND_TEMP: sampler_temperature(logits, n, p[0]); break;
        case KIND_TOPK: sampler_top_k(logits, n, cfg.top_k); break;
        case KIND_TOPP: sampler_top_p(logits, n, p[2]); break;
        case KIND_MINP: sampler_min_p(logits, n, p[3]); break;
        default: sampler_filter(&cfg, logits, n, history, n_history); break;
        }
        snprintf(name, sizeof name, "case%d.out", c);
        const PsTensor *want = ps_golden_get(g, name);
        PS_CHECK(want->count == (size_t)n, "golden case %d has %zu logits, input %d", c, want->count, n);
        check_filtered(what, logits, want->data, n);
        if (kind == KIND_CHAIN) {  // and the distribution the draw uses
            sampler_softmax(logits, n);
            snprintf(name, sizeof name, "case%d.probs", c);
            PS_CHECK_CLOSE(what, logits, ps_golden_get(g, name)->data, (size_t)n, 1e-7, 1e-5);
        }
        free(logits);
        ran++;
    }
    PS_CHECK(ran > 0, "no %s cases in %s", KIND_NAMES[kind], SAMPLERS);
    ps_golden_close(g);
}

static void t_softmax(void) {
    PsGolden *g = ps_golden_open(SAMPLERS);
    for (int i = 0; i < 4; i++) {
        char xname[32], want_name[32], what[64];
        snprintf(xname, sizeof xname, "x%d", i);
        snprintf(want_name, sizeof want_name, "softmax%d", i);
        snprintf(what, sizeof what, "softmax of x%d", i);
        const PsTensor *x = ps_golden_get(g, xname);
        float *probs = ps_tensor_f32(x);
        sampler_softmax(probs, (int)x->count);
        PS_CHECK_CLOSE(what, probs, ps_golden_get(g, want_name)->data, x->count, 1e-7, 1e-5);
        free(probs);
    }
    ps_golden_close(g);
}

static void t_repetition_penalty(void) { run_cases(KIND_REP); }
static void t_temperature(void) { run_cases(KIND_TEMP); }
static void t_top_k(void) { run_cases(KIND_TOPK); }
static void t_top_p(void) { run_cases(KIND_TOPP); }
static void t_min_p(void) { run_cases(KIND_MINP); }
static void t_chain(void) { run_cases(KIND_CHAIN); }

// The generator itself: the published xoshiro256** outputs from the state {1, 2, 3, 4}, and
// splitmix64's first outputs from 0 (which is what rng_seed(0) puts in the state).
static void check_rng(void) {
    Rng r = {{1, 2, 3, 4}};
    const uint64_t want[] = {11520u, 0u, 1509978240u, 1215971899390074240u};
    for (int i = 0; i < 4; i++) {
        uint64_t got = rng_u64(&r);
        PS_CHECK(got == want[i], "xoshiro256** output %d from state {1,2,3,4}: got %llu, want %llu",
                 i, (unsigned long long)got, (unsigned long long)want[i]);
    }
    rng_seed(&r, 0);
    const uint64_t seeded[] = {0xE220A8397B1DCDAFu, 0x6E789E6AA1B965F4u, 0x06C45D188009454Fu,
                               0xF88BB8A8724C81ECu};
    for (int i = 0; i < 4; i++)
        PS_CHECK(r.s[i] == seeded[i], "rng_seed(0): state word %d is %016llx, want splitmix64's %016llx",
                 i, (unsigned long long)r.s[i], (unsigned long long)seeded[i]);
    for (int i = 0; i < 100000; i++) {
        float u = rng_float(&r);
        PS_CHECK(u >= 0.0f && u < 1.0f, "rng_float returned %.9g, outside [0, 1)", (double)u);
    }
}

// Pearson's chi-square: draws from a golden distribution (the full chain's probabilities) must
// come out with the right frequencies. The seed is fixed, so the verdict never changes between
// runs; the bound is the 0.999 quantile (Wilson-Hilferty), so a correct sampler passes with room.
static void t_draw_frequencies(void) {
    check_rng();
    PsGolden *g = ps_golden_open(SAMPLERS);
    int ncases = get_i32(g, "ncases"), best = -1, best_kept = 0;
    char name[64];
    for (int c = 0; c < ncases; c++) {  // the chain case that keeps the most tokens
        snprintf(name, sizeof name, "case%d.kind", c);
        if (get_i32(g, name) != KIND_CHAIN) continue;
        snprintf(name, sizeof name, "case%d.probs", c);
        const PsTensor *p = ps_golden_get(g, name);
        int kept = 0;
        for (size_t i = 0; i < p->count; i++) kept += ((const float *)p->data)[i] > 0;
        if (kept > best_kept) best = c, best_kept = kept;
    }
    PS_CHECK(best >= 0 && best_kept >= 5, "%s has no chain case keeping 5+ tokens", SAMPLERS);
    snprintf(name, sizeof name, "case%d.probs", best);
    const PsTensor *pt = ps_golden_get(g, name);
    const float *probs = pt->data;
    int n = (int)pt->count;

    enum { DRAWS = 200000 };
    long *count = calloc((size_t)n, sizeof *count);
    Rng r;
    rng_seed(&r, 1234);
    for (int d = 0; d < DRAWS; d++) {
        int id = sampler_draw(probs, n, rng_float(&r));
        PS_CHECK(id >= 0 && id < n, "sampler_draw returned %d for %d tokens", id, n);
        PS_CHECK(probs[id] > 0, "drew token %d, whose probability is 0", id);
        count[id]++;
    }
    // Tokens expected fewer than 5 times are pooled into one bin (the test's usual condition).
    double chi2 = 0, pooled_expected = 0, pooled_seen = 0;
    int bins = 0;
    for (int i = 0; i < n; i++) {
        double expected = (double)probs[i] * DRAWS;
        if (probs[i] <= 0) continue;
        if (expected < 5) { pooled_expected += expected, pooled_seen += (double)count[i]; continue; }
        chi2 += (count[i] - expected) * (count[i] - expected) / expected;
        bins++;
    }
    if (pooled_expected > 0) {
        chi2 += (pooled_seen - pooled_expected) * (pooled_seen - pooled_expected) / pooled_expected;
        bins++;
    }
    double df = bins - 1, z = 3.090;  // z: the 0.999 quantile of the standard normal
    double h = 2.0 / (9.0 * df), bound = df * pow(1.0 - h + z * sqrt(h), 3);
    printf("chi-square %.2f over %d bins (df %.0f), bound %.2f\n", chi2, bins, df, bound);
    PS_CHECK(chi2 < bound, "draw frequencies do not follow the probabilities: chi-square %.1f >= %.1f",
             chi2, bound);
    // And u near the ends of [0, 1) still lands on tokens that can be drawn.
    PS_CHECK(probs[sampler_draw(probs, n, 0.0f)] > 0, "u = 0 drew an impossible token");
    PS_CHECK(probs[sampler_draw(probs, n, 0.99999994f)] > 0, "u -> 1 drew an impossible token");
    free(count);
    ps_golden_close(g);
}

// The whole sampler: a seed reproduces the run, another seed gives another run, and
// temperature 0 is argmax (after the repetition penalty).
static void t_seeded_runs(void) {
    PsGolden *g = ps_golden_open(SAMPLERS);
    const PsTensor *x = ps_golden_get(g, "x0");
    int n = (int)x->count;
    SamplerConfig cfg = sampler_config_default();
    cfg.temperature = 1.5f;
    cfg.top_p = 0.875f;
    int a[64], b[64], c[64];
    for (int run = 0; run < 3; run++) {
        cfg.seed = run < 2 ? 42 : 43;
        Sampler s;
        sampler_init(&s, &cfg);
        int *out = run == 0 ? a : run == 1 ? b : c;
        for (int i = 0; i < 64; i++) {
            float *logits = ps_tensor_f32(x);
            out[i] = sampler_next(&s, logits, n, NULL, 0);
            free(logits);
        }
    }
    PS_CHECK(memcmp(a, b, sizeof a) == 0, "the same seed gave two different runs");
    PS_CHECK(memcmp(a, c, sizeof a) != 0, "seeds 42 and 43 gave the same 64 draws");

    float *logits = ps_tensor_f32(x);
    int want = sampler_argmax(logits, n);
    cfg.temperature = 0;
    Sampler s;
    sampler_init(&s, &cfg);
    PS_CHECK(sampler_next(&s, logits, n, NULL, 0) == want, "temperature 0 must pick the argmax");
    free(logits);
    ps_golden_close(g);
}

static void t_config_check(void) {
    SamplerConfig c = sampler_config_default();
    PS_CHECK(sampler_config_check(&c) == NULL, "the default configuration must be valid");
    c.top_p = 0;
    PS_CHECK(sampler_config_check(&c) != NULL, "top-p 0 must be rejected");
    c = sampler_config_default();
    c.temperature = NAN;
    PS_CHECK(sampler_config_check(&c) != NULL, "temperature NaN must be rejected");
    c = sampler_config_default();
    c.repetition_penalty = 0;
    PS_CHECK(sampler_config_check(&c) != NULL, "repetition penalty 0 must be rejected");
    // Filters must always leave a token: a sampler on one logit returns it.
    float one[1] = {3.0f};
    sampler_top_p(one, 1, 0.25f);
    sampler_min_p(one, 1, 1.0f);
    sampler_top_k(one, 1, 1);
    PS_CHECK(one[0] == 3.0f, "a filter removed the only token");
}

static const PsTest TESTS[] = {
    {"sampler.softmax", t_softmax, "book/m3-sampling.md#softmax", 0},
    {"sampler.repetition-penalty", t_repetition_penalty, "book/m3-sampling.md#repetition-penalty", 0},
    {"sampler.temperature", t_temperature, "book/m3-sampling.md#temperature", 0},
    {"sampler.top-k", t_top_k, "book/m3-sampling.md#top-k", 0},
    {"sampler.top-p", t_top_p, "book/m3-sampling.md#top-p", 0},
    {"sampler.min-p", t_min_p, "book/m3-sampling.md#min-p", 0},
    {"sampler.chain", t_chain, "book/m3-sampling.md#sampler-order", 0},
    {"sampler.draw-frequencies", t_draw_frequencies, "book/m3-sampling.md#sample-draw", 0},
    {"sampler.seeded-runs", t_seeded_runs, "book/m3-sampling.md#sample-draw", 0},
    {"sampler.filters-keep-one", t_config_check, "book/m3-sampling.md#top-p", 0},
};

int main(int argc, char **argv) { return ps_main("M3", TESTS, PS_COUNT(TESTS), argc, argv); }
