// Model + Tokenizer → a GGUF file (version 3) that llama.cpp loads: the keys and tensor names its
// converter writes for a Qwen3 model (gguf_model.h), alignment 32, the tokenizer embedded.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "gguf_model.h"
#include "quant_model.h"
#include "xalloc.h"
// stb_ds's hm* macros use GNU `typeof`, which -std=c11 only knows as `__typeof__`.
#define typeof __typeof__
#include "stb_ds.h"

// llama.cpp's llama_ftype numbers for general.file_type.
enum { FILE_TYPE_ALL_F32 = 0, FILE_TYPE_MOSTLY_Q4_0 = 2, FILE_TYPE_MOSTLY_Q8_0 = 7 };

typedef struct {
    FILE *f;
    uint64_t pos;   // bytes written so far (the alignment padding needs it)
    bool failed;
    int err;        // errno of the write that failed
} Out;

static void put(Out *o, const void *p, size_t n) {
    if (!o->failed && n && fwrite(p, 1, n, o->f) != n) o->failed = true, o->err = errno;
    o->pos += n;
}

static void put_le(Out *o, uint64_t v, int n) {
    uint8_t b[8];
    for (int k = 0; k < n; k++) b[k] = (uint8_t)(v >> (8 * k));
    put(o, b, (size_t)n);
}

static void put_str(Out *o, const char *s) {
    size_t n = strlen(s);
    put_le(o, n, 8);
    put(o, s, n);
}

static void kv_header(Out *o, const char *key, uint32_t type) {
    put_str(o, key);
    put_le(o, type, 4);
}

static void kv_u32(Out *o, const char *key, uint32_t v) { kv_header(o, key, GGUF_U32), put_le(o, v, 4); }
static void kv_str(Out *o, const char *key, const char *v) { kv_header(o, key, GGUF_STRING), put_str(o, v); }
static void kv_bool(Out *o, const char *key, bool v) { kv_header(o, key, GGUF_BOOL), put_le(o, v, 1); }
static void kv_f32(Out *o, const char *key, float v) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    kv_header(o, key, GGUF_F32);
    put_le(o, bits, 4);
}

static void pad_to(Out *o, uint64_t alignment) {
    static const uint8_t zeros[GGUF_DEFAULT_ALIGNMENT];
    put(o, zeros, (size_t)((alignment - o->pos % alignment) % alignment));
}

// One tensor to write: GGUF name, the data, ne = {cols, rows} (rows = 0: a vector).
typedef struct {
    char name[64];
    const void *data;
    DType dtype;
    int rows, cols;
    uint64_t bytes, offset;
} OutTensor;

static void add_mat(OutTensor *ts, int *n, const char *name, const Mat *m) {
    OutTensor *t = &ts[(*n)++];
    *t = (OutTensor){.data = m->data, .dtype = m->dtype, .rows = m->rows, .cols = m->cols};
    snprintf(t->name, sizeof t->name, "%s", name);
    t->bytes = m->dtype == DT_F32 ? (uint64_t)m->rows * (uint64_t)m->cols * 4
                                  : (uint64_t)quant_row_bytes(m->dtype, m->cols) * (uint64_t)m->rows;
}

static void add_vec(OutTensor *ts, int *n, const char *name, const float *v, int len) {
    OutTensor *t = &ts[(*n)++];
    *t = (OutTensor){.data = v, .dtype = DT_F32, .rows = 0, .cols = len, .bytes = (uint64_t)len * 4};
    snprintf(t->name, sizeof t->name, "%s", name);
}

static int collect(const Model *m, OutTensor *ts) {
    int n = 0;
    char name[64];
    add_mat(ts, &n, "token_embd.weight", &m->embed);
    for (int i = 0; i < m->cfg.n_layers; i++)
        for (int k = 0; k < LAYER_TENSOR_COUNT; k++) {
            const LayerTensor *t = &LAYER_TENSORS[k];
            snprintf(name, sizeof name, "blk.%d.%s", i, gguf_layer_name(t));
            if (t->cols == LD_NONE)
                add_vec(ts, &n, name, *layer_vec(&m->layers[i], t), layer_dim(&m->cfg, t->rows));
            else
                add_mat(ts, &n, name, layer_mat(&m->layers[i], t));
        }
    add_vec(ts, &n, "output_norm.weight", m->final_norm, m->cfg.dim);
    if (!m->lm_head_is_embed) add_mat(ts, &n, "output.weight", &m->lm_head);
    return n;
}

static uint32_t ggml_type_of(DType t) { return t == DT_Q8_0 ? GGML_Q8_0 : t == DT_Q4_0 ? GGML_Q4_0 : GGML_F32; }

