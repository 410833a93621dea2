// GGUF → Config, Model and Tokenizer (the mapping is in gguf_model.h).
#include "gguf_model.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "quant_model.h"
#include "weights.h"
#include "xalloc.h"

bool gguf_path_is_gguf(const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return false;
    FILE *f = fopen(path, "rb");
    char magic[4] = {0};
    bool yes = f && fread(magic, 1, 4, f) == 4 && memcmp(magic, "GGUF", 4) == 0;
    if (f) fclose(f);
    return yes;
}

// ---- Config ----

static int require_arch(const Gguf *g) {
    char *arch = gguf_get_string(g, "general.architecture");
    if (!arch) return -1;
    int rc = strcmp(arch, "qwen3") == 0 ? 0 : -1;
    if (rc) fprintf(stderr, "%s: general.architecture is '%s'; protostar runs 'qwen3' only\n", g->what, arch);
    free(arch);
    return rc;
}

// The GGUF keys become a config.json that M1's config_parse checks, so a GGUF file passes the
// same consistency rules as a Hugging Face folder.
int gguf_config(const Gguf *g, Config *c) {
    if (require_arch(g) != 0) return -1;
    static const struct { const char *gguf, *json; } INTS[] = {
        {"qwen3.block_count", "num_hidden_layers"},
        {"qwen3.embedding_length", "hidden_size"},
        {"qwen3.feed_forward_length", "intermediate_size"},
        {"qwen3.attention.head_count", "num_attention_heads"},
        {"qwen3.attention.head_count_kv", "num_key_value_heads"},
        {"qwen3.attention.key_length", "head_dim"},
        {"qwen3.context_length", "max_position_embeddings"},
    };
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model_type", "qwen3");
    cJSON_AddStringToObject(root, "hidden_act", "silu");
    int rc = -1;
    for (size_t k = 0; k < sizeof INTS / sizeof INTS[0]; k++) {
        int64_t v;
        if (gguf_get_int(g, INTS[k].gguf, 1, 1000000000, &v) != 0) goto done;
        cJSON_AddNumberToObject(root, INTS[k].json, (double)v);
    }
    int64_t value_length;
    const GgufKV *vl = gguf_find_kv(g, "qwen3.attention.value_length");
    if (vl && (gguf_get_int(g, "qwen3.attention.value_length", 1, 1000000000, &value_length) != 0 ||
               value_length != (int64_t)cJSON_GetObjectItem(root, "head_dim")->valuedouble)) {
        fprintf(stderr, "%s: qwen3.attention.value_length differs from key_length (Qwen3 has one head_dim)\n", g->what);
        goto done;
    }
    double eps, theta;
    if (gguf_get_float(g, "qwen3.attention.layer_norm_rms_epsilon", &eps) != 0 ||
        gguf_get_float(g, "qwen3.rope.freq_base", &theta) != 0)
        goto done;
    cJSON_AddNumberToObject(root, "rms_norm_eps", eps);
    cJSON_AddNumberToObject(root, "rope_theta", theta);
    // The vocabulary is the embedding's row count (llama.cpp reads it from there too).
    const GgufTensor *emb = gguf_find_tensor(g, "token_embd.weight");
    if (!emb || emb->n_dims != 2) {
        fprintf(stderr, "%s: tensor 'token_embd.weight' is %s\n", g->what, emb ? "not a matrix" : "missing");
        goto done;
    }
    cJSON_AddNumberToObject(root, "vocab_size", (double)emb->ne[1]);
    cJSON_AddBoolToObject(root, "tie_word_embeddings", gguf_find_tensor(g, "output.weight") == NULL);
    static const char *const IDS[][2] = {{"tokenizer.ggml.bos_token_id", "bos_token_id"},
                                         {"tokenizer.ggml.eos_token_id", "eos_token_id"}};
    for (int k = 0; k < 2; k++) {
        int64_t id;
        if (!gguf_find_kv(g, IDS[k][0])) continue;
        if (gguf_get_int(g, IDS[k][0], 0, (int64_t)emb->ne[1] - 1, &id) != 0) goto done;
        cJSON_AddNumberToObject(root, IDS[k][1], (double)id);
    }
    char *json = cJSON_PrintUnformatted(root);
    rc = config_parse(c, json, g->what);
    free(json);
done:
    cJSON_Delete(root);
    return rc;
}

