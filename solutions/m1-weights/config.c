// config.json → Config. Every field is type-checked and the values are checked against each other,
// because a wrong head count or theta does not crash anything: it silently produces garbage text.
#include "config.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapfile.h"

// Reads integer field `key` into *out; when absent uses `fallback`, or fails if fallback < 0.
static int get_int(const cJSON *root, const char *key, int fallback, int *out, const char *what) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!item || cJSON_IsNull(item)) {
        if (fallback < 0) return fprintf(stderr, "%s: missing field \"%s\"\n", what, key), -1;
        *out = fallback;
        return 0;
    }
    // The range test comes first: casting a double outside int's range to int is undefined.
    double d = item->valuedouble;
    if (!cJSON_IsNumber(item) || !(d >= 0 && d <= 1e9) || d != (double)(int)d)
        return fprintf(stderr, "%s: \"%s\" must be a whole number in 0..1000000000\n", what, key), -1;
    *out = (int)d;
    return 0;
}

// A number > 0 that stays a usable float: 1e-50 would become 0 and 1e39 infinity once narrowed,
// and either turns every logit into NaN or 0 without any error.
static int get_float(const cJSON *obj, const char *key, float *out, const char *what) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(item) || !(item->valuedouble > 0))
        return fprintf(stderr, "%s: \"%s\" must be a number > 0\n", what, key), -1;
    double d = item->valuedouble;
    if (d < FLT_MIN || d > FLT_MAX)
        return fprintf(stderr, "%s: \"%s\" = %g is outside what a float holds (%g..%g)\n", what, key, d,
                       (double)FLT_MIN, (double)FLT_MAX), -1;
    *out = (float)d;
    return 0;
}

// Optional string field that, when present, must have the value this engine implements.
static int expect_string(const cJSON *obj, const char *key, const char *want, const char *what) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item || cJSON_IsNull(item)) return 0;
    if (!cJSON_IsString(item) || strcmp(item->valuestring, want) != 0)
        return fprintf(stderr, "%s: \"%s\" must be \"%s\" (this engine implements only that)\n", what, key, want), -1;
    return 0;
}

static int parse_fields(Config *c, const cJSON *root, const char *what) {
    if (expect_string(root, "model_type", "qwen3", what) || expect_string(root, "hidden_act", "silu", what))
        return -1;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "use_sliding_window")))
        return fprintf(stderr, "%s: use_sliding_window = true is not supported (every layer attends to all positions)\n", what), -1;
    const cJSON *bias = cJSON_GetObjectItemCaseSensitive(root, "attention_bias");
    if (cJSON_IsTrue(bias)) return fprintf(stderr, "%s: attention_bias = true is not supported\n", what), -1;
    if (get_int(root, "hidden_size", -1, &c->dim, what) || get_int(root, "intermediate_size", -1, &c->ffn_dim, what) ||
        get_int(root, "num_hidden_layers", -1, &c->n_layers, what) ||
        get_int(root, "num_attention_heads", -1, &c->n_heads, what) || get_int(root, "vocab_size", -1, &c->vocab_size, what))
        return -1;
    // transformers' own defaults for the fields a config may leave out
    if (get_int(root, "num_key_value_heads", c->n_heads, &c->n_kv_heads, what) ||
        get_int(root, "head_dim", c->n_heads ? c->dim / c->n_heads : 0, &c->head_dim, what) ||
        get_int(root, "max_position_embeddings", 32768, &c->max_seq_len, what))
        return -1;
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "rms_norm_eps");
    c->norm_eps = 1e-6f;
    if (eps && get_float(root, "rms_norm_eps", &c->norm_eps, what)) return -1;
    c->tie_embeddings = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "tie_word_embeddings"));
    //> M1 rope-theta
    //? transformers 4.x writes "rope_theta" at the top level; 5.x moves it into
    //? "rope_parameters": {"rope_type": "default", "rope_theta": ...}. Accept both (get_float), and
    //? refuse a rope_type other than "default" (scaled RoPE variants change the math). Neither
    //? present is an error: guessing theta would quietly break every position.
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "rope_parameters");
    const cJSON *scaling = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
    if (cJSON_IsObject(scaling) && expect_string(scaling, "rope_type", "default", what)) return -1;
    if (cJSON_IsObject(params)) {
        if (expect_string(params, "rope_type", "default", what)) return -1;
        if (get_float(params, "rope_theta", &c->rope_theta, what)) return -1;
    } else if (cJSON_GetObjectItemCaseSensitive(root, "rope_theta")) {
        if (get_float(root, "rope_theta", &c->rope_theta, what)) return -1;
    } else {
        return fprintf(stderr, "%s: missing \"rope_theta\" (top level) or \"rope_parameters\".\"rope_theta\"\n", what), -1;
    }
    //<
    return 0;
}

