// GGUF files that lie (solutions/m5-quantization/gguf.c): each case crafts a small file with one
// field wrong and checks that the parser refuses it with a message naming that field, never reading
// outside the buffer (make asan runs this too; tools/fuzz/fuzz_gguf.c explores the rest).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_model.h"
#include "harness.h"

typedef struct {
    uint8_t *p;
    size_t n, cap;
} Bytes;

static void put(Bytes *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = 2 * (b->n + n) + 64;
        b->p = realloc(b->p, b->cap);
        PS_CHECK(b->p, "out of memory");
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void put_le(Bytes *b, uint64_t v, int n) {
    for (int k = 0; k < n; k++) {
        uint8_t byte = (uint8_t)(v >> (8 * k));
        put(b, &byte, 1);
    }
}
static void put_str(Bytes *b, const char *s) { put_le(b, strlen(s), 8), put(b, s, strlen(s)); }

// One knob per lie; a zeroed Lie plus the defaults in make() is a valid file.
typedef struct {
    const char *magic;
    uint32_t version;
    uint64_t n_kv, n_tensors;         // 0: the true counts
    uint64_t first_key_len;           // 0: true
    uint32_t third_value_type;        // 0: GGUF_STRING (general.name)
    uint64_t name_len;                // 0: true length of general.name's value
    uint32_t array_elem_type;         // 0: GGUF_STRING
    uint64_t array_count;             // 0: true (3)
    bool duplicate_key, duplicate_tensor, key_with_nul;
    uint32_t alignment;               // 0: no general.alignment key (default 32)
    uint32_t alignment_type;          // 0: GGUF_U32
    uint32_t n_dims_a;                // 0: 1
    uint64_t ne0_a, ne0_b;            // 0: 8 and 64
    uint32_t type_b;                  // 0: Q8_0
    uint64_t offset_b;                // 0: computed
} Lie;

// metadata: general.architecture "qwen3", [general.alignment], general.name, tokenizer.ggml.tokens
// (3 strings); tensors a (F32 [8]) and b (Q8_0, ne {64, 2}).
static Bytes make(const Lie *l) {
    Bytes b = {0};
    uint64_t n_kv = 3 + (l->alignment != 0) + l->duplicate_key;
    put(&b, l->magic ? l->magic : "GGUF", 4);
    put_le(&b, l->version ? l->version : 3, 4);
    put_le(&b, l->n_tensors ? l->n_tensors : 2u + l->duplicate_tensor, 8);
    put_le(&b, l->n_kv ? l->n_kv : n_kv, 8);
    put_le(&b, l->first_key_len ? l->first_key_len : strlen("general.architecture"), 8);
    put(&b, l->key_with_nul ? "general\0architecture" : "general.architecture", strlen("general.architecture"));
    put_le(&b, GGUF_STRING, 4);
    put_str(&b, "qwen3");
    if (l->alignment) {
        put_str(&b, "general.alignment");
        put_le(&b, l->alignment_type ? l->alignment_type : GGUF_U32, 4);
        put_le(&b, l->alignment, 4);
    }
    put_str(&b, "general.name");
    put_le(&b, l->third_value_type ? l->third_value_type : GGUF_STRING, 4);
    put_le(&b, l->name_len ? l->name_len : 4, 8);
    put(&b, "test", 4);
    put_str(&b, "tokenizer.ggml.tokens");
    put_le(&b, GGUF_ARRAY, 4);
    put_le(&b, l->array_elem_type ? l->array_elem_type : GGUF_STRING, 4);
    put_le(&b, l->array_count ? l->array_count : 3, 8);
    put_str(&b, "a"), put_str(&b, "bc"), put_str(&b, "def");
    if (l->duplicate_key) put_str(&b, "general.name"), put_le(&b, GGUF_U8, 4), put_le(&b, 1, 1);
    uint64_t ne0_a = l->ne0_a ? l->ne0_a : 8, ne0_b = l->ne0_b ? l->ne0_b : 64;
    uint32_t type_b = l->type_b ? l->type_b : GGML_Q8_0;
    put_str(&b, "a");
    put_le(&b, l->n_dims_a ? l->n_dims_a : 1, 4);
    for (uint32_t d = 0; d < (l->n_dims_a ? l->n_dims_a : 1); d++) put_le(&b, d ? 1 : ne0_a, 8);
    put_le(&b, GGML_F32, 4);
    put_le(&b, 0, 8);
    for (int k = 0; k < 1 + l->duplicate_tensor; k++) {
        put_str(&b, "b");
        put_le(&b, 2, 4);
        put_le(&b, ne0_b, 8), put_le(&b, 2, 8);
        put_le(&b, type_b, 4);
        put_le(&b, l->offset_b ? l->offset_b : 64u + 64u * (unsigned)k, 8);
    }
    bool valid_alignment = l->alignment && (l->alignment & (l->alignment - 1)) == 0 && l->alignment <= 4096;
    uint32_t align = valid_alignment ? l->alignment : 32;
    while (b.n % align) put_le(&b, 0, 1);
    uint8_t zeros[64 + 136] = {0};   // a's 32 bytes, padding to 64, b's 2 rows of 2 blocks
    put(&b, zeros, sizeof zeros);
    return b;
}

// Parses the crafted file and checks the outcome: want_ok, or a failure whose message holds `words`.
static void expect(const Lie *l, const char *words) {
    Bytes b = make(l);
    Gguf g;
    PsCapture cap;
    ps_capture_begin(&cap, 2);
    int rc = gguf_parse(&g, b.p, b.n, "crafted.gguf");
    char *msg = ps_capture_end(&cap);
    if (rc == 0) gguf_close(&g);
    if (!words) PS_CHECK(rc == 0, "a valid file was refused: %s", msg);
    else PS_CHECK(rc != 0 && strstr(msg, words), "wanted a refusal naming \"%s\"; got rc %d, message: %s", words, rc, msg);
    free(msg);
    free(b.p);
}

static void t_valid(void) {
    Lie ok = {0};
    Bytes b = make(&ok);
    Gguf g;
    // A caller's Gguf is often an uninitialized local: the parser must keep nothing of it (a file it
    // kept would be unmapped by gguf_close: with the stack garbage of Ubuntu's gcc 13 build, a crash).
    memset(&g, 0xA5, sizeof g);
    PS_CHECK(gguf_parse(&g, b.p, b.n, "crafted.gguf") == 0, "the valid file must parse");
    PS_CHECK(g.file.data == NULL && g.file.size == 0, "gguf_parse kept the caller's g.file (%p)", (void *)g.file.data);
    const GgufKV *tokens = gguf_get_array(&g, "tokenizer.ggml.tokens", GGUF_STRING);
    const char *s[3];
    uint64_t len[3];
    PS_CHECK(tokens && tokens->n_elems == 3, "tokens");
    gguf_array_strings(tokens, s, len);
    PS_CHECK(len[2] == 3 && memcmp(s[2], "def", 3) == 0, "third string");
    const GgufTensor *t = gguf_find_tensor(&g, "b");
    PS_CHECK(t && t->type == GGML_Q8_0 && t->n_bytes == 2 * 2 * 34 && t->ne[0] == 64 && t->ne[1] == 2, "tensor b");
    const GgufTensor *a = gguf_find_tensor(&g, "a");
    bool aligned = a && ((const uint8_t *)a->data - b.p) % 32 == 0;
    PS_CHECK(aligned && (const uint8_t *)t->data - (const uint8_t *)a->data == 64,
             "the data section starts aligned, b 64 bytes after a");
    gguf_close(&g);
    // Every shorter prefix is truncated somewhere: refused, never read past.
    for (size_t n = 0; n < b.n; n++) {
        PsCapture cap;
        ps_capture_begin(&cap, 2);
        int rc = gguf_parse(&g, b.p, n, "prefix.gguf");
        free(ps_capture_end(&cap));
        PS_CHECK(rc != 0, "a prefix of %zu bytes (of %zu) was accepted", n, b.n);
    }
    free(b.p);
    expect(&(Lie){.alignment = 64}, NULL);
}

static void t_header(void) {
    expect(&(Lie){.magic = "GGUX"}, "not a GGUF file");
    expect(&(Lie){.version = 1}, "version 1");
    expect(&(Lie){.version = 4}, "version 4");
    expect(&(Lie){.version = 0x03000000u}, "big-endian");
    expect(&(Lie){.n_kv = 1ULL << 60}, "metadata pairs");
    expect(&(Lie){.n_tensors = 1ULL << 60}, "tensors");
}

static void t_metadata(void) {
    expect(&(Lie){.first_key_len = 1ULL << 62}, "the key of metadata pair 0");
    expect(&(Lie){.key_with_nul = true}, "NUL");
    expect(&(Lie){.third_value_type = 13}, "unknown value type 13");
    expect(&(Lie){.name_len = 1ULL << 40}, "general.name");
    expect(&(Lie){.array_count = 1ULL << 61}, "tokenizer.ggml.tokens");
    expect(&(Lie){.array_elem_type = GGUF_ARRAY}, "arrays");
    expect(&(Lie){.array_elem_type = 77}, "unknown type");
    expect(&(Lie){.duplicate_key = true}, "'general.name' appears twice");
    expect(&(Lie){.alignment = 24}, "general.alignment");
    expect(&(Lie){.alignment = 1u << 30}, "general.alignment");
    expect(&(Lie){.alignment = 32, .alignment_type = GGUF_I32}, "general.alignment");
}

static void t_tensors(void) {
    expect(&(Lie){.type_b = 12}, "Q4_K");
    expect(&(Lie){.type_b = 12}, "F32, F16, BF16, Q8_0 and Q4_0");
    expect(&(Lie){.type_b = 99}, "unknown type 99");
    expect(&(Lie){.offset_b = 68}, "not a multiple of the alignment");
    expect(&(Lie){.offset_b = 1ULL << 40}, "past the end");
    expect(&(Lie){.offset_b = 1ULL << 63}, "past the end");
    expect(&(Lie){.ne0_a = 40}, "overlap");
    expect(&(Lie){.n_dims_a = 5}, "5 dimensions");
    expect(&(Lie){.ne0_a = 1ULL << 40}, "dimension 0");
    expect(&(Lie){.ne0_b = 48}, "not a multiple of its block of 32");
    expect(&(Lie){.duplicate_tensor = true}, "'b' appears twice");
}

// The model on top of a well-formed file: the architecture and the keys it needs.
static void t_model_keys(void) {
    Lie ok = {0};
    Bytes b = make(&ok);
    char path[512];
    snprintf(path, sizeof path, "%s/crafted.gguf", ps_test_dir());
    FILE *f = fopen(path, "wb");
    PS_CHECK(f && fwrite(b.p, 1, b.n, f) == b.n && fclose(f) == 0, "cannot write %s", path);
    free(b.p);
    Model m;
    PsCapture cap;
    ps_capture_begin(&cap, 2);
    int rc = gguf_model_load(&m, path);
    char *msg = ps_capture_end(&cap);
    PS_CHECK(rc != 0 && strstr(msg, "qwen3.block_count") && strstr(msg, "missing"), "message: %s", msg);
    free(msg);
    ps_capture_begin(&cap, 2);
    Tokenizer *t = gguf_tokenizer_load(path);
    msg = ps_capture_end(&cap);
    PS_CHECK(!t && strstr(msg, "tokenizer.ggml.model"), "message: %s", msg);
    free(msg);
    PS_CHECK(gguf_path_is_gguf(path) && !gguf_path_is_gguf("models/tiny") && !gguf_path_is_gguf("README.md"),
             "gguf_path_is_gguf");
}

static const PsTest TESTS[] = {
    {"gguf_bad.valid_and_prefixes", t_valid, "book/appendix-formats.md#gguf", 0},
    {"gguf_bad.header", t_header, "book/appendix-formats.md#gguf", 0},
    {"gguf_bad.metadata", t_metadata, "book/appendix-formats.md#gguf", 0},
    {"gguf_bad.tensors", t_tensors, "book/appendix-formats.md#gguf", 0},
    {"gguf_bad.model_keys", t_model_keys, "book/appendix-formats.md#gguf", 0},
};

int main(int argc, char **argv) { return ps_main("gguf", TESTS, PS_COUNT(TESTS), argc, argv); }
