// The sampling pipeline (order and semantics: sampler.h). Each filter mirrors one of Hugging Face's
// logits processors, so the tests can compare our filtered logits with theirs number for number.
#include "sampler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "xalloc.h"

SamplerConfig sampler_config_default(void) {
    return (SamplerConfig){.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f,
                           .repetition_penalty = 1.0f, .seed = 0};
}

const char *sampler_config_check(const SamplerConfig *c) {
    // The negated comparisons also reject NaN.
    if (!(c->temperature >= 0) || isinf(c->temperature)) return "temperature must be a number >= 0";
    if (c->top_k < 0) return "top-k must be >= 0 (0 turns it off)";
    if (!(c->top_p > 0 && c->top_p <= 1)) return "top-p must be in (0, 1] (1 turns it off)";
    if (!(c->min_p >= 0 && c->min_p <= 1)) return "min-p must be in [0, 1] (0 turns it off)";
    if (!(c->repetition_penalty > 0) || isinf(c->repetition_penalty))
        return "repetition penalty must be a number > 0 (1 turns it off)";
    return NULL;
}

// Scratch memory for the filters (xcalloc: out of memory ends the program, shared/xalloc.h).
static void *scratch(size_t count, size_t size) { return xcalloc(count, size); }

void sampler_softmax(float *x, int n) {
    //> M3 softmax
    //? Subtract the largest value before exp() so nothing overflows; exp(-inf) is 0, so removed
    //? tokens get probability 0. Accumulate the sum in double, then divide.
    float max = -INFINITY;
    for (int i = 0; i < n; i++)
        if (x[i] > max) max = x[i];
    if (max == -INFINITY) return;  // nothing left to normalize (callers never get here)
    double sum = 0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    for (int i = 0; i < n; i++) x[i] = (float)(x[i] / sum);
    //<
}

int sampler_argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;  // strict '>': the first of equal maxima wins
    return best;
}

void sampler_repetition_penalty(float *logits, int n, const int *history, int n_history,
                                float penalty) {
    if (penalty == 1.0f || n_history <= 0) return;
    //> M3 repetition-penalty
    //? Every token id in history is penalized ONCE, however often it occurs: a positive logit is
    //? divided by the penalty, a negative one multiplied (both make the token less likely).
    //? Hint: compute all new values from the original logits first, then write them back.
    // Like HF (gather, then scatter): new values are computed from the original logits first,
    // then written, so a token that occurs five times is still penalized only once.
    float *penalized = scratch((size_t)n_history, sizeof *penalized);
    for (int j = 0; j < n_history; j++) {
        int id = history[j];
        if (id < 0 || id >= n) continue;  // ids beyond the logits (none in practice) are ignored
        float v = logits[id];
        penalized[j] = v < 0 ? v * penalty : v / penalty;
    }
    for (int j = 0; j < n_history; j++)
        if (history[j] >= 0 && history[j] < n) logits[history[j]] = penalized[j];
    free(penalized);
    //<
}

void sampler_temperature(float *logits, int n, float temperature) {
    //> M3 temperature
    //? Divide every logit by the temperature (> 0 here; 0 means greedy and never gets here).
    for (int i = 0; i < n; i++) logits[i] /= temperature;
    //<
}

void sampler_top_k(float *logits, int n, int k) {
    if (k <= 0 || k >= n) return;
    //> M3 top-k
    //? Find the k-th largest logit, then remove (-INFINITY) every logit strictly below it; ties
    //? with the k-th are kept, as in HF. Sorting a copy works; keeping a small sorted array of
    //? the k best seen so far is much faster for k << n.
    // best[0..k) holds the k largest values seen so far, in descending order; most logits are
    // below best[k-1] and cost one comparison.
    float *best = scratch((size_t)k, sizeof *best);
    for (int i = 0; i < k; i++) best[i] = -INFINITY;
    for (int i = 0; i < n; i++) {
        float v = logits[i];
        if (!(v > best[k - 1])) continue;
        int j = k - 1;
        while (j > 0 && best[j - 1] < v) {
            best[j] = best[j - 1];
            j--;
        }
        best[j] = v;
    }
    float kth = best[k - 1];
    for (int i = 0; i < n; i++)
        if (logits[i] < kth) logits[i] = -INFINITY;
    free(best);
    //<
}