// The tokenizer arrays: one token per embedding row (rows past the tokenizer's ids become
// "[PADn]", UNUSED, as llama.cpp's converter writes them), and the merges in rank order.
static void write_tokenizer(Out *o, const Tokenizer *tok, int vocab_size) {
    kv_str(o, "tokenizer.ggml.model", "gpt2");
    kv_str(o, "tokenizer.ggml.pre", "qwen2");
    kv_header(o, "tokenizer.ggml.tokens", GGUF_ARRAY);
    put_le(o, GGUF_STRING, 4);
    put_le(o, (uint64_t)vocab_size, 8);
    char pad[32];
    for (int32_t id = 0; id < vocab_size; id++) {
        const char *text = tokenizer_token_text(tok, id);
        if (!text) snprintf(pad, sizeof pad, "[PAD%d]", (int)id);
        put_str(o, text ? text : pad);
    }
    int32_t *type = xcalloc((size_t)vocab_size, sizeof *type);
    for (int32_t id = 0; id < vocab_size; id++) type[id] = tokenizer_token_text(tok, id) ? 1 : 5;   // NORMAL, UNUSED
    for (size_t k = 0; k < arrlenu(tok->added); k++)
        if (tok->added[k].id < vocab_size) type[tok->added[k].id] = tok->added[k].special ? 3 : 4;   // CONTROL, USER_DEFINED
    kv_header(o, "tokenizer.ggml.token_type", GGUF_ARRAY);
    put_le(o, GGUF_I32, 4);
    put_le(o, (uint64_t)vocab_size, 8);
    for (int32_t id = 0; id < vocab_size; id++) put_le(o, (uint32_t)type[id], 4);
    free(type);
    // Merges: the hash map back in rank order, "left right".
    const char **left = xcalloc((size_t)tok->n_merges + 1, sizeof *left), **right = xcalloc((size_t)tok->n_merges + 1, sizeof *right);
    for (size_t k = 0; k < (size_t)hmlen(tok->merges); k++) {
        int32_t rank = tok->merges[k].value.rank;
        if (rank >= 0 && rank < tok->n_merges) {
            left[rank] = tokenizer_token_text(tok, (int32_t)(tok->merges[k].key >> 32));
            right[rank] = tokenizer_token_text(tok, (int32_t)(uint32_t)tok->merges[k].key);
        }
    }
    kv_header(o, "tokenizer.ggml.merges", GGUF_ARRAY);
    put_le(o, GGUF_STRING, 4);
    put_le(o, (uint64_t)tok->n_merges, 8);
    for (int32_t r = 0; r < tok->n_merges; r++) {
        size_t a = left[r] ? strlen(left[r]) : 0, b = right[r] ? strlen(right[r]) : 0;
        put_le(o, a + 1 + b, 8);
        put(o, left[r], a);
        put(o, " ", 1);
        put(o, right[r], b);
    }
    free(left);
    free(right);
}

// The metadata keys write_metadata writes (the header states the count first).
static uint64_t count_metadata(const Model *m, const Tokenizer *tok, const GgufWriteInfo *info) {
    uint64_t n = 15;   // 5 general.* and 10 qwen3.*
    if (!tok) return n;
    int32_t eos = info->eos_id >= 0 ? info->eos_id : m->cfg.eos_id;
    // model, pre, tokens, types, merges, add_bos; the ids and the template it has
    return n + 6 + (m->cfg.bos_id >= 0) + (eos >= 0) + (info->pad_id >= 0) + (info->chat_template != NULL);
}

static void write_metadata(Out *o, const Model *m, const Tokenizer *tok, const GgufWriteInfo *info, uint32_t file_type) {
    const Config *c = &m->cfg;
    kv_str(o, "general.architecture", "qwen3");
    kv_str(o, "general.type", "model");
    kv_str(o, "general.name", info->name ? info->name : "protostar");
    kv_u32(o, "general.file_type", file_type);
    kv_u32(o, "general.quantization_version", 2);
    kv_u32(o, "qwen3.block_count", (uint32_t)c->n_layers);
    kv_u32(o, "qwen3.context_length", (uint32_t)c->max_seq_len);
    kv_u32(o, "qwen3.embedding_length", (uint32_t)c->dim);
    kv_u32(o, "qwen3.feed_forward_length", (uint32_t)c->ffn_dim);
    kv_u32(o, "qwen3.attention.head_count", (uint32_t)c->n_heads);
    kv_u32(o, "qwen3.attention.head_count_kv", (uint32_t)c->n_kv_heads);
    kv_u32(o, "qwen3.attention.key_length", (uint32_t)c->head_dim);
    kv_u32(o, "qwen3.attention.value_length", (uint32_t)c->head_dim);
    kv_f32(o, "qwen3.rope.freq_base", c->rope_theta);
    kv_f32(o, "qwen3.attention.layer_norm_rms_epsilon", c->norm_eps);
    if (tok) {
        write_tokenizer(o, tok, c->vocab_size);
        int32_t eos = info->eos_id >= 0 ? info->eos_id : c->eos_id;
        if (c->bos_id >= 0) kv_u32(o, "tokenizer.ggml.bos_token_id", (uint32_t)c->bos_id);
        if (eos >= 0) kv_u32(o, "tokenizer.ggml.eos_token_id", (uint32_t)eos);
        if (info->pad_id >= 0) kv_u32(o, "tokenizer.ggml.padding_token_id", (uint32_t)info->pad_id);
        kv_bool(o, "tokenizer.ggml.add_bos_token", false);   // Qwen3 adds no BOS
        if (info->chat_template) kv_str(o, "tokenizer.chat_template", info->chat_template);
    }
}

