// Safetensors reader: map the file, parse the JSON header, validate every tensor before anyone
// touches its bytes. Format: 8-byte little-endian header length N, N bytes of JSON, then the data.
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// stb_ds's map macros use GNU `typeof`, which -std=c11 only knows as `__typeof__`.
#define typeof __typeof__
#include "stb_ds.h"
#include "xalloc.h"

// The entries of SafeTensors.by_name. Keys point at the tensors' own names (not copied).
struct StNameIndex {
    char *key;
    int value;
};

// Anything bigger is not a header but a corrupt length (the reference implementation caps it at 100 MB).
#define MAX_HEADER_BYTES (100u * 1024 * 1024)
// JSON numbers are doubles: integers are exact only up to 2^53.
#define MAX_JSON_INT 9007199254740992.0

const char *dtype_name(DType t) {
    switch (t) {
    case DT_F32: return "F32";
    case DT_BF16: return "BF16";
    case DT_F16: return "F16";
    case DT_U8: return "U8";
    }
    return "?";   // not a file dtype: model.h's mat_type_name() knows the registered formats
}

size_t dtype_size(DType t) {
    switch (t) {
    case DT_F32: return 4;
    case DT_BF16: case DT_F16: return 2;
    case DT_U8: return 1;
    default: return 0;
    }
}

// The safetensors dtype strings we accept. Others exist (I8, F64, F8_E4M3, ...) but no Qwen3
// checkpoint we load uses them, and silently misreading one would be worse than refusing it. U8 is
// plain bytes: model_load reads it only as a registered packed matrix format (model.h).
static int parse_dtype(const char *s, DType *out) {
    if (strcmp(s, "F32") == 0) return *out = DT_F32, 0;
    if (strcmp(s, "BF16") == 0) return *out = DT_BF16, 0;
    if (strcmp(s, "F16") == 0) return *out = DT_F16, 0;
    if (strcmp(s, "U8") == 0) return *out = DT_U8, 0;
    return -1;
}

static uint64_t read_u64_le(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

// A JSON number that is a whole number in [0, 2^53]; false otherwise.
static bool json_uint(const cJSON *item, uint64_t *out) {
    if (!cJSON_IsNumber(item)) return false;
    double d = item->valuedouble;
    if (!(d >= 0 && d <= MAX_JSON_INT) || d != (double)(uint64_t)d) return false;
    *out = (uint64_t)d;
    return true;
}

static void add_tensor(SafeTensors *st, const StTensor *t) {
    st->tensors = xrealloc(st->tensors, (size_t)(st->n_tensors + 1) * sizeof *st->tensors);
    shput(st->by_name, t->name, st->n_tensors);
    st->tensors[st->n_tensors++] = *t;
}

// Fills t from one header entry {"dtype": ..., "shape": [...], "data_offsets": [begin, end]}.
// Returns NULL when valid, else a description of the problem: a string literal, or `why` (cap
// bytes) filled in when the message names a value from the file.
static const char *parse_entry(const cJSON *entry, size_t data_size, StTensor *t, char *why, size_t cap) {
    if (!cJSON_IsObject(entry)) return "entry is not a JSON object";
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    //> M1 tensor-entry
    //? Check and read the three fields, returning a message for the first problem found:
    //?  - dtype: a string that parse_dtype() accepts ("unknown dtype" otherwise, name it in `why`);
    //?  - shape: an array of at most ST_MAX_DIMS whole numbers >= 0 (json_uint); numel = product
    //?    (1 for shape []), watch for overflow;
    //?  - data_offsets: an array of exactly two whole numbers begin <= end <= data_size;
    //?  - end - begin must equal numel * dtype_size (the bytes the shape needs).
    //? Set t->dtype, ndim, shape, numel, nbytes, offset.
    if (!cJSON_IsString(dtype)) return "missing or non-string \"dtype\"";
    if (parse_dtype(dtype->valuestring, &t->dtype) != 0) {
        snprintf(why, cap, "unknown dtype \"%.40s\" (this engine reads F32, BF16, F16 and U8)", dtype->valuestring);
        return why;
    }
    if (!cJSON_IsArray(shape)) return "missing or non-array \"shape\"";
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > ST_MAX_DIMS) return "shape has too many dimensions";
    t->ndim = ndim;
    t->numel = 1;
    for (int d = 0; d < ndim; d++) {
        uint64_t dim;
        if (!json_uint(cJSON_GetArrayItem(shape, d), &dim)) return "shape holds something that is not a whole number >= 0";
        if (dim != 0 && t->numel > SIZE_MAX / 4 / dim) return "shape is impossibly large";
        t->shape[d] = (int64_t)dim;
        t->numel *= (size_t)dim;
    }
    uint64_t begin, end;
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        !json_uint(cJSON_GetArrayItem(offsets, 0), &begin) || !json_uint(cJSON_GetArrayItem(offsets, 1), &end))
        return "\"data_offsets\" is not a pair of whole numbers [begin, end]";
    if (begin > end) return "data_offsets begin after they end";
    if (end > data_size) {
        snprintf(why, cap, "data_offsets [%llu, %llu] run past the end of the file (data section holds %zu bytes)",
                 (unsigned long long)begin, (unsigned long long)end, data_size);
        return why;
    }
    t->nbytes = t->numel * dtype_size(t->dtype);
    if (end - begin != t->nbytes) {
        snprintf(why, cap, "shape needs %zu bytes of %s but data_offsets [%llu, %llu] hold %llu",
                 t->nbytes, dtype_name(t->dtype), (unsigned long long)begin, (unsigned long long)end,
                 (unsigned long long)(end - begin));
        return why;
    }
    t->offset = (size_t)begin;
    //<
    return NULL;
}

