// M4 tests: the KV cache. With the cache every logit must equal M2's uncached forward() (the
// reference forward pass, atol 1e-5) at every position, prefill and decode alike; greedy
// continuations must still equal Hugging Face's (golden/m3/greedy-*.psg, now the long runs too);
// and contexts that do not fit must be refused with a message.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "generate.h"
#include "harness.h"
#include "kv_greedy.h"
#include "kvcache.h"
#include "model.h"

// Each test model (ps_model's names) with its greedy runs.
static const char *MODELS[][2] = {
    {"tiny", "golden/m3/greedy-tiny.psg"},
    {"tiny-mha-f32", "golden/m3/greedy-synth-tiny-mha-f32.psg"},
    {"tiny-gqa2-bf16", "golden/m3/greedy-synth-tiny-gqa2-bf16.psg"},
    {"small-gqa4-bf16", "golden/m3/greedy-synth-small-gqa4-bf16.psg"},
    {"small-tiedcopy-f32", "golden/m3/greedy-synth-small-tiedcopy-f32.psg"},
};
#define N_MODELS (sizeof MODELS / sizeof MODELS[0])

// false when the model is not there and cannot be made: the test goes on with the next one.
static bool load(Model *m, const char *name) {
    const char *dir = ps_model_try(name);
    PS_CHECK(!dir || model_load(m, dir, PS_MAP_READ) == 0, "cannot load %s", dir);
    return dir != NULL;
}

static void t_size(void) {
    // Qwen3-0.6B: 28 layers, 8 kv heads, head_dim 128; at 4096 positions: 2*28*8*128*4096*4 bytes.
    Config c = {.dim = 1024, .ffn_dim = 3072, .n_layers = 28, .n_heads = 16, .n_kv_heads = 8,
                .head_dim = 128, .vocab_size = 151936, .max_seq_len = 40960};
    PS_CHECK(kv_cache_bytes(&c, 4096) == 939524096u, "Qwen3-0.6B at ctx 4096: %zu bytes, want 939524096",
             kv_cache_bytes(&c, 4096));
    PS_CHECK(kv_cache_bytes(&c, 1) * 40960 == kv_cache_bytes(&c, 40960), "the size must be linear in ctx");
    PS_CHECK(kv_cache_default_ctx(&c) == 4096, "default ctx: %d", kv_cache_default_ctx(&c));
}

// Logits at every position: a prefill of the prompt, a second prefill chunk, then one token at a
// time; each compared with forward() over the whole sequence.
static void t_logits_match(void) {
    int tested = 0;
    for (size_t i = 0; i < N_MODELS; i++) {
        Model m;
        if (!load(&m, MODELS[i][0])) continue;
        PsGolden *g = ps_golden_open(MODELS[i][1]);
        int n_prompt, n_gen;
        const int32_t *prompt = ps_golden_ids(g, "r2.prompt", &n_prompt);
        const int32_t *gen = ps_golden_ids(g, "r2.generated", &n_gen);
        int n = n_prompt + n_gen;
        if (n > 48) n = 48;
        int32_t *ids = malloc((size_t)n * sizeof *ids);
        for (int t = 0; t < n; t++) ids[t] = t < n_prompt ? prompt[t] : gen[t - n_prompt];
        size_t vocab = (size_t)m.cfg.vocab_size;
        float *want = malloc((size_t)n * vocab * sizeof *want), *got = malloc((size_t)n * vocab * sizeof *got);
        PS_CHECK(forward(&m, ids, n, want, NULL) == 0, "forward() failed on %s", MODELS[i][0]);

        KVCache kc;
        PS_CHECK(kv_cache_init(&kc, &m, 64, 0) == 0, "kv_cache_init(ctx 64) failed");
        int chunk1 = n_prompt, chunk2 = n_prompt + 4;  // prefill, prefill at an offset, then decode
        PS_CHECK(kv_cache_forward(&kc, ids, chunk1, got, true) == 0, "prefill failed");
        PS_CHECK(kv_cache_forward(&kc, ids + chunk1, chunk2 - chunk1, got + chunk1 * vocab, true) == 0,
                 "second prefill failed");
        for (int t = chunk2; t < n; t++)
            PS_CHECK(kv_cache_forward(&kc, ids + t, 1, got + t * vocab, true) == 0, "decode at %d failed", t);
        PS_CHECK(kc.n == n, "the cache holds %d positions after %d tokens", kc.n, n);
        for (int t = 0; t < n; t++) {
            char what[256];
            snprintf(what, sizeof what, "%s: logits at position %d (%s)", MODELS[i][0], t,
                     t < chunk1 ? "prefill" : t < chunk2 ? "second prefill" : "decode");
            PS_CHECK_CLOSE(what, got + t * vocab, want + t * vocab, vocab, 1e-5, 0);
        }
        // Last-position-only logits are the same numbers.
        kc.n = 0;
        PS_CHECK(kv_cache_forward(&kc, ids, n, got, false) == 0, "prefill of %d failed", n);
        PS_CHECK_CLOSE("last-position logits", got, want + (n - 1) * vocab, vocab, 1e-5, 0);
        kv_cache_free(&kc);
        free(ids), free(want), free(got);
        ps_golden_close(g);
        model_free(&m);
        tested++;
    }
    PS_CHECK(tested > 0, "no model found (models/tiny, or run make synth)");
}