// Optional token id: -1 when absent or null; an array (several eos ids) takes the first.
static int optional_id(const cJSON *root, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (cJSON_IsArray(item)) item = cJSON_GetArrayItem(item, 0);
    if (!cJSON_IsNumber(item)) return -1;
    double d = item->valuedouble;   // range first: the cast of an out-of-range double is undefined
    return d >= 0 && d <= INT_MAX && d == (double)(int)d ? (int)d : -1;
}

// The products of sizes the engine forms in int (q and kv widths, the per-layer tensor count, a
// context's worth of a row): refuse a config whose products do not fit, so no later lab overflows.
static int check_products(const Config *c, const char *what) {
    const struct { const char *a, *b; long long x, y; } products[] = {
        {"num_attention_heads", "head_dim", c->n_heads, c->head_dim},
        {"num_key_value_heads", "head_dim", c->n_kv_heads, c->head_dim},
        {"num_hidden_layers", "11 tensors per layer", c->n_layers, 11},
        {"max_position_embeddings", "hidden_size", c->max_seq_len, c->dim},
        {"max_position_embeddings", "intermediate_size", c->max_seq_len, c->ffn_dim},
        {"max_position_embeddings", "num_attention_heads x head_dim", c->max_seq_len, (long long)c->n_heads * c->head_dim},
    };
    for (size_t i = 0; i < sizeof products / sizeof products[0]; i++)
        if (products[i].x * products[i].y > INT_MAX - 16)
            return fprintf(stderr, "%s: %s (%lld) x %s (%lld) is too large (the engine counts in int)\n", what,
                           products[i].a, products[i].x, products[i].b, products[i].y), -1;
    return 0;
}

static int check_consistency(const Config *c, const char *what) {
    //> M1 config-checks
    //? Values that parse can still be impossible. Refuse (with a message naming the fields):
    //? any of dim, ffn_dim, n_layers, n_heads, n_kv_heads, head_dim, vocab_size, max_seq_len <= 0;
    //? n_heads not a multiple of n_kv_heads (GQA shares each kv head by a whole number of query
    //? heads); an odd head_dim (RoPE rotates pairs).
    const struct { const char *name; int value; } positive[] = {
        {"hidden_size", c->dim}, {"intermediate_size", c->ffn_dim}, {"num_hidden_layers", c->n_layers},
        {"num_attention_heads", c->n_heads}, {"num_key_value_heads", c->n_kv_heads}, {"head_dim", c->head_dim},
        {"vocab_size", c->vocab_size}, {"max_position_embeddings", c->max_seq_len}};
    for (size_t i = 0; i < sizeof positive / sizeof positive[0]; i++)
        if (positive[i].value <= 0) return fprintf(stderr, "%s: \"%s\" must be > 0\n", what, positive[i].name), -1;
    if (c->n_heads % c->n_kv_heads != 0)
        return fprintf(stderr, "%s: num_attention_heads (%d) is not a multiple of num_key_value_heads (%d)\n",
                       what, c->n_heads, c->n_kv_heads), -1;
    if (c->head_dim % 2 != 0) return fprintf(stderr, "%s: head_dim (%d) must be even for RoPE\n", what, c->head_dim), -1;
    //<
    return 0;
}

int config_parse(Config *c, const char *json, const char *what) {
    memset(c, 0, sizeof *c);
    cJSON *root = cJSON_Parse(json);
    if (!cJSON_IsObject(root)) {
        fprintf(stderr, "%s: not a JSON object (malformed JSON)\n", what);
        cJSON_Delete(root);
        return -1;
    }
    int rc = parse_fields(c, root, what);
    c->bos_id = optional_id(root, "bos_token_id");
    c->eos_id = optional_id(root, "eos_token_id");
    cJSON_Delete(root);
    if (rc == 0) rc = check_consistency(c, what);
    if (rc == 0) rc = check_products(c, what);
    if (rc != 0) memset(c, 0, sizeof *c);
    return rc;
}

int config_load(Config *c, const char *path) {
    char *text = ps_read_text(path, NULL);
    if (!text) return -1;
    int rc = config_parse(c, text, path);
    free(text);
    return rc;
}
