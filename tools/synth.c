// synth: writes a random Qwen3 model directory (config.json + model.safetensors) from a named
// preset and a seed, for tests and benchmarks.
//
//     synth PRESET OUT_DIR [--seed N]     e.g. synth tiny-gqa2-bf16 build/models/tiny-gqa2-bf16
//     synth --list
//
// The bytes are identical on every platform and compiler: our own PRNG (splitmix64), integer-only
// sampling, and float math limited to single IEEE operations (int→float, one multiply, a correctly
// rounded sqrt), which are exactly rounded everywhere; bf16 rounding is done on the bits. No libm
// transcendental touches a weight. tools/tests/test_synth.c pins the resulting checksums.
//
// Weight scales are chosen so the models behave like trained ones where tests care: logits have a
// spread of a few units (greedy picks are stable) and attention is peaked (QK-norm weights ~2).
#include <errno.h>
#include <math.h>   // sqrt only: IEEE 754 requires it correctly rounded, so it is the same everywhere
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic_file.h"
#include "weights.h"   // progress_bar

typedef struct {
    const char *name;
    int dim, ffn_dim, n_layers, n_heads, n_kv_heads, head_dim, vocab_size, max_pos;
    bool tied;          // tie_word_embeddings
    bool store_head;    // tied, yet lm_head.weight stored as a copy (as the real Qwen3-0.6B file does)
    bool bf16;          // else f32
    const char *theta;  // written verbatim, so the config text never depends on printf's float formatting
    int config_style;   // 4: rope_theta at top level (transformers 4.x); 5: rope_parameters (5.x)
    const char *about;
} Preset;

static const Preset PRESETS[] = {
    {"tiny-mha-f32", 64, 160, 2, 4, 4, 16, 256, 512, false, false, false, "10000.0", 4,
     "multi-head (GQA 1), head_dim = dim/heads, untied, f32"},
    {"tiny-gqa2-bf16", 64, 192, 3, 4, 2, 32, 384, 512, true, false, true, "1000000.0", 5,
     "GQA 2, head_dim 32 != 64/4, tied (no lm_head stored), bf16, 5.x config"},
    {"small-gqa4-bf16", 96, 256, 2, 8, 2, 24, 320, 512, false, false, true, "500000.0", 4,
     "GQA 4, head_dim 24 != 96/8, untied, bf16"},
    {"small-tiedcopy-f32", 128, 384, 2, 4, 2, 48, 512, 1024, true, true, false, "1000000.0", 5,
     "GQA 2, head_dim 48 != 128/4, tied with a stored lm_head copy, f32, 5.x config"},
    {"qwen3-0.6b-shape", 1024, 3072, 28, 16, 8, 128, 151936, 40960, true, true, true, "1000000", 4,
     "the exact Qwen3-0.6B shapes and config (random weights, ~1.5 GB), for benchmarks"},
};
#define N_PRESETS (sizeof PRESETS / sizeof PRESETS[0])

