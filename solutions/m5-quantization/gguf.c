// The GGUF parser: a cursor that never reads past the end, then the header, the metadata, the
// tensor infos and the data layout, each checked against the file before anything is believed.
#include "gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// stb_ds's hm* macros use GNU `typeof`, which -std=c11 only knows as `__typeof__`.
#define typeof __typeof__
#include "stb_ds.h"
#include "xalloc.h"

struct GgufNameIndex { char *key; uint64_t value; };

// Longest key or tensor name accepted: far above any real one (llama.cpp's GGML_MAX_NAME is 64),
// low enough that a lying length is caught before it is copied.
#define GGUF_MAX_NAME 4096

typedef struct {
    const uint8_t *p, *end, *base;
    const char *what;
} Cursor;

static uint64_t at(const Cursor *c) { return (uint64_t)(c->p - c->base); }

// Takes n bytes; NULL (message naming `field`) when fewer are left.
static const uint8_t *take(Cursor *c, uint64_t n, const char *field) {
    if (n > (uint64_t)(c->end - c->p)) {
        fprintf(stderr, "%s: truncated: %s at byte %llu needs %llu bytes, %llu are left\n", c->what, field,
                (unsigned long long)at(c), (unsigned long long)n, (unsigned long long)(c->end - c->p));
        return NULL;
    }
    const uint8_t *p = c->p;
    c->p += n;
    return p;
}

static uint64_t le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int k = n - 1; k >= 0; k--) v = v << 8 | p[k];
    return v;
}

static int read_u32(Cursor *c, uint32_t *v, const char *field) {
    const uint8_t *p = take(c, 4, field);
    return p ? (*v = (uint32_t)le(p, 4), 0) : -1;
}

static int read_u64(Cursor *c, uint64_t *v, const char *field) {
    const uint8_t *p = take(c, 8, field);
    return p ? (*v = le(p, 8), 0) : -1;
}

static int read_string(Cursor *c, GgufString *s, const char *field) {
    if (read_u64(c, &s->len, field) != 0) return -1;
    const uint8_t *p = take(c, s->len, field);
    return p ? (s->ptr = (const char *)p, 0) : -1;
}

// A key or a tensor name: a short string without NUL bytes, copied.
static char *read_name(Cursor *c, const char *field) {
    GgufString s;
    if (read_string(c, &s, field) != 0) return NULL;
    if (s.len == 0 || s.len > GGUF_MAX_NAME || memchr(s.ptr, 0, s.len)) {
        fprintf(stderr, "%s: %s at byte %llu is empty, longer than %d bytes, or holds a NUL byte\n", c->what,
                field, (unsigned long long)(at(c) - s.len), GGUF_MAX_NAME);
        return NULL;
    }
    char *out = xmalloc(s.len + 1);
    memcpy(out, s.ptr, s.len);
    out[s.len] = '\0';
    return out;
}

static const int SCALAR_BYTES[GGUF_N_VALUE_TYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

static const char *const VALUE_TYPE_NAMES[GGUF_N_VALUE_TYPES] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};

const char *gguf_value_type_name(uint32_t t) { return t < GGUF_N_VALUE_TYPES ? VALUE_TYPE_NAMES[t] : "unknown"; }

static bool is_int_type(uint32_t t) {
    return t <= GGUF_I32 || t == GGUF_U64 || t == GGUF_I64 || t == GGUF_BOOL;
}

// A scalar of type t at p, widened into kv's fields.
static void widen_scalar(GgufKV *kv, uint32_t t, const uint8_t *p) {
    int n = SCALAR_BYTES[t];
    uint64_t raw = le(p, n);
    kv->u = raw;
    bool is_signed = t == GGUF_I8 || t == GGUF_I16 || t == GGUF_I32 || t == GGUF_I64;
    if (is_signed && n < 8 && (raw >> (8 * n - 1) & 1)) raw |= ~0ULL << (8 * n);   // sign-extend
    memcpy(&kv->i, &raw, 8);
    if (!is_signed) kv->i = raw > INT64_MAX ? INT64_MAX : (int64_t)raw;
    if (t == GGUF_F32) {
        uint32_t bits = (uint32_t)raw;
        float f;
        memcpy(&f, &bits, 4);
        kv->f = f;
    } else if (t == GGUF_F64) {
        memcpy(&kv->f, &raw, 8);
    }
}

