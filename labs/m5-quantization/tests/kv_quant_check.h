// What this lab's quantized-cache tests (test_kv_q8.c, test_kv_q4.c) check the same way for any
// block format of the cache: attention over a format's rows against M2's attention() over the
// same rows read back as f32, and the whole engine through such a cache against Hugging Face's
// logits (golden/m2) and greedy runs (golden/m3).
#ifndef PS_KV_QUANT_CHECK_H
#define PS_KV_QUANT_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../m4-kv-cache/tests/kv_greedy.h"   // M4's greedy runs through a cache
#include "forward.h"
#include "harness.h"
#include "kv_attention.h"
#include "kv_q8.h"
#include "kvcache.h"
#include "model.h"
#include "quant.h"

static inline uint32_t kvc_next(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }
static inline float kvc_uniform(uint32_t *s, float lo, float hi) {
    return lo + (hi - lo) * (float)(kvc_next(s) >> 8) / 16777216.0f;
}

// n_rows rows of n values (a multiple of 32) from x, one after the other, through the store of
// the format `type`.
static inline void kvc_store_rows(KVType type, void *rows, const float *x, int n_rows, int n) {
    for (int j = 0; j < n_rows; j++)
        kv_format(type)->store((char *)rows + j * kv_row_bytes(type, n), x + (size_t)j * n, (size_t)n);
}

// The first block of n_rows rows of n values of `type` (one after the other) that is not the
// matching block of `want`, the weights' blocks of the same values (n / 32 a row, each its f16
// scale and then the rest of its block_bytes), or -1 when every one is. Both quantized caches lay
// a row out as its blocks' scales side by side, then the rest of each block (kv_q8.h, kv_q4.h).
static inline int kvc_block_differs(KVType type, const void *rows, int n_rows, int n, const void *want) {
    const size_t block_bytes = (size_t)kv_format(type)->block_bytes, blocks = (size_t)(n / kv_format(type)->block);
    const uint8_t *w = want;
    for (int j = 0; j < n_rows; j++) {
        const uint8_t *row = (const uint8_t *)rows + j * kv_row_bytes(type, n);
        for (size_t b = 0; b < blocks; b++, w += block_bytes)
            if (memcmp(row + 2 * b, w, 2) || memcmp(row + 2 * blocks + (block_bytes - 2) * b, w + 2, block_bytes - 2))
                return j * (int)blocks + (int)b;
    }
    return -1;
}

// kv_attention over rows of `type` against M2's attention() over the same rows read back as f32,
// and the query as the key dots round it (kv_q8_query: 8 bits per block of 32; its scale times
// each int8 is exact in f32), so the two differ only by the order of float sums.
static inline void kvc_against_m2(KVType type, int n_heads, int n_kv_heads, int head_dim, int n_keys, uint32_t *seed) {
    const KVFormat *f = kv_format(type);
    const int q_dim = n_heads * head_dim, kv_dim = n_kv_heads * head_dim;
    const size_t cache = (size_t)n_keys * kv_dim, bytes = (size_t)n_keys * n_kv_heads * kv_row_bytes(type, head_dim);
    float *q = malloc(q_dim * sizeof *q), *k = malloc(cache * sizeof *k), *v = malloc(cache * sizeof *v);
    void *kq = malloc(bytes), *vq = malloc(bytes);
    float *want = malloc(q_dim * sizeof *want), *got = malloc(q_dim * sizeof *got), *scores = malloc(n_keys * sizeof *scores);
    KVQ8Query *qp = malloc((size_t)q_dim / QK8_0 * sizeof *qp);
    float *q8 = malloc(q_dim * sizeof *q8);
    for (size_t i = 0; i < cache; i++) k[i] = kvc_uniform(seed, -3.0f, 3.0f), v[i] = kvc_uniform(seed, -1.5f, 1.5f);
    for (int i = 0; i < q_dim; i++) q[i] = kvc_uniform(seed, -3.0f, 3.0f);
    const size_t row_bytes = kv_row_bytes(type, head_dim);
    for (size_t r = 0; r < cache / head_dim; r++) {   // row by row: a format lays out each row its own way
        f->store((char *)kq + r * row_bytes, k + r * head_dim, head_dim);
        f->store((char *)vq + r * row_bytes, v + r * head_dim, head_dim);
        f->load(k + r * head_dim, (char *)kq + r * row_bytes, head_dim);   // the values the cache holds, as f32
        f->load(v + r * head_dim, (char *)vq + r * row_bytes, head_dim);
    }
    kv_q8_query(qp, q, q_dim, false);
    for (int i = 0; i < q_dim; i++) q8[i] = qp[i / QK8_0].d * qp[i / QK8_0].qs[i % QK8_0];
    attention(want, q8, k, v, n_keys, kv_dim, n_heads, n_kv_heads, head_dim, scores);
    const KVLayerView view = kv_view_by_position(kq, vq, type, n_heads, n_kv_heads, head_dim);
    kv_attention(got, q, 1, n_keys - 1, &view);
    char what[128];
    snprintf(what, sizeof what, "%s: %d heads / %d kv heads x %d, %d keys", f->name, n_heads, n_kv_heads, head_dim, n_keys);
    PS_CHECK_CLOSE(what, got, want, q_dim, 1e-5, 1e-5);
    free(q), free(k), free(v), free(kq), free(vq), free(want), free(got), free(scores), free(qp), free(q8);
}