// ---- weights ----

typedef struct {
    const Gguf *g;
    bool *used;
    uint8_t *next;   // where the next tensor goes in the storage
} GgufLoader;

// Bytes tensor t takes in the storage: f32 for float types, its blocks for Q8_0/Q4_0; rounded up
// to 64 so every tensor starts on a cache line.
static size_t storage_bytes(const GgufTensor *t) {
    size_t n = t->type == GGML_Q8_0 || t->type == GGML_Q4_0 ? t->n_bytes : t->n_elems * sizeof(float);
    return (n + 63) / 64 * 64;
}

static DType float_dtype(uint32_t type) {
    return type == GGML_F32 ? DT_F32 : type == GGML_F16 ? DT_F16 : DT_BF16;
}

// Finds `name` with shape [rows × cols] (cols = 0: a vector of rows) in PyTorch's order, i.e.
// ne = {cols, rows}. NULL after a message.
static const GgufTensor *find_shaped(GgufLoader *L, const char *name, int rows, int cols) {
    const GgufTensor *t = gguf_find_tensor(L->g, name);
    if (!t) {
        fprintf(stderr, "%s: missing tensor '%s'\n", L->g->what, name);
        return NULL;
    }
    bool ok = cols ? t->n_dims == 2 && t->ne[0] == (uint64_t)cols && t->ne[1] == (uint64_t)rows
                   : t->n_dims == 1 && t->ne[0] == (uint64_t)rows;
    if (!ok) {
        fprintf(stderr, "%s: tensor '%s' has ne = {%llu%s%llu} but the metadata implies {%d%s%d}\n", L->g->what,
                name, (unsigned long long)t->ne[0], t->n_dims > 1 ? ", " : "",
                t->n_dims > 1 ? (unsigned long long)t->ne[1] : 0ULL, cols ? cols : rows, cols ? ", " : "",
                cols ? rows : 0);
        if (t->n_dims == 1) fprintf(stderr, "%s: (GGUF lists dimensions fastest first: ne[0] = columns)\n", L->g->what);
        return NULL;
    }
    L->used[t - L->g->tensors] = true;
    return t;
}

static float *load_vector(void *reader, const char *name, int n) {
    GgufLoader *L = reader;
    const GgufTensor *t = find_shaped(L, name, n, 0);
    if (!t) return NULL;
    if (t->type == GGML_Q8_0 || t->type == GGML_Q4_0) {
        fprintf(stderr, "%s: tensor '%s' is %s, but a norm must be F32, F16 or BF16\n", L->g->what, name,
                ggml_type_name(t->type));
        return NULL;
    }
    float *out = (float *)L->next;
    convert_to_f32(out, t->data, float_dtype(t->type), t->n_elems);
    L->next += storage_bytes(t);
    return out;
}

static int load_matrix(void *reader, Mat *m, const char *name, int rows, int cols) {
    GgufLoader *L = reader;
    const GgufTensor *t = find_shaped(L, name, rows, cols);
    if (!t) return -1;
    *m = (Mat){.rows = rows, .cols = cols, .data = L->next};
    if (t->type == GGML_Q8_0 || t->type == GGML_Q4_0) {   // M5's blocks exactly: copied as they are
        memcpy(L->next, t->data, t->n_bytes);
        m->dtype = t->type == GGML_Q8_0 ? DT_Q8_0 : DT_Q4_0;
    } else {
        convert_to_f32((float *)L->next, t->data, float_dtype(t->type), t->n_elems);
        m->dtype = DT_F32;
    }
    L->next += storage_bytes(t);
    return 0;
}