static int by_offset(const void *a, const void *b) {
    const StTensor *x = *(const StTensor *const *)a, *y = *(const StTensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

// Two tensors sharing bytes would mean one of them is garbage: sort by offset, compare neighbours.
static int check_overlaps(const SafeTensors *st, int first, const char *what) {
    // A tensor of zero bytes (a dimension of 0) occupies nothing, so it overlaps nothing.
    const StTensor **order = xmalloc((size_t)(st->n_tensors - first + 1) * sizeof *order);
    int n = 0;
    for (int i = first; i < st->n_tensors; i++)
        if (st->tensors[i].nbytes > 0) order[n++] = &st->tensors[i];
    qsort(order, (size_t)n, sizeof *order, by_offset);
    int rc = 0;
    for (int i = 1; i < n && rc == 0; i++) {
        //> M1 tensor-overlap
        //? order[] is sorted by offset: tensor i overlaps the one before it when it starts before
        //? that one ends. Print "WHAT: tensors 'A' and 'B' overlap in the data section" and set rc = -1.
        const StTensor *prev = order[i - 1], *cur = order[i];
        if (cur->offset < prev->offset + prev->nbytes) {
            fprintf(stderr, "%s: tensors '%s' and '%s' overlap in the data section\n", what, prev->name, cur->name);
            rc = -1;
        }
        //<
    }
    free(order);
    return rc;
}

int st_parse_header(SafeTensors *st, const char *json, size_t json_len, size_t data_size,
                    int file, const char *what) {
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, json_len, &end, false);
    if (!root || !cJSON_IsObject(root)) {
        fprintf(stderr, "%s: header is not a valid JSON object (malformed JSON)\n", what);
        cJSON_Delete(root);
        return -1;
    }
    // Writers pad the header with spaces; anything else after the object means the length is wrong.
    for (const char *p = end; p < json + json_len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            fprintf(stderr, "%s: header has %zu bytes of something other than JSON after its object "
                            "(wrong header length?)\n", what, (size_t)(json + json_len - p));
            cJSON_Delete(root);
            return -1;
        }
    int first = st->n_tensors;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, root) {
        if (strcmp(entry->string, "__metadata__") == 0) continue;   // free-form strings, e.g. format: pt
        StTensor t = {0};
        char why[256];
        const char *problem = parse_entry(entry, data_size, &t, why, sizeof why);
        if (!problem && st_find(st, entry->string)) problem = "appears twice";
        if (problem) {
            fprintf(stderr, "%s: tensor '%s': %s\n", what, entry->string, problem);
            cJSON_Delete(root);
            return -1;
        }
        t.file = file;
        t.name = xstrdup(entry->string);
        add_tensor(st, &t);
    }
    cJSON_Delete(root);
    return check_overlaps(st, first, what);
}

// Parses the header of file idx (json_len bytes: as read, or rewritten first when rewrite is given)
// and points each of its tensors at its bytes, in the data section that starts at data_start.
static int add_header(SafeTensors *st, int idx, const char *json, size_t json_len, size_t data_start,
                      StHeaderRewrite rewrite) {
    const PsFile *f = &st->files[idx];
    char *rewritten = NULL;
    if (rewrite) {
        if (!(rewritten = rewrite(json, json_len, st->paths[idx]))) return -1;
        json = rewritten;
        json_len = strlen(rewritten);
    }
    int first = st->n_tensors;
    int rc = st_parse_header(st, json, json_len, f->size - data_start, idx, st->paths[idx]);
    free(rewritten);
    for (int i = first; rc == 0 && i < st->n_tensors; i++)
        st->tensors[i].data = f->data + data_start + st->tensors[i].offset;
    return rc;
}

