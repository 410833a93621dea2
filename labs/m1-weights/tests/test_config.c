// M1 tests, part 3: config.json. The real Qwen3-0.6B config (transformers 4.x layout), the 5.x layout,
// the synthetic models' configs against what transformers read from them (golden/m1/*.psg), and
// broken configs that must be refused with a message naming the problem.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "harness.h"

#define ANCHOR(task) "book/m1-weights.md#" task

// Qwen/Qwen3-0.6B's config.json, as published.
static const char *QWEN3_06B =
    "{\n  \"architectures\": [\"Qwen3ForCausalLM\"],\n  \"attention_bias\": false,\n  \"attention_dropout\": 0.0,\n"
    "  \"bos_token_id\": 151643,\n  \"eos_token_id\": 151645,\n  \"head_dim\": 128,\n  \"hidden_act\": \"silu\",\n"
    "  \"hidden_size\": 1024,\n  \"initializer_range\": 0.02,\n  \"intermediate_size\": 3072,\n"
    "  \"max_position_embeddings\": 40960,\n  \"max_window_layers\": 28,\n  \"model_type\": \"qwen3\",\n"
    "  \"num_attention_heads\": 16,\n  \"num_hidden_layers\": 28,\n  \"num_key_value_heads\": 8,\n"
    "  \"rms_norm_eps\": 1e-06,\n  \"rope_scaling\": null,\n  \"rope_theta\": 1000000,\n  \"sliding_window\": null,\n"
    "  \"tie_word_embeddings\": true,\n  \"torch_dtype\": \"bfloat16\",\n  \"transformers_version\": \"4.51.0\",\n"
    "  \"use_cache\": true,\n  \"use_sliding_window\": false,\n  \"vocab_size\": 151936\n}\n";

static void t_qwen3_06b(void) {
    Config c;
    PS_CHECK(config_parse(&c, QWEN3_06B, "Qwen3-0.6B config.json") == 0, "the real Qwen3-0.6B config was refused");
    PS_CHECK(c.dim == 1024 && c.ffn_dim == 3072 && c.n_layers == 28, "dim/ffn/layers: %d %d %d", c.dim, c.ffn_dim, c.n_layers);
    PS_CHECK(c.n_heads == 16 && c.n_kv_heads == 8 && c.head_dim == 128, "heads %d, kv %d, head_dim %d (not 1024/16!)",
             c.n_heads, c.n_kv_heads, c.head_dim);
    PS_CHECK(c.vocab_size == 151936 && c.max_seq_len == 40960, "vocab %d, max_seq_len %d", c.vocab_size, c.max_seq_len);
    PS_CHECK(c.rope_theta == 1e6f && c.norm_eps == 1e-6f, "theta %g, eps %g", c.rope_theta, c.norm_eps);
    PS_CHECK(c.tie_embeddings && c.bos_id == 151643 && c.eos_id == 151645, "tied, bos/eos ids");
}

// Replaces the first occurrence of `from` in the 0.6B config; returns a malloc'd string.
static char *edited(const char *from, const char *to) {
    const char *at = strstr(QWEN3_06B, from);
    PS_CHECK(at != NULL, "test bug: '%s' not in the config", from);
    size_t head = (size_t)(at - QWEN3_06B), n = strlen(QWEN3_06B) - strlen(from) + strlen(to) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%.*s%s%s", (int)head, QWEN3_06B, to, at + strlen(from));
    return s;
}

static void t_transformers5(void) {
    char *json = edited("\"rope_theta\": 1000000,", "\"rope_parameters\": {\"rope_theta\": 500000.0, \"rope_type\": \"default\"},");
    Config c;
    PS_CHECK(config_parse(&c, json, "5.x config") == 0, "a transformers 5.x config (rope_parameters) was refused");
    PS_CHECK(c.rope_theta == 500000.0f, "rope_parameters.rope_theta: got %g, want 500000", c.rope_theta);
    free(json);
}