// GGUF's name (after "blk.N.") of each of M1's layer tensors, keyed by the Hugging Face name.
static const struct {
    const char *hf, *gguf;
} GGUF_LAYER_NAMES[LAYER_TENSOR_COUNT] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.q_norm.weight", "attn_q_norm.weight"},
    {"self_attn.k_norm.weight", "attn_k_norm.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
};

const char *gguf_layer_name(const LayerTensor *t) {
    for (int k = 0; k < LAYER_TENSOR_COUNT; k++)
        if (strcmp(GGUF_LAYER_NAMES[k].hf, t->hf_name) == 0) return GGUF_LAYER_NAMES[k].gguf;
    fprintf(stderr, "gguf_layer_name: no GGUF name for layer tensor '%s'\n", t->hf_name);   // the map is behind M1's table
    abort();
}

static bool has_tensor(void *reader, const char *name) {
    const GgufLoader *L = reader;
    return gguf_find_tensor(L->g, name) != NULL;
}

static const char *unused_tensor(void *reader) {
    const GgufLoader *L = reader;
    for (uint64_t k = 0; k < L->g->n_tensors; k++)
        if (!L->used[k]) return L->g->tensors[k].name;
    return NULL;
}

int gguf_model_load(Model *m, const char *path) {
    memset(m, 0, sizeof *m);
    if (quant_register() != 0) return -1;
    Gguf g;
    if (gguf_open(&g, path) != 0) return -1;
    int rc = -1;
    if (gguf_config(&g, &m->cfg) != 0) goto done;
    unsigned long long needed = (unsigned long long)LAYER_TENSOR_COUNT * (unsigned long long)m->cfg.n_layers + 2;
    if (g.n_tensors < needed) {   // before any per-layer work
        fprintf(stderr, "%s: qwen3.block_count = %d needs at least %llu tensors, but the file has %llu\n", path,
                m->cfg.n_layers, needed, (unsigned long long)g.n_tensors);
        goto done;
    }
    size_t total = 0;   // sized from the file's tensors, as model_load does
    for (uint64_t k = 0; k < g.n_tensors; k++) total += storage_bytes(&g.tensors[k]);
    uint8_t *weights = model_alloc_weights(m, total, path);
    if (!weights) goto done;
    GgufLoader L = {&g, xcalloc(g.n_tensors + 1, sizeof(bool)), weights};
    // No tie flag in GGUF: gguf_config set tie_word_embeddings from the absence of output.weight.
    const TensorSource source = {&L, g.what, "token_embd.weight", "output_norm.weight", "output.weight", "blk.",
                                 gguf_layer_name, has_tensor, load_vector, load_matrix, unused_tensor};
    rc = model_read_tensors(m, &source);
    free(L.used);
done:
    gguf_close(&g);
    if (rc != 0) model_free(m);
    return rc;
}

// ---- tokenizer ----

// tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
enum { GGUF_TOKEN_NORMAL = 1, GGUF_TOKEN_UNKNOWN, GGUF_TOKEN_CONTROL, GGUF_TOKEN_USER_DEFINED, GGUF_TOKEN_UNUSED,
       GGUF_TOKEN_BYTE };

static int require_string(const Gguf *g, const char *key, const char *want, const char *why) {
    char *s = gguf_get_string(g, key);
    if (!s) return -1;
    int rc = strcmp(s, want) == 0 ? 0 : -1;
    if (rc) fprintf(stderr, "%s: %s is '%s'; protostar's tokenizer needs '%s' (%s)\n", g->what, key, s, want, why);
    free(s);
    return rc;
}

