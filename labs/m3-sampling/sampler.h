// Your lab's contract, copied by tools/mkskel from solutions/m3-sampling/sampler.h (do not edit: make skeletons rewrites it).
// Sampling: from the model's logits (one score per vocabulary token) to the next token id.
//
// The pipeline follows Hugging Face transformers' generate(), in the same order, with the same
// semantics, so that our filtered distributions equal HF's logits processors:
//
//   1. repetition penalty   every token already in the sequence: logit < 0 ? logit * r : logit / r
//   2. temperature          logits / T                       (T == 0 means greedy: argmax)
//   3. top-k                keep the k largest logits (ties with the k-th are kept)
//   4. top-p                keep the smallest top set whose probability reaches p
//   5. min-p                keep tokens with prob >= min_p * (largest prob)
//   6. softmax and one draw from the seeded RNG
//
// Each step writes -INFINITY into the logits it removes, so the steps compose and the final
// softmax gives removed tokens a probability of exactly 0. Every filter keeps at least one token.
#ifndef PS_SAMPLER_H
#define PS_SAMPLER_H

#include <stdint.h>

#include "rng.h"

typedef struct {
    float temperature;         // 0: greedy (argmax); otherwise > 0
    int top_k;                 // 0: off
    float top_p;               // 1: off; otherwise in (0, 1)
    float min_p;               // 0: off; otherwise in (0, 1]
    float repetition_penalty;  // 1: off; otherwise > 0
    uint64_t seed;
} SamplerConfig;

// The neutral configuration: temperature 1 and every filter off (plain sampling).
SamplerConfig sampler_config_default(void);

// NULL when the configuration is valid, else a message naming the bad field.
const char *sampler_config_check(const SamplerConfig *c);

// ---- the steps, each in place on logits[0..n) ----
void sampler_repetition_penalty(float *logits, int n, const int *history, int n_history,
                                float penalty);
void sampler_temperature(float *logits, int n, float temperature);
void sampler_top_k(float *logits, int n, int k);
void sampler_top_p(float *logits, int n, float p);
void sampler_min_p(float *logits, int n, float min_p);
// Runs steps 1-5 as configured (for greedy only step 1, as HF does with do_sample=False).
void sampler_filter(const SamplerConfig *c, float *logits, int n, const int *history,
                    int n_history);

// Softmax in place (max subtracted first, so large logits cannot overflow; -INFINITY gives 0).
void sampler_softmax(float *x, int n);
// The index of the largest value; the first one on ties (like torch.argmax).
int sampler_argmax(const float *x, int n);
// One draw from probabilities probs[0..n) (they need not sum exactly to 1), using u in [0, 1).
int sampler_draw(const float *probs, int n, float u);

// ---- the whole thing ----
typedef struct {
    SamplerConfig config;
    Rng rng;
} Sampler;

void sampler_init(Sampler *s, const SamplerConfig *c);
// The next token: filters logits (modified in place) and draws. history: the ids so far, prompt
// included (the repetition penalty looks at all of them, like HF).
int sampler_next(Sampler *s, float *logits, int n, const int *history, int n_history);

#endif