// ---- deterministic randomness ----

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// Each tensor gets its own stream, seeded from its name, so the order of writing does not matter.
static uint64_t stream_for(const char *name, uint64_t seed) {
    uint64_t h = 0xcbf29ce484222325ull;   // FNV-1a
    for (const char *p = name; *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    return h ^ (seed * 0x9e3779b97f4a7c15ull);
}

// Approximately normal integers: the sum of four uniform 16-bit numbers, centred (Irwin–Hall).
// Mean 0, standard deviation 65536 * sqrt(4/12) ≈ 37837.
#define IRWIN_HALL_STD 37837.23
static int32_t normalish(uint64_t *state) {
    uint64_t r = splitmix64(state);
    int32_t sum = 0;
    for (int i = 0; i < 4; i++) sum += (int32_t)((r >> (16 * i)) & 0xffff);
    return sum - 2 * 65535;
}

// f32 → bf16, round to nearest even, on the bits (our values are finite).
static uint16_t f32_to_bf16(float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    bits += 0x7fff + ((bits >> 16) & 1);
    return (uint16_t)(bits >> 16);
}

// ---- the tensors ----

typedef enum { FILL_NORMAL, FILL_NORM_WEIGHT } Fill;

typedef struct {
    char name[96];
    int rows, cols;          // cols = 0 for a vector
    Fill fill;
    float scale;             // FILL_NORMAL: standard deviation; FILL_NORM_WEIGHT: centre
    const char *stream;      // name whose random stream to use (lm_head copy = the embedding's)
    size_t offset, nbytes;
} Tensor;

static int n_tensors;
static Tensor tensors[16 * 64 + 8];

static void add(const char *name, int rows, int cols, Fill fill, float scale) {
    Tensor *t = &tensors[n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rows = rows, t->cols = cols, t->fill = fill, t->scale = scale;
    t->stream = t->name;
}

// Projections: std 1/sqrt(fan_in) keeps activations at unit scale through each matmul.
static float linear_std(int fan_in) { return (float)(1.0 / sqrt((double)fan_in)); }

static void plan(const Preset *p) {
    int q = p->n_heads * p->head_dim, kv = p->n_kv_heads * p->head_dim;
    // Embedding std 4/sqrt(dim): logits = normalised h · embedding row then spread by about ±4.
    float emb_std = (float)(4.0 / sqrt((double)p->dim));
    add("model.embed_tokens.weight", p->vocab_size, p->dim, FILL_NORMAL, emb_std);
    for (int l = 0; l < p->n_layers; l++) {
        char n[96];
#define L(s) (snprintf(n, sizeof n, "model.layers.%d.%s", l, s), n)
        add(L("input_layernorm.weight"), p->dim, 0, FILL_NORM_WEIGHT, 1.0f);
        add(L("self_attn.q_proj.weight"), q, p->dim, FILL_NORMAL, linear_std(p->dim));
        add(L("self_attn.k_proj.weight"), kv, p->dim, FILL_NORMAL, linear_std(p->dim));
        add(L("self_attn.v_proj.weight"), kv, p->dim, FILL_NORMAL, linear_std(p->dim));
        add(L("self_attn.q_norm.weight"), p->head_dim, 0, FILL_NORM_WEIGHT, 2.0f);   // peaked attention
        add(L("self_attn.k_norm.weight"), p->head_dim, 0, FILL_NORM_WEIGHT, 1.0f);
        add(L("self_attn.o_proj.weight"), p->dim, q, FILL_NORMAL, linear_std(q));
        add(L("post_attention_layernorm.weight"), p->dim, 0, FILL_NORM_WEIGHT, 1.0f);
        add(L("mlp.gate_proj.weight"), p->ffn_dim, p->dim, FILL_NORMAL, linear_std(p->dim));
        add(L("mlp.up_proj.weight"), p->ffn_dim, p->dim, FILL_NORMAL, linear_std(p->dim));
        add(L("mlp.down_proj.weight"), p->dim, p->ffn_dim, FILL_NORMAL, linear_std(p->ffn_dim));
#undef L
    }
    add("model.norm.weight", p->dim, 0, FILL_NORM_WEIGHT, 1.0f);
    if (!p->tied) add("lm_head.weight", p->vocab_size, p->dim, FILL_NORMAL, emb_std);
    if (p->tied && p->store_head) {
        add("lm_head.weight", p->vocab_size, p->dim, FILL_NORMAL, emb_std);
        tensors[n_tensors - 1].stream = "model.embed_tokens.weight";   // identical bytes
    }
}

static float sample(const Tensor *t, uint64_t *state) {
    if (t->fill == FILL_NORMAL)
        return (float)normalish(state) * (t->scale / (float)IRWIN_HALL_STD);
    // Norm weights: centre ± 1/4 in steps of 2^-10 (exact in f32; bf16 then rounds to 8 significant bits).
    int32_t step = (int32_t)(splitmix64(state) >> 55) - 256;   // -256 .. 255
    return t->scale + (float)step / 1024.0f;
}

// ---- the files ----

static int write_config(const Preset *p, const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    AtomicFile out;
    FILE *f = atomic_file_open(&out, path, "w");
    if (!f) return -1;
    const char *dt = p->bf16 ? "bfloat16" : "float32";
    fprintf(f, "{\n  \"architectures\": [\"Qwen3ForCausalLM\"],\n  \"attention_bias\": false,\n"
               "  \"attention_dropout\": 0.0,\n  \"bos_token_id\": 0,\n  \"eos_token_id\": 1,\n"
               "  \"head_dim\": %d,\n  \"hidden_act\": \"silu\",\n  \"hidden_size\": %d,\n"
               "  \"initializer_range\": 0.02,\n  \"intermediate_size\": %d,\n"
               "  \"max_position_embeddings\": %d,\n  \"max_window_layers\": %d,\n  \"model_type\": \"qwen3\",\n"
               "  \"num_attention_heads\": %d,\n  \"num_hidden_layers\": %d,\n  \"num_key_value_heads\": %d,\n"
               "  \"rms_norm_eps\": 1e-06,\n",
            p->head_dim, p->dim, p->ffn_dim, p->max_pos, p->n_layers, p->n_heads, p->n_layers, p->n_kv_heads);
    if (p->config_style == 4)
        fprintf(f, "  \"rope_scaling\": null,\n  \"rope_theta\": %s,\n  \"torch_dtype\": \"%s\",\n", p->theta, dt);
    else
        fprintf(f, "  \"rope_parameters\": {\"rope_theta\": %s, \"rope_type\": \"default\"},\n  \"dtype\": \"%s\",\n",
                p->theta, dt);
    fprintf(f, "  \"sliding_window\": null,\n  \"tie_word_embeddings\": %s,\n  \"use_cache\": true,\n"
               "  \"use_sliding_window\": false,\n  \"vocab_size\": %d\n}\n",
            p->tied ? "true" : "false", p->vocab_size);
    return atomic_file_commit(&out);
}

static int write_weights(const Preset *p, const char *dir, uint64_t seed) {
    size_t esize = p->bf16 ? 2 : 4, offset = 0;
    char *header = malloc(256 * (size_t)n_tensors + 64);
    size_t len = (size_t)sprintf(header, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < n_tensors; i++) {
        Tensor *t = &tensors[i];
        t->nbytes = (size_t)t->rows * (size_t)(t->cols ? t->cols : 1) * esize;
        t->offset = offset;
        offset += t->nbytes;
        len += (size_t)sprintf(header + len, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%d", t->name,
                               p->bf16 ? "BF16" : "F32", t->rows);
        if (t->cols) len += (size_t)sprintf(header + len, ",%d", t->cols);
        len += (size_t)sprintf(header + len, "],\"data_offsets\":[%zu,%zu]}", t->offset, t->offset + t->nbytes);
    }
    header[len++] = '}';
    while (len % 8) header[len++] = ' ';   // pad so the data section starts 8-byte aligned
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);   // written last: its name says the model is whole
    AtomicFile out;
    FILE *f = atomic_file_open(&out, path, "wb");
    if (!f) return free(header), -1;
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++) prefix[i] = (unsigned char)((uint64_t)len >> (8 * i));
    fwrite(prefix, 1, 8, f);
    fwrite(header, 1, len, f);
    free(header);
    unsigned char buf[1 << 16];
    size_t fill = 0, written = 0;
    for (int i = 0; i < n_tensors; i++) {
        const Tensor *t = &tensors[i];
        uint64_t state = stream_for(t->stream, seed);
        for (size_t k = 0; k < t->nbytes / esize; k++) {
            float v = sample(t, &state);
            uint32_t bits;
            memcpy(&bits, &v, sizeof bits);
            if (p->bf16) bits = f32_to_bf16(v);
            for (size_t b = 0; b < esize; b++) buf[fill++] = (unsigned char)(bits >> (8 * b));   // little-endian
            if (fill == sizeof buf) {
                fwrite(buf, 1, fill, f);
                written += fill, fill = 0;
                progress_bar("synth", written, offset);
            }
        }
    }
    fwrite(buf, 1, fill, f);
    progress_bar("synth", offset, offset);
    return atomic_file_commit(&out);
}