// A NUL-terminated copy of a GGUF string; NULL when it holds a NUL byte (no token text does).
static char *token_copy(const char *p, uint64_t len) {
    if (memchr(p, 0, len)) return NULL;
    char *s = xmalloc(len + 1);
    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

Tokenizer *gguf_tokenizer_from(const Gguf *g) {
    if (require_string(g, "tokenizer.ggml.model", "gpt2", "byte-level BPE") != 0 ||
        require_string(g, "tokenizer.ggml.pre", "qwen2", "Qwen2/Qwen3's pre-tokenizer regex") != 0)
        return NULL;
    const GgufKV *tokens = gguf_get_array(g, "tokenizer.ggml.tokens", GGUF_STRING);
    const GgufKV *merges = gguf_get_array(g, "tokenizer.ggml.merges", GGUF_STRING);
    const GgufKV *types = gguf_find_kv(g, "tokenizer.ggml.token_type");
    if (!tokens || !merges) return NULL;
    if (types && (types->type != GGUF_ARRAY || (types->elem_type != GGUF_I32 && types->elem_type != GGUF_U32) ||
                  types->n_elems != tokens->n_elems)) {
        fprintf(stderr, "%s: tokenizer.ggml.token_type must be an array of i32 with one entry per token\n", g->what);
        return NULL;
    }
    if (tokens->n_elems == 0 || tokens->n_elems > 100000000 || merges->n_elems > 100000000) {
        fprintf(stderr, "%s: tokenizer.ggml.tokens has %llu entries and merges %llu (1 to 10^8 allowed)\n", g->what,
                (unsigned long long)tokens->n_elems, (unsigned long long)merges->n_elems);
        return NULL;
    }
    int32_t n_tok = (int32_t)tokens->n_elems, n_merge = (int32_t)merges->n_elems;
    const char **ptrs = xmalloc(((size_t)n_tok + (size_t)n_merge + 1) * sizeof *ptrs);
    uint64_t *lens = xmalloc(((size_t)n_tok + (size_t)n_merge + 1) * sizeof *lens);
    char **text = xcalloc((size_t)n_tok + (size_t)n_merge + 1, sizeof *text);
    TokenKind *kinds = xmalloc((size_t)n_tok * sizeof *kinds);
    gguf_array_strings(tokens, ptrs, lens);
    gguf_array_strings(merges, ptrs + n_tok, lens + n_tok);
    Tokenizer *t = NULL;
    for (int32_t i = 0; i < n_tok + n_merge; i++)
        if (!(text[i] = token_copy(ptrs[i], lens[i]))) {
            fprintf(stderr, "%s: tokenizer.ggml.%s[%d] holds a NUL byte\n", g->what, i < n_tok ? "tokens" : "merges",
                    (int)(i < n_tok ? i : i - n_tok));
            goto done;
        }
    for (int32_t i = 0; i < n_tok; i++) {
        int64_t type = types ? gguf_array_int(types, (uint64_t)i) : GGUF_TOKEN_NORMAL;
        switch (type) {
        case GGUF_TOKEN_NORMAL: case GGUF_TOKEN_UNKNOWN: kinds[i] = TOKEN_NORMAL; break;
        case GGUF_TOKEN_CONTROL: kinds[i] = TOKEN_ADDED_SPECIAL; break;
        case GGUF_TOKEN_USER_DEFINED: kinds[i] = TOKEN_ADDED; break;
        case GGUF_TOKEN_UNUSED: kinds[i] = TOKEN_UNUSED; break;
        default:
            fprintf(stderr, "%s: tokenizer.ggml.token_type[%d] = %lld (byte tokens and unknown types are not "
                            "part of a byte-level BPE vocabulary)\n", g->what, (int)i, (long long)type);
            goto done;
        }
        if (kinds[i] != TOKEN_UNUSED && kinds[i] != TOKEN_NORMAL && text[i][0] == '\0') {
            fprintf(stderr, "%s: tokenizer.ggml.tokens[%d] is an empty added token\n", g->what, (int)i);
            goto done;
        }
    }
    t = tokenizer_from_lists((const char *const *)text, kinds, n_tok, (const char *const *)text + n_tok, n_merge,
                             g->what);
done:
    for (int32_t i = 0; i < n_tok + n_merge; i++) free(text[i]);
    free(text);
    free(ptrs);
    free(lens);
    free(kinds);
    return t;
}

Tokenizer *gguf_tokenizer_load(const char *path) {
    Gguf g;
    if (gguf_open(&g, path) != 0) return NULL;
    Tokenizer *t = gguf_tokenizer_from(&g);
    gguf_close(&g);
    return t;
}