// Greedy generation through the cache: all golden runs, the 200-token ones included.
static void t_greedy(void) {
    int compared = 0;
    for (size_t i = 0; i < N_MODELS; i++) {
        Model m;
        if (!load(&m, MODELS[i][0])) continue;
        PsGolden *g = ps_golden_open(MODELS[i][1]);
        KVCache kc;
        PS_CHECK(kv_cache_init(&kc, &m, KV_GREEDY_CAP, 0) == 0, "kv_cache_init(ctx %d) failed", KV_GREEDY_CAP);
        compared += kv_greedy_runs(&kc, g, MODELS[i][1]);
        kv_cache_free(&kc);
        ps_golden_close(g);
        model_free(&m);
    }
    printf("%d generated ids equal Hugging Face's\n", compared);
    PS_CHECK(compared >= 200, "only %d ids compared (models/tiny, or run make synth)", compared);
}

// A new sequence that shares a prefix with the cached one reuses it: the logits must be those
// of a fresh forward pass over the new sequence.
static void t_prefix_reuse(void) {
    Model m;
    PS_CHECK(load(&m, "tiny"), "models/tiny/model.safetensors is missing");
    size_t vocab = (size_t)m.cfg.vocab_size;
    int32_t a[12] = {100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200};
    int32_t b[10] = {100, 200, 300, 400, 555, 666, 777, 888, 999, 1111};
    float *got = malloc(vocab * sizeof *got), *want = malloc(10 * vocab * sizeof *want);
    KVCache kc;
    PS_CHECK(kv_cache_init(&kc, &m, 32, 0) == 0, "kv_cache_init failed");
    PS_CHECK(kc.base.next_logits(&kc.base, a, 12, got) == 0, "next_logits on 12 ids failed");
    PS_CHECK(kc.n == 12, "after 12 ids the cache holds %d", kc.n);
    PS_CHECK(kc.base.next_logits(&kc.base, b, 10, got) == 0, "next_logits on the second sequence failed");
    PS_CHECK(kc.n == 10, "the cache holds %d positions, want 10", kc.n);
    PS_CHECK(forward(&m, b, 10, want, NULL) == 0, "forward failed");
    PS_CHECK_CLOSE("logits after a shared prefix of 4", got, want + 9 * vocab, vocab, 1e-5, 0);
    // The same sequence again: nothing new, but the last position is recomputed for its logits.
    PS_CHECK(kc.base.next_logits(&kc.base, b, 10, got) == 0 && kc.n == 10, "repeating a sequence");
    PS_CHECK_CLOSE("logits of a fully cached sequence", got, want + 9 * vocab, vocab, 1e-5, 0);
    kv_cache_free(&kc);
    free(got), free(want);
    model_free(&m);
}

// What does not fit is refused with a message, never overrun.
static void t_limits(void) {
    Model m;
    PS_CHECK(load(&m, "tiny"), "models/tiny/model.safetensors is missing");
    size_t vocab = (size_t)m.cfg.vocab_size;
    float *logits = malloc(8 * vocab * sizeof *logits);
    int32_t ids[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    KVCache kc;
    PS_CHECK(kv_cache_init(&kc, &m, 6, 0) == 0, "kv_cache_init(ctx 6) failed");
    PS_CHECK(kv_cache_forward(&kc, ids, 4, logits, false) == 0, "4 tokens in a context of 6");
    PS_CHECK(kv_cache_forward(&kc, ids, 3, logits, false) == -1, "4 + 3 tokens in a context of 6 must fail");
    PS_CHECK(kc.n == 4, "a refused call must leave the cache as it was (%d positions)", kc.n);
    PS_CHECK(kv_cache_forward(&kc, ids, 2, logits, false) == 0 && kc.n == 6, "4 + 2 tokens fill it");
    PS_CHECK(kc.base.next_logits(&kc.base, ids, 8, logits) == -1, "a prompt of 8 in a context of 6 must fail");
    kv_cache_free(&kc);

    KVCache big;
    PS_CHECK(kv_cache_init(&big, &m, m.cfg.max_seq_len + 1, 0) == -1, "ctx beyond max_position_embeddings");
    PS_CHECK(kv_cache_init(&big, &m, 0, 0) == -1, "ctx 0 must be refused");
    size_t need = kv_cache_bytes(&m.cfg, 1024);
    PS_CHECK(kv_cache_init(&big, &m, 1024, need - 1) == -1, "a cache over the memory limit must be refused");
    PS_CHECK(kv_cache_init(&big, &m, 1024, need) == 0, "a cache exactly at the limit fits");
    kv_cache_free(&big);
    free(logits);
    model_free(&m);
}

static const PsTest TESTS[] = {
    {"kvcache.size", t_size, "book/m4-kv-cache.md#cache-size", 0},
    {"kvcache.logits-match-uncached", t_logits_match, "book/m4-kv-cache.md#cache-attention", 60},
    {"kvcache.greedy", t_greedy, "book/m4-kv-cache.md#cache-attention", 60},
    {"kvcache.prefix-reuse", t_prefix_reuse, "book/m4-kv-cache.md#prefix-reuse", 30},
    {"kvcache.limits", t_limits, "book/m4-kv-cache.md#cache-attention", 30},
};

int main(int argc, char **argv) {
    kv_attention_use(false);   // your cached_attention; test_kv_attention.c tests the engine's (kv_attention.h)
    return ps_main("M4", TESTS, PS_COUNT(TESTS), argc, argv);
}