// The whole file into f (path names it in messages), flushed to the disk: 0, or -1 with a message.
static int write_file(FILE *f, const char *path, const Model *m, const Tokenizer *tok, const GgufWriteInfo *info) {
    OutTensor *ts = xcalloc((size_t)m->cfg.n_layers * LAYER_TENSOR_COUNT + 4, sizeof *ts);
    int n = collect(m, ts);
    DType quant = DT_F32;
    for (int k = 0; k < n; k++) {
        if (ts[k].dtype != DT_F32 && ts[k].dtype != DT_Q8_0 && ts[k].dtype != DT_Q4_0) {
            fprintf(stderr, "%s: tensor '%s' is %s, which GGUF has no type for (F32, Q8_0 and Q4_0 can be written)\n",
                    path, ts[k].name, mat_type_name(ts[k].dtype));
            free(ts);
            return -1;
        }
        if (ts[k].dtype != DT_F32 && quant == DT_F32) quant = ts[k].dtype;
    }
    Out o = {.f = f};
    put(&o, "GGUF", 4);
    put_le(&o, 3, 4);
    put_le(&o, (uint64_t)n, 8);
    put_le(&o, count_metadata(m, tok, info), 8);
    write_metadata(&o, m, tok, info, quant == DT_Q8_0 ? FILE_TYPE_MOSTLY_Q8_0 : quant == DT_Q4_0 ? FILE_TYPE_MOSTLY_Q4_0
                                                                                                : FILE_TYPE_ALL_F32);
    uint64_t offset = 0;
    for (int k = 0; k < n; k++) {
        ts[k].offset = offset;
        offset += (ts[k].bytes + GGUF_DEFAULT_ALIGNMENT - 1) / GGUF_DEFAULT_ALIGNMENT * GGUF_DEFAULT_ALIGNMENT;
        put_str(&o, ts[k].name);
        put_le(&o, ts[k].rows ? 2 : 1, 4);
        put_le(&o, (uint64_t)ts[k].cols, 8);
        if (ts[k].rows) put_le(&o, (uint64_t)ts[k].rows, 8);
        put_le(&o, ggml_type_of(ts[k].dtype), 4);
        put_le(&o, ts[k].offset, 8);
    }
    uint64_t data_start = (o.pos + GGUF_DEFAULT_ALIGNMENT - 1) / GGUF_DEFAULT_ALIGNMENT * GGUF_DEFAULT_ALIGNMENT;
    for (int k = 0; k < n; k++) {
        pad_to(&o, GGUF_DEFAULT_ALIGNMENT);
        if (o.pos != data_start + ts[k].offset) {   // the layout above and the bytes written disagree
            fprintf(stderr, "gguf_write: tensor %s lands at %llu, not %llu\n", ts[k].name, (unsigned long long)o.pos,
                    (unsigned long long)(data_start + ts[k].offset));
            abort();
        }
        put(&o, ts[k].data, ts[k].bytes);   // f32 and the blocks are little-endian on every target
    }
    free(ts);
    // On the disk before it takes the name: a crash after the rename finds the new bytes, not a
    // file of the new name still empty. (A device or pipe written in place has nothing to sync.)
    if (!o.failed && (fflush(f) != 0 || (fsync(fileno(f)) != 0 && errno != EINVAL))) o.failed = true, o.err = errno;
    if (o.failed) fprintf(stderr, "%s: write failed: %s\n", path, strerror(o.err ? o.err : EIO));
    return o.failed ? -1 : 0;
}

int gguf_write(const char *out_path, const Model *m, const Tokenizer *tok, const GgufWriteInfo *info, bool replace) {
    struct stat sb;
    if (!replace && stat(out_path, &sb) == 0) {
        fprintf(stderr, "%s: already exists; refusing to replace it (--force replaces it)\n", out_path);
        return -1;
    }
    if (!tok) fprintf(stderr, "%s: warning: the model has no tokenizer; the GGUF file will have none\n", out_path);
    if (tok && tokenizer_vocab_size(tok) > m->cfg.vocab_size) {   // GGUF lists one token per embedding row
        fprintf(stderr, "%s: the tokenizer has %d tokens but the embedding only %d rows\n", out_path,
                (int)tokenizer_vocab_size(tok), m->cfg.vocab_size);
        return -1;
    }
    AtomicFile out;   // PATH.partial-PID until it is whole and loads (shared/atomic_file.h)
    FILE *f = atomic_file_open(&out, out_path, "wb");
    if (!f) return -1;
    if (write_file(f, out_path, m, tok, info) != 0) {
        atomic_file_abort(&out);
        return -1;
    }
    if (atomic_file_close(&out) != 0) return -1;
    if (atomic_file_in_place(&out)) return 0;   // a device or a pipe: nothing to read back
    Model back;   // the file must load before it takes the name
    if (gguf_model_load(&back, out.partial) != 0) {
        fprintf(stderr, "%s: the written file does not load (see above); nothing was replaced\n", out_path);
        atomic_file_abort(&out);
        return -1;
    }
    model_free(&back);
    return atomic_file_publish(&out);
}