// The golden sequence of `name` (golden/m2) through a cache of `type` (a prefill, a second one at
// an offset, then one token at a time), every logit within tol x (1 + |logit|) of transformers'.
// Returns the largest difference; *relative gets the largest difference / (1 + |logit|).
static inline double kvc_logits_against_hf(KVType type, const char *name, Model *m, double tol, double *relative) {
    const char *format = kv_format(type)->name;
    char path[256];
    snprintf(path, sizeof path, "golden/m2/%s.psg", name);
    PsGolden *g = ps_golden_open(path);
    const PsTensor *ids_t = ps_golden_get(g, "ids"), *want_t = ps_golden_get(g, "logits");
    const int n = (int)ids_t->count;
    const int32_t *ids = ids_t->data;
    const float *want = want_t->data;
    const size_t vocab = (size_t)m->cfg.vocab_size;
    float *got = malloc((size_t)n * vocab * sizeof *got);
    KVCache kc;
    PS_CHECK(kv_cache_init_as(&kc, m, 64, 0, type) == 0, "kv_cache_init_as(ctx 64, %s) failed", format);
    const int chunk1 = n / 2, chunk2 = n / 2 + 3 < n ? n / 2 + 3 : n;
    PS_CHECK(kv_cache_forward(&kc, ids, chunk1, got, true) == 0, "prefill failed");
    PS_CHECK(kv_cache_forward(&kc, ids + chunk1, chunk2 - chunk1, got + chunk1 * vocab, true) == 0, "second prefill");
    for (int t = chunk2; t < n; t++)
        PS_CHECK(kv_cache_forward(&kc, ids + t, 1, got + t * vocab, true) == 0, "decode at %d failed", t);
    double worst = 0;
    *relative = 0;
    for (size_t i = 0; i < (size_t)n * vocab; i++) {
        const double err = fabs((double)got[i] - want[i]);
        PS_CHECK(err <= tol + tol * fabs(want[i]), "%s (%s cache): logit %zu of position %zu is %.6g, transformers %.6g",
                 name, format, i % vocab, i / vocab, got[i], want[i]);
        worst = fmax(worst, err);
        *relative = fmax(*relative, err / (1 + fabs(want[i])));
    }
    kv_cache_free(&kc);
    free(got);
    ps_golden_close(g);
    return worst;
}

// Hugging Face's greedy runs of `name` (golden/m3) through a cache of `type`. Until the ids part
// they are the same sequence, so the logits at a step are within tol x (1 + |logit|) of
// transformers' (kvc_logits_against_hf's check): a step can pick another id only where
// transformers' top two scores are closer than twice that (times the repetition penalty, which
// scales a logit by up to that much; logit_scale bounds |logit| there). Returns the ids equal to
// Hugging Face's; *all gets the number compared.
static inline int kvc_greedy_against_hf(KVType type, const char *name, Model *m, double tol, double logit_scale,
                                        int *all) {
    char path[256];
    snprintf(path, sizeof path, "golden/m3/greedy-%s%s.psg", strcmp(name, "tiny") ? "synth-" : "", name);
    PsGolden *g = ps_golden_open(path);
    KVCache kc;
    PS_CHECK(kv_cache_init_as(&kc, m, KV_GREEDY_CAP, 0, type) == 0, "kv_cache_init_as(ctx %d, %s) failed", KV_GREEDY_CAP,
             kv_format(type)->name);
    const int32_t *eos;
    int n_eos, runs = ps_greedy_runs(g, &eos, &n_eos), equal = 0;
    for (int r = 0; r < runs; r++) {
        PsGreedyRun run = ps_greedy_run_get(g, r);
        char name_m[64];
        snprintf(name_m, sizeof name_m, "r%d.margins", r);
        const float *margins = ps_golden_get(g, name_m)->data;
        int32_t ids[KV_GREEDY_CAP];
        const int n = kv_greedy_generate(&kc, &run, eos, n_eos, ids, path, r);
        const int32_t *got = ids + run.n_prompt;
        const int n_got = n - run.n_prompt;
        int same = 0;
        while (same < n_got && same < run.n_want && got[same] == run.want[same]) same++;
        const float allowed = 2.0f * (float)(tol * (1 + logit_scale)) * (run.penalty > 1.0f ? run.penalty : 1.0f);
        if (same < n_got || same < run.n_want) {   // the runs part (or one stopped first) at step `same`
            const int at = same < run.n_want ? same : run.n_want - 1;
            printf("%s run %d: %d of %d ids equal, then a step where transformers' top two are %.3g apart\n", path, r,
                   same, run.n_want, margins[at]);
            PS_CHECK(margins[at] < allowed,
                     "%s run %d: step %d is %d, Hugging Face's %d, where its top two scores are %.3g apart (more than %.3g)",
                     path, r, same, same < n_got ? got[same] : -1, run.want[at], margins[at], allowed);
        }
        equal += same;
        *all += run.n_want;
    }
    kv_cache_free(&kc);
    ps_golden_close(g);
    return equal;
}

#endif