// The value of kv (its type already read): a scalar, a string, or an array whose elements are
// checked to lie in the file (strings walked one by one).
static int read_value(Cursor *c, GgufKV *kv) {
    uint32_t t = kv->type;
    if (t >= GGUF_N_VALUE_TYPES) {
        fprintf(stderr, "%s: metadata '%s' has unknown value type %u\n", c->what, kv->key, t);
        return -1;
    }
    if (t == GGUF_STRING) return read_string(c, &kv->str, kv->key);
    if (t != GGUF_ARRAY) {
        const uint8_t *p = take(c, (uint64_t)SCALAR_BYTES[t], kv->key);
        if (!p) return -1;
        widen_scalar(kv, t, p);
        return 0;
    }
    if (read_u32(c, &kv->elem_type, kv->key) != 0 || read_u64(c, &kv->n_elems, kv->key) != 0) return -1;
    uint32_t e = kv->elem_type;
    if (e >= GGUF_N_VALUE_TYPES || e == GGUF_ARRAY) {
        fprintf(stderr, "%s: metadata '%s' is an array of %s (type %u), which GGUF does not allow here\n",
                c->what, kv->key, e == GGUF_ARRAY ? "arrays" : "an unknown type", e);
        return -1;
    }
    kv->elems = c->p;
    if (e != GGUF_STRING) {
        uint64_t size = (uint64_t)SCALAR_BYTES[e];
        if (kv->n_elems > (uint64_t)(c->end - c->p) / size) {
            fprintf(stderr, "%s: truncated: metadata '%s' claims %llu elements of %s, more than the file holds\n",
                    c->what, kv->key, (unsigned long long)kv->n_elems, gguf_value_type_name(e));
            return -1;
        }
        c->p += kv->n_elems * size;
        return 0;
    }
    // Each string takes at least its 8-byte length: a count above that is a lie told cheaply.
    if (kv->n_elems > (uint64_t)(c->end - c->p) / 8) {
        fprintf(stderr, "%s: truncated: metadata '%s' claims %llu strings, more than the file can hold\n", c->what,
                kv->key, (unsigned long long)kv->n_elems);
        return -1;
    }
    for (uint64_t k = 0; k < kv->n_elems; k++) {
        GgufString s;
        if (read_string(c, &s, kv->key) != 0) return -1;
    }
    return 0;
}

// ---- tensor types ----

static const struct { uint32_t type; const char *name; } GGML_TYPES[] = {
    {0, "F32"}, {1, "F16"}, {2, "Q4_0"}, {3, "Q4_1"}, {6, "Q5_0"}, {7, "Q5_1"}, {8, "Q8_0"}, {9, "Q8_1"},
    {10, "Q2_K"}, {11, "Q3_K"}, {12, "Q4_K"}, {13, "Q5_K"}, {14, "Q6_K"}, {15, "Q8_K"}, {16, "IQ2_XXS"},
    {17, "IQ2_XS"}, {18, "IQ3_XXS"}, {19, "IQ1_S"}, {20, "IQ4_NL"}, {21, "IQ3_S"}, {22, "IQ2_S"},
    {23, "IQ4_XS"}, {24, "I8"}, {25, "I16"}, {26, "I32"}, {27, "I64"}, {28, "F64"}, {29, "IQ1_M"},
    {30, "BF16"}, {34, "TQ1_0"}, {35, "TQ2_0"}, {39, "MXFP4"}, {40, "NVFP4"}, {41, "Q1_0"}};

const char *ggml_type_name(uint32_t t) {
    for (size_t k = 0; k < sizeof GGML_TYPES / sizeof GGML_TYPES[0]; k++)
        if (GGML_TYPES[k].type == t) return GGML_TYPES[k].name;
    return NULL;
}

// Elements per block and bytes per block of the five types read here; 0 for any other.
static int type_layout(uint32_t t, uint64_t *block_len, uint64_t *block_bytes) {
    switch (t) {
    case GGML_F32: *block_len = 1, *block_bytes = 4; return 0;
    case GGML_F16: case GGML_BF16: *block_len = 1, *block_bytes = 2; return 0;
    case GGML_Q8_0: *block_len = 32, *block_bytes = 34; return 0;
    case GGML_Q4_0: *block_len = 32, *block_bytes = 18; return 0;
    default: return -1;
    }
}