// Sort order for top-p: ascending logits, like torch.sort(scores, descending=False).
typedef struct {
    float logit;
    int id;
} TokenLogit;

static int by_logit_ascending(const void *a, const void *b) {
    float x = ((const TokenLogit *)a)->logit, y = ((const TokenLogit *)b)->logit;
    if (x != y) return x < y ? -1 : 1;
    return ((const TokenLogit *)a)->id - ((const TokenLogit *)b)->id;
}

void sampler_top_p(float *logits, int n, float p) {
    if (p >= 1.0f) return;
    //> M3 top-p
    //? HF's rule: sort the tokens by ascending logit, take the softmax of that order and its
    //? running sum; remove every token whose running sum is <= 1 - p, but never the last
    //? (largest) one. Removed tokens (-INFINITY) have probability 0: you may sort only the others.
    TokenLogit *c = scratch((size_t)n, sizeof *c);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (logits[i] != -INFINITY) c[m++] = (TokenLogit){logits[i], i};
    qsort(c, (size_t)m, sizeof *c, by_logit_ascending);
    float *probs = scratch((size_t)m, sizeof *probs);
    for (int i = 0; i < m; i++) probs[i] = c[i].logit;
    sampler_softmax(probs, m);
    // The tail holding at most 1 - p of the mass goes; what is left holds at least p.
    double cumulative = 0;
    for (int i = 0; i < m - 1; i++) {
        cumulative += probs[i];
        if ((float)cumulative > 1.0f - p) break;
        logits[c[i].id] = -INFINITY;
    }
    free(probs);
    free(c);
    //<
}

void sampler_min_p(float *logits, int n, float min_p) {
    if (min_p <= 0.0f) return;
    //> M3 min-p
    //? Remove every token whose probability is below min_p times the largest probability. The
    //? most likely token always stays. Work on a copy: the logits themselves stay logits.
    float *probs = scratch((size_t)n, sizeof *probs);
    for (int i = 0; i < n; i++) probs[i] = logits[i];
    sampler_softmax(probs, n);
    float threshold = min_p * probs[sampler_argmax(probs, n)];
    for (int i = 0; i < n; i++)
        if (probs[i] < threshold) logits[i] = -INFINITY;
    free(probs);
    //<
}

void sampler_filter(const SamplerConfig *c, float *logits, int n, const int *history,
                    int n_history) {
    //[ sampler-order
    sampler_repetition_penalty(logits, n, history, n_history, c->repetition_penalty);
    if (c->temperature == 0.0f) return;  // greedy: HF applies no warpers without do_sample
    if (c->temperature != 1.0f) sampler_temperature(logits, n, c->temperature);
    sampler_top_k(logits, n, c->top_k);
    sampler_top_p(logits, n, c->top_p);
    sampler_min_p(logits, n, c->min_p);
    //]
}

int sampler_draw(const float *probs, int n, float u) {
    //> M3 sample-draw
    //? Inverse transform sampling: walk the tokens, adding up probabilities, and return the
    //? first token where the running sum exceeds u * total. Scale u by the total (the sum may be
    //? 0.9999999); if rounding lets you fall off the end, return the last token with prob > 0.
    double total = 0;
    for (int i = 0; i < n; i++) total += probs[i];
    double target = (double)u * total, cumulative = 0;
    int last = 0;
    for (int i = 0; i < n; i++) {
        if (probs[i] <= 0) continue;
        cumulative += probs[i];
        last = i;
        if (target < cumulative) return i;
    }
    return last;
    //<
}

void sampler_init(Sampler *s, const SamplerConfig *c) {
    s->config = *c;
    rng_seed(&s->rng, c->seed);
}

int sampler_next(Sampler *s, float *logits, int n, const int *history, int n_history) {
    sampler_filter(&s->config, logits, n, history, n_history);
    if (s->config.temperature == 0.0f) return sampler_argmax(logits, n);
    sampler_softmax(logits, n);
    return sampler_draw(logits, n, rng_float(&s->rng));
}