// mkdir -p
static int make_dirs(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int usage(void) {
    fprintf(stderr, "usage: synth PRESET OUT_DIR [--seed N]\n       synth --list\npresets:\n");
    for (size_t i = 0; i < N_PRESETS; i++) fprintf(stderr, "  %-20s %s\n", PRESETS[i].name, PRESETS[i].about);
    return 2;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < N_PRESETS; i++) printf("%s\n", PRESETS[i].name);
        return 0;
    }
    uint64_t seed = 1;
    if (argc == 5 && strcmp(argv[3], "--seed") == 0) {
        char *end;
        errno = 0;
        seed = strtoull(argv[4], &end, 10);
        if (errno || *end || !*argv[4]) return fprintf(stderr, "synth: bad seed '%s'\n", argv[4]), 2;
    } else if (argc != 3) {
        return usage();
    }
    const Preset *p = NULL;
    for (size_t i = 0; i < N_PRESETS; i++)
        if (strcmp(PRESETS[i].name, argv[1]) == 0) p = &PRESETS[i];
    if (!p) return fprintf(stderr, "synth: unknown preset '%s'\n", argv[1]), usage();
    if (make_dirs(argv[2]) != 0) return fprintf(stderr, "synth: cannot create %s: %s\n", argv[2], strerror(errno)), 1;
    plan(p);
    if (write_config(p, argv[2]) != 0 || write_weights(p, argv[2], seed) != 0) return 1;
    return 0;
}