static int read_tensor_info(Cursor *c, GgufTensor *t, uint64_t index) {
    char field[64];
    snprintf(field, sizeof field, "the name of tensor %llu", (unsigned long long)index);
    if (!(t->name = read_name(c, field))) return -1;
    uint32_t n_dims;
    if (read_u32(c, &n_dims, t->name) != 0) return -1;
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS) {
        fprintf(stderr, "%s: tensor '%s' has %u dimensions (1 to %d allowed)\n", c->what, t->name, n_dims,
                GGUF_MAX_DIMS);
        return -1;
    }
    t->n_dims = (int)n_dims;
    t->n_elems = 1;
    for (int d = 0; d < t->n_dims; d++) {
        if (read_u64(c, &t->ne[d], t->name) != 0) return -1;
        // Each dimension below 2^31 and the product below 2^62: sizes then never overflow.
        if (t->ne[d] == 0 || t->ne[d] > INT32_MAX || t->n_elems > (1ULL << 62) / t->ne[d]) {
            fprintf(stderr, "%s: tensor '%s' has dimension %d = %llu (empty, or too large)\n", c->what, t->name, d,
                    (unsigned long long)t->ne[d]);
            return -1;
        }
        t->n_elems *= t->ne[d];
    }
    if (read_u32(c, &t->type, t->name) != 0 || read_u64(c, &t->offset, t->name) != 0) return -1;
    uint64_t block_len, block_bytes;
    if (type_layout(t->type, &block_len, &block_bytes) != 0) {
        const char *name = ggml_type_name(t->type);
        char type[48];
        if (name) snprintf(type, sizeof type, "type %s (ggml type %u)", name, t->type);
        else snprintf(type, sizeof type, "unknown type %u", t->type);
        fprintf(stderr, "%s: tensor '%s' has %s; protostar reads F32, F16, BF16, Q8_0 and Q4_0\n", c->what,
                t->name, type);
        return -1;
    }
    if (t->ne[0] % block_len != 0) {
        fprintf(stderr, "%s: tensor '%s' is %s with %llu columns, not a multiple of its block of %llu\n", c->what,
                t->name, ggml_type_name(t->type), (unsigned long long)t->ne[0], (unsigned long long)block_len);
        return -1;
    }
    t->n_bytes = t->n_elems / block_len * block_bytes;
    return 0;
}

// ---- the whole file ----

static int parse_kvs(Gguf *g, Cursor *c) {
    // Each pair takes at least 8 (key length) + 1 (key) + 4 (type) + 1 bytes.
    if (g->n_kv > (uint64_t)(c->end - c->p) / 14) {
        fprintf(stderr, "%s: the header claims %llu metadata pairs, more than the file can hold\n", g->what,
                (unsigned long long)g->n_kv);
        return -1;
    }
    g->kv = xcalloc(g->n_kv + 1, sizeof *g->kv);
    for (uint64_t k = 0; k < g->n_kv; k++) {
        GgufKV *kv = &g->kv[k];
        char field[64];
        snprintf(field, sizeof field, "the key of metadata pair %llu", (unsigned long long)k);
        if (!(kv->key = read_name(c, field))) return -1;
        for (uint64_t j = 0; j < k; j++)
            if (strcmp(g->kv[j].key, kv->key) == 0) {
                fprintf(stderr, "%s: metadata key '%s' appears twice\n", g->what, kv->key);
                return -1;
            }
        if (read_u32(c, &kv->type, kv->key) != 0 || read_value(c, kv) != 0) return -1;
    }
    return 0;
}

static int parse_alignment(Gguf *g) {
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const GgufKV *a = gguf_find_kv(g, "general.alignment");
    if (!a) return 0;
    // The spec makes it a u32; a power of two, and small enough to be a sane padding.
    if (a->type != GGUF_U32 || a->u == 0 || (a->u & (a->u - 1)) != 0 || a->u > 65536) {
        fprintf(stderr, "%s: general.alignment must be a u32 power of two up to 65536 (it is a %s, %llu)\n", g->what,
                gguf_value_type_name(a->type), (unsigned long long)a->u);
        return -1;
    }
    g->alignment = a->u;
    return 0;
}

static int parse_tensors(Gguf *g, Cursor *c) {
    // Each info takes at least 8 + 1 (name) + 4 + 8 (one dim) + 4 + 8 bytes.
    if (g->n_tensors > (uint64_t)(c->end - c->p) / 33) {
        fprintf(stderr, "%s: the header claims %llu tensors, more than the file can hold\n", g->what,
                (unsigned long long)g->n_tensors);
        return -1;
    }
    g->tensors = xcalloc(g->n_tensors + 1, sizeof *g->tensors);
    sh_new_arena(g->by_name);
    for (uint64_t k = 0; k < g->n_tensors; k++) {
        if (read_tensor_info(c, &g->tensors[k], k) != 0) return -1;
        if (shgeti(g->by_name, g->tensors[k].name) >= 0) {
            fprintf(stderr, "%s: tensor '%s' appears twice\n", g->what, g->tensors[k].name);
            return -1;
        }
        shput(g->by_name, g->tensors[k].name, k);
    }
    return 0;
}