// config_parse must fail and say something containing `fragment`.
static void expect_refused(const char *json, const char *fragment) {
    PsCapture err;
    ps_capture_begin(&err, 2);
    Config c;
    int rc = config_parse(&c, json, "bad-config.json");
    char *msg = ps_capture_end(&err);
    PS_CHECK(rc == -1, "a bad config was accepted (expected an error about '%s'):\n%s", fragment, json);
    PS_CHECK(strstr(msg, "bad-config.json") && strstr(msg, fragment),
             "the message should name the file and mention '%s'; got: %s", fragment, msg);
    free(msg);
}

static void t_refused(void) {
    struct { const char *from, *to, *fragment; } cases[] = {
        {"\"hidden_size\": 1024,", "", "hidden_size"},                          // missing
        {"\"hidden_size\": 1024,", "\"hidden_size\": \"1024\",", "hidden_size"},   // wrong type
        {"\"num_key_value_heads\": 8,", "\"num_key_value_heads\": 5,", "num_key_value_heads"},
        {"\"head_dim\": 128,", "\"head_dim\": 127,", "head_dim"},
        {"\"num_hidden_layers\": 28,", "\"num_hidden_layers\": 0,", "num_hidden_layers"},
        {"\"rope_theta\": 1000000,", "", "rope_theta"},
        {"\"rope_theta\": 1000000,", "\"rope_theta\": -1,", "rope_theta"},
        {"\"rope_scaling\": null,", "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0},", "rope_type"},
        {"\"model_type\": \"qwen3\",", "\"model_type\": \"llama\",", "model_type"},
        {"\"attention_bias\": false,", "\"attention_bias\": true,", "attention_bias"},
        {"\"vocab_size\": 151936\n}", "\"vocab_size\": 151936\n", "malformed JSON"},
    };
    for (size_t i = 0; i < PS_COUNT(cases); i++) {
        char *json = edited(cases[i].from, cases[i].to);
        expect_refused(json, cases[i].fragment);
        free(json);
    }
}

// Each synthetic model's config.json read by us and by transformers (golden/m1/MODEL.psg "config").
static void t_synth(void) {
    const char *models[] = {"tiny-mha-f32", "tiny-gqa2-bf16", "small-gqa4-bf16", "small-tiedcopy-f32"};
    for (size_t i = 0; i < PS_COUNT(models); i++) {
        char path[300];
        snprintf(path, sizeof path, "%s/config.json", ps_model(models[i]));
        Config c;
        PS_CHECK(config_load(&c, path) == 0, "%s was refused", path);
        snprintf(path, sizeof path, "golden/m1/%s.psg", models[i]);
        PsGolden *g = ps_golden_open(path);
        const int32_t *w = ps_golden_get(g, "config")->data;
        const float *wf = ps_golden_get(g, "config_f")->data;
        int got[9] = {c.dim, c.ffn_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.vocab_size, c.max_seq_len,
                      c.tie_embeddings};
        const char *names[9] = {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                                "num_key_value_heads", "head_dim", "vocab_size", "max_position_embeddings",
                                "tie_word_embeddings"};
        for (int k = 0; k < 9; k++)
            PS_CHECK(got[k] == w[k], "%s: %s is %d, transformers reads %d", models[i], names[k], got[k], w[k]);
        PS_CHECK(c.norm_eps == wf[0] && c.rope_theta == wf[1], "%s: eps %g theta %g, transformers: %g %g", models[i],
                 c.norm_eps, c.rope_theta, wf[0], wf[1]);
        ps_golden_close(g);
    }
}

static const PsTest TESTS[] = {
    {"config.qwen3-0.6b", t_qwen3_06b, ANCHOR("rope-theta"), 0},
    {"config.transformers5", t_transformers5, ANCHOR("rope-theta"), 0},
    {"config.refused", t_refused, ANCHOR("config-checks"), 0},
    {"config.synth-vs-hf", t_synth, ANCHOR("rope-theta"), 60},
};

int main(int argc, char **argv) { return ps_main("M1", TESTS, PS_COUNT(TESTS), argc, argv); }
