// The generation loop, the uncached model it starts with, and a model's generation defaults.
#include "generate.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forward.h"
#include "mapfile.h"
#include "timing.h"
#include "xalloc.h"

// ---- M3's logits source: the whole forward pass, every step ----

static int uncached_next_logits(LogitsSource *self, const int32_t *ids, int n, float *logits) {
    UncachedModel *u = (UncachedModel *)self;
    size_t vocab = (size_t)u->model->cfg.vocab_size;
    if (n > u->capacity) {  // forward() writes every position's logits: grow the buffer
        float *grown = realloc(u->all_logits, (size_t)n * vocab * sizeof *grown);
        if (!grown) {
            fprintf(stderr, "generate: out of memory for the logits of %d positions\n", n);
            return -1;
        }
        u->all_logits = grown;
        u->capacity = n;
    }
    //> M3 uncached-logits
    //? Run forward() over all n ids (it fills u->all_logits with [n × vocab] logits) and copy the
    //? last position's row to `logits`. Positions 0..n-2 are recomputed every step and thrown away:
    //? that waste is what a KV cache (the next lab) removes.
    if (forward(u->model, ids, n, u->all_logits, NULL) != 0) return -1;
    memcpy(logits, u->all_logits + (size_t)(n - 1) * vocab, vocab * sizeof *logits);
    return 0;
    //<
}

void uncached_init(UncachedModel *u, const Model *m) {
    *u = (UncachedModel){.base = {uncached_next_logits, m->cfg.vocab_size}, .model = m};
}

void uncached_free(UncachedModel *u) {
    free(u->all_logits);
    u->all_logits = NULL;
    u->capacity = 0;
}

// ---- the loop ----

static bool is_stop(const GenerateOptions *opt, int32_t id) {
    for (int i = 0; i < opt->n_stop; i++)
        if (opt->stop_ids[i] == id) return true;
    return false;
}

int generate(LogitsSource *src, Sampler *s, int32_t *ids, int n_prompt, int capacity,
             const GenerateOptions *opt, GenerateStats *stats) {
    *stats = (GenerateStats){.n_prompt = n_prompt};
    if (n_prompt < 1 || n_prompt > capacity) {
        fprintf(stderr, "generate: the prompt has %d tokens (room for %d)\n", n_prompt, capacity);
        return -1;
    }
    float *logits = xmalloc((size_t)src->vocab_size * sizeof *logits);
    int n = n_prompt;
    //> M3 generate-loop
    //? While fewer than opt->max_new_tokens are made and there is room in ids: get the next
    //? logits from src (time the first call into stats->prompt_seconds, the others into
    //? decode_seconds, with ps_now()), pick the id with sampler_next (history: ids[0..n)),
    //? append it, count it, tell opt->on_token (false: stop), and stop after a stop id
    //? (stats->stopped = true). Return the new length (-1 if src fails; free logits either way).
    while (stats->n_generated < opt->max_new_tokens && n < capacity) {
        double start = ps_now();
        if (src->next_logits(src, ids, n, logits) != 0) {
            free(logits);
            return -1;
        }
        int32_t id = sampler_next(s, logits, src->vocab_size, ids, n);
        ids[n++] = id;
        double elapsed = ps_now() - start;
        if (stats->n_generated++ == 0) stats->prompt_seconds = elapsed;
        else stats->decode_seconds += elapsed;
        bool go_on = opt->on_token ? opt->on_token(opt->user, id) : true;
        if (!go_on || is_stop(opt, id)) {
            stats->stopped = true;
            break;
        }
    }
    free(logits);
    return n;
    //<
}

// ---- generation_config.json ----

void generation_add_stop(GenerationDefaults *g, int32_t id) {
    if (id < 0 || g->n_stop == MAX_STOP_IDS) return;
    for (int i = 0; i < g->n_stop; i++)
        if (g->stop_ids[i] == id) return;
    g->stop_ids[g->n_stop++] = id;
}

// A number field in [lo, hi], or fallback when the key is absent or null. -1 (message printed) when
// present but not such a number: the range comes first because narrowing a double that does not
// fit is undefined (to int) or infinite (to float).
static int number_field(const cJSON *root, const char *key, double fallback, double lo, double hi, double *out,
                        const char *path) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!item || cJSON_IsNull(item)) {
        *out = fallback;
        return 0;
    }
    if (!cJSON_IsNumber(item) || !(item->valuedouble >= lo && item->valuedouble <= hi)) {
        fprintf(stderr, "%s: \"%s\" must be a number in %g..%g\n", path, key, lo, hi);
        return -1;
    }
    *out = item->valuedouble;
    return 0;
}

int generation_defaults_load(GenerationDefaults *g, const char *dir, int eos_id) {
    *g = (GenerationDefaults){.sampler = sampler_config_default()};
    g->sampler.temperature = 0;  // HF's default is do_sample=false: greedy
    g->sampler.top_k = 50;
    char path[4096];
    snprintf(path, sizeof path, "%s/generation_config.json", dir);
    if (access(path, F_OK) == 0) {  // no file: the defaults above
        char *text = ps_read_text(path, NULL);
        if (!text) return -1;
        cJSON *root = cJSON_Parse(text);
        free(text);
        if (!cJSON_IsObject(root)) {
            fprintf(stderr, "%s: not a JSON object\n", path);
            cJSON_Delete(root);
            return -1;
        }
        double temperature, top_k, top_p, min_p, penalty;
        int bad = number_field(root, "temperature", 1.0, 0, FLT_MAX, &temperature, path) |
                  number_field(root, "top_k", 50, 0, INT_MAX, &top_k, path) |
                  number_field(root, "top_p", 1.0, 0, 1, &top_p, path) |
                  number_field(root, "min_p", 0.0, 0, 1, &min_p, path) |
                  number_field(root, "repetition_penalty", 1.0, FLT_MIN, FLT_MAX, &penalty, path);
        bool do_sample = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "do_sample"));
        g->sampler.temperature = do_sample ? (float)temperature : 0.0f;
        g->sampler.top_k = (int)top_k;
        g->sampler.top_p = (float)top_p;
        g->sampler.min_p = (float)min_p;
        g->sampler.repetition_penalty = (float)penalty;
        const cJSON *eos = cJSON_GetObjectItemCaseSensitive(root, "eos_token_id"), *e;
        if (cJSON_IsNumber(eos)) generation_add_stop(g, eos->valueint);
        else if (cJSON_IsArray(eos)) cJSON_ArrayForEach(e, eos) if (cJSON_IsNumber(e)) generation_add_stop(g, e->valueint);
        cJSON_Delete(root);
        const char *why = bad ? NULL : sampler_config_check(&g->sampler);
        if (why) fprintf(stderr, "%s: %s\n", path, why);
        if (bad || why) return -1;
    }
    generation_add_stop(g, eos_id);
    return 0;
}
