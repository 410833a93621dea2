// Generation: prompt ids in, new ids out, one token at a time.
//
//     ids ──model──▶ logits of the next token ──sampler──▶ id ──append──▶ ids ──▶ ... until a
//     stop id (EOS) is produced or max_new_tokens are made
//
// The loop does not care how the logits are computed: a LogitsSource gives the logits that follow
// a sequence. M3's UncachedModel reruns the whole forward pass on the whole sequence every step;
// A KV cache (the next lab) keeps each position's keys and values and computes only the new tokens.
#ifndef PS_GENERATE_H
#define PS_GENERATE_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "sampler.h"

typedef struct LogitsSource LogitsSource;
struct LogitsSource {
    // ids[0..n): the whole sequence so far (n >= 1). Writes the logits of the token that follows
    // ids[n-1] to logits [vocab_size]. Returns 0, or -1 after printing a message.
    int (*next_logits)(LogitsSource *self, const int32_t *ids, int n, float *logits);
    int vocab_size;
};

// ---- M3: no cache ----
typedef struct {
    LogitsSource base;  // first member, so &u->base can be turned back into the UncachedModel
    const Model *model;
    float *all_logits;  // forward() writes the logits of every position: [capacity × vocab_size]
    int capacity;
} UncachedModel;

void uncached_init(UncachedModel *u, const Model *m);
void uncached_free(UncachedModel *u);

// ---- the loop ----
typedef struct {
    int max_new_tokens;
    const int32_t *stop_ids;  // producing one of these ends generation (it is kept in ids)
    int n_stop;
    // Called with each new id as soon as it is chosen, for streaming; NULL for none. Returning
    // false stops generation there.
    bool (*on_token)(void *user, int32_t id);
    void *user;
} GenerateOptions;

typedef struct {
    int n_prompt, n_generated;
    double prompt_seconds;  // the first step: the whole prompt goes through the model
    double decode_seconds;  // the other steps: one new token each (n_generated - 1 of them)
    bool stopped;           // ended on a stop id (or on_token said stop), not on max_new_tokens
} GenerateStats;

// ids has room for `capacity` ids; ids[0..n_prompt) is the prompt (n_prompt >= 1). New ids are
// appended (at most max_new_tokens, and never beyond capacity). The repetition penalty sees the
// whole sequence, prompt included, as in Hugging Face. Returns the new length, or -1 on error.
int generate(LogitsSource *src, Sampler *s, int32_t *ids, int n_prompt, int capacity,
             const GenerateOptions *opt, GenerateStats *stats);

// ---- defaults of a model directory ----
#define MAX_STOP_IDS 8
typedef struct {
    SamplerConfig sampler;         // generation_config.json's values (do_sample false: greedy)
    int32_t stop_ids[MAX_STOP_IDS];
    int n_stop;
} GenerationDefaults;

// Reads DIR/generation_config.json if it exists (do_sample, temperature, top_k, top_p, min_p,
// repetition_penalty, eos_token_id as a number or a list). Missing keys take Hugging Face's
// GenerationConfig defaults: do_sample false (greedy), temperature 1, top_k 50, top_p 1; so a
// model without the file generates greedily, as generate() would. eos_id (config.json's, -1 for
// none) is added to the stop ids. Returns 0, or -1 after a message naming the file and key.
int generation_defaults_load(GenerationDefaults *g, const char *dir, int eos_id);
// Adds id to the stop ids unless already there (or < 0).
void generation_add_stop(GenerationDefaults *g, int32_t id);

#endif