// The data section starts at the next multiple of the alignment; every tensor must lie inside the
// file, start on an aligned offset, and not overlap another.
static int place_tensors(Gguf *g, const Cursor *c) {
    uint64_t data_start = (at(c) + g->alignment - 1) / g->alignment * g->alignment;
    uint64_t size = (uint64_t)(c->end - c->base);
    if (data_start > size && g->n_tensors > 0) {
        fprintf(stderr, "%s: truncated: the tensor data would start at byte %llu, past the end (%llu)\n", g->what,
                (unsigned long long)data_start, (unsigned long long)size);
        return -1;
    }
    uint64_t data_size = data_start <= size ? size - data_start : 0;
    for (uint64_t k = 0; k < g->n_tensors; k++) {
        GgufTensor *t = &g->tensors[k];
        if (t->offset % g->alignment != 0) {
            fprintf(stderr, "%s: tensor '%s' has offset %llu, not a multiple of the alignment %llu\n", g->what,
                    t->name, (unsigned long long)t->offset, (unsigned long long)g->alignment);
            return -1;
        }
        if (t->offset > data_size || t->n_bytes > data_size - t->offset) {
            fprintf(stderr, "%s: tensor '%s' (%llu bytes at offset %llu) reaches past the end of the data (%llu bytes)\n",
                    g->what, t->name, (unsigned long long)t->n_bytes, (unsigned long long)t->offset,
                    (unsigned long long)data_size);
            return -1;
        }
        t->data = c->base + data_start + t->offset;
    }
    // Overlaps: sort offsets (insertion order is usually sorted already, so this is cheap).
    uint64_t *order = xmalloc((g->n_tensors + 1) * sizeof *order);
    for (uint64_t k = 0; k < g->n_tensors; k++) order[k] = k;
    for (uint64_t k = 1; k < g->n_tensors; k++)
        for (uint64_t j = k; j > 0 && g->tensors[order[j - 1]].offset > g->tensors[order[j]].offset; j--) {
            uint64_t tmp = order[j];
            order[j] = order[j - 1], order[j - 1] = tmp;
        }
    int rc = 0;
    for (uint64_t k = 1; k < g->n_tensors && rc == 0; k++) {
        const GgufTensor *a = &g->tensors[order[k - 1]], *b = &g->tensors[order[k]];
        if (a->offset + a->n_bytes > b->offset) {
            fprintf(stderr, "%s: tensors '%s' and '%s' overlap in the data section\n", g->what, a->name, b->name);
            rc = -1;
        }
    }
    free(order);
    return rc;
}

// Nothing in g is read: callers pass uninitialized locals. (It used to keep g->file for gguf_open,
// so gguf_close unmapped whatever stack garbage was there: a crash on one compiler, luck on another.)
int gguf_parse(Gguf *g, const void *data, size_t size, const char *what) {
    memset(g, 0, sizeof *g);
    g->what = what;
    Cursor c = {data, (const uint8_t *)data + size, data, what};
    const uint8_t *magic = take(&c, 4, "the magic");
    if (!magic) goto fail;
    if (memcmp(magic, "GGUF", 4) != 0) {
        fprintf(stderr, "%s: not a GGUF file (it does not start with \"GGUF\")\n", what);
        goto fail;
    }
    if (read_u32(&c, &g->version, "the version") != 0) goto fail;
    if (g->version != 2 && g->version != 3) {
        bool swapped = g->version == 0x02000000u || g->version == 0x03000000u;
        fprintf(stderr, "%s: GGUF version %u; protostar reads versions 2 and 3%s\n", what, g->version,
                g->version == 1 ? " (version 1 had 32-bit counts: convert it again)"
                : swapped   ? " (this is a big-endian file: protostar reads little-endian ones)" : "");
        goto fail;
    }
    if (read_u64(&c, &g->n_tensors, "the tensor count") != 0 || read_u64(&c, &g->n_kv, "the metadata count") != 0)
        goto fail;
    if (parse_kvs(g, &c) != 0 || parse_alignment(g) != 0 || parse_tensors(g, &c) != 0 || place_tensors(g, &c) != 0)
        goto fail;
    return 0;
fail:
    gguf_close(g);
    return -1;
}

int gguf_open(Gguf *g, const char *path) {
    memset(g, 0, sizeof *g);
    PsFile file;
    if (ps_file_open(&file, path, PS_MAP_MMAP) != 0) return -1;
    if (gguf_parse(g, file.data, file.size, path) != 0) {
        ps_file_close(&file);
        return -1;
    }
    g->file = file;   // unmapped by gguf_close
    return 0;
}

