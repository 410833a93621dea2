// What both of this lab's test files check the same way: Hugging Face's greedy runs (a golden/m3
// greedy-*.psg file) generated again through a KV cache.
#ifndef PS_KV_GREEDY_H
#define PS_KV_GREEDY_H

#include <stdio.h>
#include <string.h>

#include "generate.h"
#include "harness.h"
#include "kvcache.h"

#define KV_GREEDY_CAP 256   // ids of the longest run, prompt included (the 200-token runs fit)

// Run r of g generated again at temperature 0 (its prompt, repetition penalty and stop ids eos)
// through kc, into ids [KV_GREEDY_CAP]: the prompt, then the new ids. Returns how many ids ids
// holds; `label` names the run in messages.
static inline int kv_greedy_generate(KVCache *kc, const PsGreedyRun *run, const int32_t *eos, int n_eos, int32_t *ids,
                                     const char *label, int r) {
    PS_CHECK(kc->ctx >= KV_GREEDY_CAP, "the cache holds %d positions; greedy runs need %d", kc->ctx, KV_GREEDY_CAP);
    SamplerConfig sc = sampler_config_default();
    sc.temperature = 0;
    sc.repetition_penalty = run->penalty;
    PS_CHECK(run->n_prompt < KV_GREEDY_CAP, "%s run %d: a prompt of %d ids", label, r, run->n_prompt);
    memcpy(ids, run->prompt, (size_t)run->n_prompt * sizeof *ids);
    Sampler s;
    sampler_init(&s, &sc);
    GenerateOptions opt = {.max_new_tokens = run->max_new, .stop_ids = eos, .n_stop = n_eos};
    GenerateStats st;
    const int n = generate(&kc->base, &s, ids, run->n_prompt, KV_GREEDY_CAP, &opt, &st);
    PS_CHECK(n > run->n_prompt, "generate failed on %s run %d", label, r);
    return n;
}

// Every run of g generated again (kv_greedy_generate) and its new ids compared with
// PS_CHECK_GREEDY; `label` starts each run's name in messages. Returns how many ids were compared.
static inline int kv_greedy_runs(KVCache *kc, PsGolden *g, const char *label) {
    const int32_t *eos;
    int n_eos, runs = ps_greedy_runs(g, &eos, &n_eos), compared = 0;
    for (int r = 0; r < runs; r++) {
        PsGreedyRun run = ps_greedy_run_get(g, r);
        int32_t ids[KV_GREEDY_CAP];
        const int n = kv_greedy_generate(kc, &run, eos, n_eos, ids, label, r);
        char what[400];   // label (at most 300 bytes in these tests) and the run number
        snprintf(what, sizeof what, "%s run %d", label, r);
        compared += PS_CHECK_GREEDY(what, ids + run.n_prompt, n - run.n_prompt, &run);
    }
    return compared;
}

#endif