int st_add_file(SafeTensors *st, const char *path, PsMapMode mode, StHeaderRewrite rewrite) {
    st->files = xrealloc(st->files, (size_t)(st->n_files + 1) * sizeof *st->files);
    st->paths = xrealloc(st->paths, (size_t)(st->n_files + 1) * sizeof *st->paths);
    int idx = st->n_files;
    if (ps_file_open(&st->files[idx], path, mode) != 0) return -1;
    st->paths[idx] = xstrdup(path);
    st->n_files++;
    const PsFile *f = &st->files[idx];
    size_t json_len, data_start;
    //> M1 header-length
    //? The file starts with the header's length as a little-endian u64 (read_u64_le). Refuse a file
    //? shorter than 8 bytes ("too short to be safetensors"), a length over MAX_HEADER_BYTES, or one
    //? that runs past the end of the file ("header length N runs past the end of the file (M bytes)").
    //? Then json_len = that length and data_start = 8 + json_len.
    if (f->size < 8) {
        fprintf(stderr, "%s: %zu bytes is too short to be safetensors (truncated?)\n", path, f->size);
        return -1;
    }
    uint64_t n = read_u64_le(f->data);
    if (n > MAX_HEADER_BYTES || n > f->size - 8) {
        fprintf(stderr, "%s: header length %llu runs past the end of the file (%zu bytes; truncated?)\n",
                path, (unsigned long long)n, f->size);
        return -1;
    }
    json_len = (size_t)n;
    data_start = 8 + json_len;
    //<
    return add_header(st, idx, (const char *)f->data + 8, json_len, data_start, rewrite);
}

int st_open_file(SafeTensors *st, const char *path, PsMapMode mode) {
    memset(st, 0, sizeof *st);
    if (st_add_file(st, path, mode, NULL) == 0) return 0;
    st_close(st);
    return -1;
}

static bool file_exists(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

// A sharded checkpoint: {"weight_map": {"tensor name": "model-00001-of-00002.safetensors", ...}}.
static int open_sharded(SafeTensors *st, const char *dir, const char *index_path, PsMapMode mode) {
    char *text = ps_read_text(index_path, NULL);
    if (!text) return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    int rc = 0;
    if (!cJSON_IsObject(map)) {
        fprintf(stderr, "%s: malformed JSON or no \"weight_map\" object\n", index_path);
        rc = -1;
    }
    const cJSON *e;
    char path[4096];
    if (rc == 0) cJSON_ArrayForEach(e, map) {   // open each shard once, in order of first mention
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/')) {
            fprintf(stderr, "%s: weight_map entry '%s' is not a file name in the directory\n", index_path, e->string);
            rc = -1;
            break;
        }
        snprintf(path, sizeof path, "%s/%s", dir, e->valuestring);
        bool seen = false;
        for (int i = 0; i < st->n_files; i++) seen = seen || strcmp(st->paths[i], path) == 0;
        if (!seen && (rc = st_add_file(st, path, mode, NULL)) != 0) break;
    }
    if (rc == 0 && st->n_files == 0) {
        fprintf(stderr, "%s: \"weight_map\" names no tensors\n", index_path);
        rc = -1;
    }
    if (rc == 0) cJSON_ArrayForEach(e, map) {   // every tensor the index promises is where it says
        const StTensor *t = st_find(st, e->string);
        snprintf(path, sizeof path, "%s/%s", dir, e->valuestring);
        if (!t || strcmp(st->paths[t->file], path) != 0) {
            fprintf(stderr, "%s: tensor '%s' is not in %s\n", index_path, e->string, path);
            rc = -1;
            break;
        }
    }
    cJSON_Delete(root);
    return rc;
}

int st_open_dir(SafeTensors *st, const char *dir, PsMapMode mode) {
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (file_exists(path)) return st_open_file(st, path, mode);
    memset(st, 0, sizeof *st);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    if (!file_exists(path)) {
        fprintf(stderr, "%s: no model.safetensors or model.safetensors.index.json\n", dir);
        return -1;
    }
    if (open_sharded(st, dir, path, mode) == 0) return 0;
    st_close(st);
    return -1;
}

const StTensor *st_find(const SafeTensors *st, const char *name) {
    // shgeti takes the map by name, not through const; on an empty (NULL) map it would allocate.
    struct StNameIndex *index = st->by_name;
    if (!index) return NULL;
    ptrdiff_t at = shgeti(index, name);
    return at < 0 ? NULL : &st->tensors[index[at].value];
}

void st_close(SafeTensors *st) {
    for (int i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
    for (int i = 0; i < st->n_files; i++) {
        ps_file_close(&st->files[i]);
        free(st->paths[i]);
    }
    shfree(st->by_name);
    free(st->tensors);
    free(st->files);
    free(st->paths);
    memset(st, 0, sizeof *st);
}