void gguf_close(Gguf *g) {
    for (uint64_t k = 0; g->kv && k < g->n_kv; k++) free(g->kv[k].key);
    for (uint64_t k = 0; g->tensors && k < g->n_tensors; k++) free(g->tensors[k].name);
    free(g->kv);
    free(g->tensors);
    shfree(g->by_name);
    if (g->file.data) ps_file_close(&g->file);
    memset(g, 0, sizeof *g);
}

const GgufKV *gguf_find_kv(const Gguf *g, const char *key) {
    for (uint64_t k = 0; k < g->n_kv; k++)
        if (g->kv[k].key && strcmp(g->kv[k].key, key) == 0) return &g->kv[k];
    return NULL;
}

const GgufTensor *gguf_find_tensor(const Gguf *g, const char *name) {
    ptrdiff_t i = shgeti(((Gguf *)g)->by_name, name);
    return i < 0 ? NULL : &g->tensors[g->by_name[i].value];
}

int gguf_get_int(const Gguf *g, const char *key, int64_t min, int64_t max, int64_t *out) {
    const GgufKV *kv = gguf_find_kv(g, key);
    if (!kv || !is_int_type(kv->type)) {
        fprintf(stderr, "%s: metadata '%s' is %s (an integer is needed)\n", g->what, key,
                kv ? gguf_value_type_name(kv->type) : "missing");
        return -1;
    }
    bool negative = kv->type == GGUF_I8 || kv->type == GGUF_I16 || kv->type == GGUF_I32 || kv->type == GGUF_I64;
    int64_t v = kv->i;
    if ((!negative && kv->u > (uint64_t)INT64_MAX) || v < min || v > max) {
        fprintf(stderr, "%s: metadata '%s' = %lld is out of range (%lld to %lld)\n", g->what, key,
                negative ? (long long)v : (long long)(kv->u > (uint64_t)INT64_MAX ? INT64_MAX : v), (long long)min,
                (long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int gguf_get_float(const Gguf *g, const char *key, double *out) {
    const GgufKV *kv = gguf_find_kv(g, key);
    if (!kv || (kv->type != GGUF_F32 && kv->type != GGUF_F64)) {
        fprintf(stderr, "%s: metadata '%s' is %s (a float is needed)\n", g->what, key,
                kv ? gguf_value_type_name(kv->type) : "missing");
        return -1;
    }
    *out = kv->f;
    return 0;
}

char *gguf_get_string(const Gguf *g, const char *key) {
    const GgufKV *kv = gguf_find_kv(g, key);
    if (!kv || kv->type != GGUF_STRING) {
        fprintf(stderr, "%s: metadata '%s' is %s (a string is needed)\n", g->what, key,
                kv ? gguf_value_type_name(kv->type) : "missing");
        return NULL;
    }
    if (kv->str.len > GGUF_MAX_NAME) {
        fprintf(stderr, "%s: metadata '%s' is a string of %llu bytes, too long here\n", g->what, key,
                (unsigned long long)kv->str.len);
        return NULL;
    }
    char *s = xmalloc(kv->str.len + 1);
    memcpy(s, kv->str.ptr, kv->str.len);
    s[kv->str.len] = '\0';
    return s;
}

const GgufKV *gguf_get_array(const Gguf *g, const char *key, uint32_t elem_type) {
    const GgufKV *kv = gguf_find_kv(g, key);
    if (!kv || kv->type != GGUF_ARRAY || kv->elem_type != elem_type) {
        fprintf(stderr, "%s: metadata '%s' is %s%s (an array of %s is needed)\n", g->what, key,
                kv ? gguf_value_type_name(kv->type) : "missing",
                kv && kv->type == GGUF_ARRAY ? (kv->elem_type == GGUF_STRING ? " of strings" : " of numbers") : "",
                gguf_value_type_name(elem_type));
        return NULL;
    }
    return kv;
}

void gguf_array_strings(const GgufKV *kv, const char **ptrs, uint64_t *lens) {
    const uint8_t *p = kv->elems;
    for (uint64_t k = 0; k < kv->n_elems; k++) {
        lens[k] = le(p, 8);
        ptrs[k] = (const char *)p + 8;
        p += 8 + lens[k];
    }
}

int64_t gguf_array_int(const GgufKV *kv, uint64_t i) {
    GgufKV one = {0};
    widen_scalar(&one, kv->elem_type, kv->elems + i * (uint64_t)SCALAR_BYTES[kv->elem_type]);
    return one.i;
}
