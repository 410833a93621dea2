// M3 tests, part 3: the generation loop. Greedy continuations must equal Hugging Face's
// generate(do_sample=False) (golden/m3/greedy-*.psg) on the embedded tiny model and the synthetic
// presets, for every step where the oracle's top-1/top-2 margin (and every earlier one) is > 1e-3:
// past a near-tie, float rounding may legitimately pick the other token.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "harness.h"
#include "model.h"

// Runs the golden runs of `golden_path` that make at most max_new tokens on the model `name`
// (ps_model), through the uncached forward pass (only the first `steps` tokens of each: recomputing
// the whole sequence every step is slow), and compares the trusted prefix of each continuation.
static void check_greedy(const char *golden_path, const char *name, int max_new, int steps) {
    const char *dir = ps_model(name);
    Model m;
    PS_CHECK(model_load(&m, dir, PS_MAP_READ) == 0, "cannot load %s", dir);
    PsGolden *g = ps_golden_open(golden_path);
    const int32_t *eos;
    int n_eos, runs = ps_greedy_runs(g, &eos, &n_eos), compared = 0;
    for (int r = 0; r < runs; r++) {
        PsGreedyRun run = ps_greedy_run_get(g, r);
        if (run.max_new > max_new) continue;
        SamplerConfig sc = sampler_config_default();
        sc.temperature = 0;
        sc.repetition_penalty = run.penalty;
        if (run.trusted > steps) run.trusted = steps;
        if (run.n_want > steps) run.n_want = steps;
        int capacity = run.n_prompt + steps;
        int32_t *ids = malloc((size_t)capacity * sizeof *ids);
        memcpy(ids, run.prompt, (size_t)run.n_prompt * sizeof *ids);
        Sampler s;
        sampler_init(&s, &sc);
        UncachedModel u;
        uncached_init(&u, &m);
        GenerateOptions opt = {.max_new_tokens = steps, .stop_ids = eos, .n_stop = n_eos};
        GenerateStats st;
        int n = generate(&u.base, &s, ids, run.n_prompt, capacity, &opt, &st);
        PS_CHECK(n == run.n_prompt + st.n_generated, "generate returned %d for %d + %d tokens", n, run.n_prompt,
                 st.n_generated);
        char what[300];
        snprintf(what, sizeof what, "%s run %d (penalty %g)", golden_path, r, (double)sc.repetition_penalty);
        compared += PS_CHECK_GREEDY(what, ids + run.n_prompt, n - run.n_prompt, &run);
        uncached_free(&u);
        free(ids);
    }
    printf("%s: %d generated ids equal Hugging Face's\n", golden_path, compared);
    PS_CHECK(compared >= 32, "only %d trusted ids compared in %s", compared, golden_path);
    ps_golden_close(g);
    model_free(&m);
}

static void t_greedy_tiny(void) { check_greedy("golden/m3/greedy-tiny.psg", "tiny", 32, 12); }
static void t_greedy_synth(void) {
    const char *presets[] = {"tiny-mha-f32", "tiny-gqa2-bf16", "small-gqa4-bf16", "small-tiedcopy-f32"};
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        char golden[256];
        snprintf(golden, sizeof golden, "golden/m3/greedy-synth-%s.psg", presets[i]);
        check_greedy(golden, presets[i], 32, 32);
    }
}

// A fake model whose logits always favour the next id of a fixed script, so the loop can be
// checked without a forward pass: it must stop on a stop id, honour max_new_tokens and the
// capacity, stream every id, and let the callback stop it.
typedef struct {
    LogitsSource base;
    const int32_t *script;
    int calls;
} Scripted;

static int scripted_next(LogitsSource *self, const int32_t *ids, int n, float *logits) {
    Scripted *s = (Scripted *)self;
    (void)ids;
    for (int i = 0; i < self->vocab_size; i++) logits[i] = 0;
    logits[s->script[s->calls++]] = 10;
    return n >= 1 ? 0 : -1;
}

typedef struct {
    int32_t seen[16];
    int n, stop_after;
} Seen;

static bool record(void *user, int32_t id) {
    Seen *s = user;
    s->seen[s->n++] = id;
    return s->n != s->stop_after;
}

static void t_loop(void) {
    const int32_t script[] = {5, 6, 7, 2, 8, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
    int32_t stops[] = {1, 2};
    SamplerConfig sc = sampler_config_default();
    sc.temperature = 0;
    Sampler s;
    sampler_init(&s, &sc);
    struct { int max_new, capacity, stop_after, want_len; bool stopped; } cases[] = {
        {10, 16, 0, 3 + 4, true},   // ends on stop id 2, which is kept
        {2, 16, 0, 3 + 2, false},   // max_new_tokens
        {10, 5, 0, 5, false},       // capacity
        {10, 16, 3, 3 + 3, true},   // the callback said stop after 3 ids
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        Scripted src = {{scripted_next, 10}, script, 0};
        Seen seen = {.stop_after = cases[c].stop_after};
        int32_t ids[16] = {3, 4, 4};
        GenerateOptions opt = {cases[c].max_new, stops, 2, record, &seen};
        GenerateStats st;
        int n = generate(&src.base, &s, ids, 3, cases[c].capacity, &opt, &st);
        PS_CHECK(n == cases[c].want_len, "case %zu: length %d, want %d", c, n, cases[c].want_len);
        PS_CHECK(st.n_generated == n - 3 && st.n_prompt == 3, "case %zu: stats count %d + %d", c,
                 st.n_prompt, st.n_generated);
        PS_CHECK(st.stopped == cases[c].stopped, "case %zu: stopped = %d", c, st.stopped);
        PS_CHECK(seen.n == n - 3, "case %zu: on_token saw %d ids, %d were made", c, seen.n, n - 3);
        PS_CHECK_IDS("generated", ids + 3, (size_t)(n - 3), script, (size_t)(n - 3));
        PS_CHECK_IDS("streamed", seen.seen, (size_t)seen.n, script, (size_t)seen.n);
    }
    // And the model directory's defaults: models/tiny samples (do_sample true) and stops on both ids.
    GenerationDefaults d;
    PS_CHECK(generation_defaults_load(&d, "models/tiny", 6002) == 0, "models/tiny's generation_config.json");
    PS_CHECK(d.sampler.temperature == 0.6f && d.sampler.top_k == 20 && d.sampler.top_p == 0.95f,
             "defaults: temperature %g top-k %d top-p %g", (double)d.sampler.temperature, d.sampler.top_k,
             (double)d.sampler.top_p);
    PS_CHECK(d.n_stop == 2 && d.stop_ids[0] == 6002 && d.stop_ids[1] == 6000, "stop ids: %d of them", d.n_stop);
}

static const PsTest TESTS[] = {
    {"generate.loop", t_loop, "book/m3-sampling.md#generate-loop", 0},
    {"generate.greedy-tiny", t_greedy_tiny, "book/m3-sampling.md#generate-loop", 60},
    {"generate.greedy-synthetic", t_greedy_synth, "book/m3-sampling.md#generate-loop", 60},
};

int main(int argc, char **argv) { return ps_main("M3", TESTS, PS_COUNT(TESTS), argc, argv); }
