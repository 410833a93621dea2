// mlx_lm folder → Model (the layout and the choice of formats are in mlx_model.h).
#include "mlx_model.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forward.h"
#include "quant_model.h"
#include "thread_pool.h"
#include "weights.h"
#include "xalloc.h"

bool mlx_path_is_mlx(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (access(path, F_OK) != 0) return false;
    char *text = ps_read_text(path, NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    bool yes = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "quantization"));
    cJSON_Delete(root);
    free(text);
    return yes;
}

// ---- the two native formats: products and rows ----

static void block_at(const Mat *w, int row, int b, float *scale, float *bias, const uint8_t **qs) {
    size_t bytes = w->dtype == DT_MLX4 ? sizeof(BlockMlx4) : sizeof(BlockMlx8);
    const uint8_t *p = (const uint8_t *)w->data + ((size_t)row * (size_t)(w->cols / QK_MLX) + (size_t)b) * bytes;
    memcpy(scale, p, 4);
    memcpy(bias, p + 4, 4);
    *qs = p + 8;
}

static void get_row_mlx(float *out, const Mat *w, int row) {
    for (int b = 0; b < w->cols / QK_MLX; b++) {
        float scale, bias;
        const uint8_t *qs;
        block_at(w, row, b, &scale, &bias, &qs);
        for (int j = 0; j < QK_MLX; j++) {
            int q = w->dtype == DT_MLX8 ? qs[j] : (qs[j / 2] >> (4 * (j & 1))) & 15;
            float scaled = scale * (float)q;   // its own statement: no FMA, the same bits as the reference
            out[b * QK_MLX + j] = scaled + bias;
        }
    }
}

typedef struct {
    float *out;
    const float *x, *block_sums;   // block_sums[t * blocks + b]: the sum of x's block b for token t
    const Mat *w;
    int n_tokens;
} MlxProduct;

// Rows of out = W x, one part of them: each block contributes scale * (q · x) + bias * sum(x).
static void product_part(void *arg, int part, int n_parts) {
    const MlxProduct *p = arg;
    const Mat *w = p->w;
    int blocks = w->cols / QK_MLX, begin = (int)((long long)w->rows * part / n_parts);
    int end = (int)((long long)w->rows * (part + 1) / n_parts);
    for (int r = begin; r < end; r++)
        for (int t = 0; t < p->n_tokens; t++) {
            const float *x = p->x + (size_t)t * (size_t)w->cols;
            float acc = 0;
            for (int b = 0; b < blocks; b++) {
                float scale, bias, dot = 0;
                const uint8_t *qs;
                block_at(w, r, b, &scale, &bias, &qs);
                const float *xb = x + b * QK_MLX;
                if (w->dtype == DT_MLX8)
                    for (int j = 0; j < QK_MLX; j++) dot += (float)qs[j] * xb[j];
                else
                    for (int j = 0; j < QK_MLX / 2; j++) dot += (float)(qs[j] & 15) * xb[2 * j] + (float)(qs[j] >> 4) * xb[2 * j + 1];
                acc += scale * dot + bias * p->block_sums[(size_t)t * (size_t)blocks + (size_t)b];
            }
            p->out[(size_t)t * (size_t)w->rows + (size_t)r] = acc;
        }
}

static void matmul_mlx(float *out, const float *x, const Mat *w, int n_tokens) {
    int blocks = w->cols / QK_MLX;
    float *sums = xmalloc((size_t)n_tokens * (size_t)blocks * sizeof *sums);
    for (int t = 0; t < n_tokens; t++)
        for (int b = 0; b < blocks; b++) {
            float s = 0;
            for (int j = 0; j < QK_MLX; j++) s += x[(size_t)t * (size_t)w->cols + (size_t)(b * QK_MLX + j)];
            sums[(size_t)t * (size_t)blocks + (size_t)b] = s;
        }
    MlxProduct p = {out, x, sums, w, n_tokens};
    double work = (double)w->rows * (double)w->cols * n_tokens;
    pool_run(product_part, &p, pool_parts_for(work, w->rows));
    free(sums);
}

static const MatFormat FORMATS[] = {
    {DT_MLX4, "MLX4", QK_MLX, (int)sizeof(BlockMlx4)},
    {DT_MLX8, "MLX8", QK_MLX, (int)sizeof(BlockMlx8)},
};
static const MatKernels KERNELS[] = {
    {DT_MLX4, matmul_mlx, get_row_mlx},
    {DT_MLX8, matmul_mlx, get_row_mlx},
};

int mlx_register(void) {
    if (quant_register() != 0) return -1;
    for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++)
        if (mat_format_register(&FORMATS[i]) != 0 || matmul_register(&KERNELS[i]) != 0) return -1;
    return 0;
}

// ---- reading the folder ----

// M1's safetensors reader knows F32, BF16, F16 and U8. A U32 tensor holds the same bytes as a U8
// one four times as wide, so M1's st_add_file reads each file with its header rewritten that way
// (StHeaderRewrite), with all its checks (header length, offsets, sizes, overlaps).
static char *u32_as_u8(const char *json, size_t json_len, const char *path) {
    cJSON *root = cJSON_ParseWithLength(json, json_len);
    if (!cJSON_IsObject(root)) {
        fprintf(stderr, "%s: the header is not a JSON object\n", path);
        cJSON_Delete(root);
        return NULL;
    }
    cJSON *e;
    cJSON_ArrayForEach(e, root) {
        cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype"), *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
        if (!cJSON_IsString(dtype) || strcmp(dtype->valuestring, "U32") != 0) continue;
        cJSON *last = cJSON_GetArrayItem(shape, cJSON_GetArraySize(shape) - 1);
        if (!cJSON_IsNumber(last) || last->valuedouble < 0 || last->valuedouble > 1e15) continue;   // M1 refuses it
        cJSON_SetValuestring(dtype, "U8");
        cJSON_SetNumberValue(last, last->valuedouble * 4);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) fprintf(stderr, "%s: out of memory rewriting the header (%zu bytes)\n", path, json_len);
    return text;
}

static int add_mlx_file(SafeTensors *st, const char *path) { return st_add_file(st, path, PS_MAP_MMAP, u32_as_u8); }

// DIR/model.safetensors, or the shards DIR/model.safetensors.index.json names.
static int open_mlx_dir(SafeTensors *st, const char *dir) {
    memset(st, 0, sizeof *st);
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    if (access(path, F_OK) != 0) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        if (add_mlx_file(st, path) == 0) return 0;
        st_close(st);
        return -1;
    }
    char *text = ps_read_text(path, NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL, *e;
    free(text);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    int rc = cJSON_IsObject(map) ? 0 : -1;
    if (rc) fprintf(stderr, "%s: no \"weight_map\" object\n", path);
    const char **seen = NULL;
    int n_seen = 0;
    cJSON_ArrayForEach(e, map) {
        if (rc) break;
        const char *shard = cJSON_IsString(e) ? e->valuestring : NULL;
        if (!shard || strchr(shard, '/') || strcmp(shard, "..") == 0) {
            fprintf(stderr, "%s: tensor '%s' names a shard outside the folder\n", path, e->string);
            rc = -1;
            break;
        }
        bool known = false;
        for (int k = 0; k < n_seen && !known; k++) known = strcmp(seen[k], shard) == 0;
        if (known) continue;
        seen = xrealloc(seen, (size_t)(n_seen + 1) * sizeof *seen);
        seen[n_seen++] = shard;
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", dir, shard);
        rc = add_mlx_file(st, file);
    }
    free(seen);
    cJSON_Delete(root);
    if (rc) st_close(st);
    return rc;
}

typedef struct {
    const SafeTensors *st;
    bool *used;
    uint8_t *next;
    const char *dir;
} MlxLoader;

static const StTensor *take(MlxLoader *L, const char *name) {
    const StTensor *t = st_find(L->st, name);
    if (t) L->used[t - L->st->tensors] = true;
    return t;
}

static float *load_vector(void *reader, const char *name, int n) {
    MlxLoader *L = reader;
    const StTensor *t = take(L, name);
    if (!t || t->dtype == DT_U8 || t->ndim != 1 || t->shape[0] != n) {
        fprintf(stderr, "%s: tensor '%s' is %s (a float vector of %d is needed)\n", L->dir, name,
                t ? "of another type or shape" : "missing", n);
        return NULL;
    }
    float *out = (float *)L->next;
    convert_to_f32(out, t->data, t->dtype, t->numel);
    L->next += (t->numel * sizeof(float) + 63) / 64 * 64;
    return out;
}

// The scales or biases of a quantized matrix as floats: [rows × groups].
static float *group_params(MlxLoader *L, const char *stem, const char *what, int rows, int groups) {
    char name[256];
    snprintf(name, sizeof name, "%s.%s", stem, what);
    const StTensor *t = take(L, name);
    if (!t || t->dtype == DT_U8 || t->ndim != 2 || t->shape[0] != rows || t->shape[1] != groups) {
        fprintf(stderr, "%s: tensor '%s' is %s (float [%d, %d] is needed)\n", L->dir, name,
                t ? "of another type or shape" : "missing", rows, groups);
        return NULL;
    }
    float *out = xmalloc((size_t)rows * (size_t)groups * sizeof *out);
    convert_to_f32(out, t->data, t->dtype, t->numel);
    return out;
}

static bool exact_in_f16(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (q_f16_to_f32(q_f32_to_f16(v[i])) != v[i]) return false;
    return true;
}

static size_t row_bytes(DType t, int cols) {
    if (t == DT_MLX4) return (size_t)cols / QK_MLX * sizeof(BlockMlx4);
    if (t == DT_MLX8) return (size_t)cols / QK_MLX * sizeof(BlockMlx8);
    return quant_row_bytes(t, cols);
}

// Repacks one quantized matrix's rows into dst (see mlx_model.h for which format). Returns the
// format, or -1 after a message.
static DType repack(uint8_t *dst, const uint8_t *src, const float *scales, const float *biases, int rows, int cols,
                    int bits, int group) {
    size_t row_bytes = (size_t)cols * (size_t)bits / 8, groups = (size_t)(cols / group);
    bool q4a = bits == 4 && group == QK4A && exact_in_f16(scales, (size_t)rows * groups) &&
               exact_in_f16(biases, (size_t)rows * groups);
    for (int r = 0; r < rows; r++) {
        const uint8_t *row = src + (size_t)r * row_bytes;
        const float *s = scales + (size_t)r * groups, *b = biases + (size_t)r * groups;
        if (q4a) {
            BlockQ4A *out = (BlockQ4A *)dst + (size_t)r * groups;
            for (size_t g = 0; g < groups; g++) {
                uint16_t hs = q_f32_to_f16(s[g]), hb = q_f32_to_f16(b[g]);
                out[g].scale[0] = (uint8_t)hs, out[g].scale[1] = (uint8_t)(hs >> 8);
                out[g].bias[0] = (uint8_t)hb, out[g].bias[1] = (uint8_t)(hb >> 8);
                memcpy(out[g].qs, row + g * QK4A / 2, QK4A / 2);   // MLX's nibble order is Q4A's
            }
            continue;
        }
        size_t blocks = (size_t)cols / QK_MLX, block_bytes = bits == 4 ? sizeof(BlockMlx4) : sizeof(BlockMlx8);
        for (size_t k = 0; k < blocks; k++) {
            uint8_t *out = dst + ((size_t)r * blocks + k) * block_bytes;
            size_t g = k * QK_MLX / (size_t)group;
            memcpy(out, &s[g], 4);
            memcpy(out + 4, &b[g], 4);
            memcpy(out + 8, row + k * QK_MLX * (size_t)bits / 8, QK_MLX * (size_t)bits / 8);
        }
    }
    return q4a ? DT_Q4A : bits == 4 ? DT_MLX4 : DT_MLX8;
}

static int load_matrix(void *reader, Mat *m, const char *name, int rows, int cols) {
    MlxLoader *L = reader;
    const StTensor *t = take(L, name);
    if (!t) {
        fprintf(stderr, "%s: missing tensor '%s'\n", L->dir, name);
        return -1;
    }
    *m = (Mat){.dtype = DT_F32, .rows = rows, .cols = cols, .data = L->next};
    if (t->dtype != DT_U8) {
        if (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols) {
            fprintf(stderr, "%s: tensor '%s' does not have the shape [%d, %d] config.json implies\n", L->dir, name,
                    rows, cols);
            return -1;
        }
        convert_to_f32((float *)L->next, t->data, t->dtype, t->numel);
        L->next += (t->numel * sizeof(float) + 63) / 64 * 64;
        return 0;
    }
    char stem[256], scales_name[300];
    snprintf(stem, sizeof stem, "%.*s", (int)(strlen(name) - strlen(".weight")), name);
    snprintf(scales_name, sizeof scales_name, "%s.scales", stem);
    const StTensor *sc = st_find(L->st, scales_name);
    long long packed = t->ndim == 2 ? (long long)t->shape[1] : 0, groups = sc && sc->ndim == 2 ? sc->shape[1] : 0;
    int bits = cols > 0 && packed * 8 % cols == 0 ? (int)(packed * 8 / cols) : 0;
    int group = groups > 0 && cols % groups == 0 ? (int)(cols / groups) : 0;
    if (t->ndim != 2 || t->shape[0] != rows || (bits != 4 && bits != 8) || group == 0 || group % QK_MLX != 0) {
        fprintf(stderr, "%s: tensor '%s' (U32, %lld bytes per row) with '%s' (%lld groups) is not a 4- or 8-bit "
                        "[%d x %d] matrix in groups that are a multiple of 32\n", L->dir, name, packed, scales_name,
                groups, rows, cols);
        return -1;
    }
    float *scales = group_params(L, stem, "scales", rows, (int)groups);
    float *biases = scales ? group_params(L, stem, "biases", rows, (int)groups) : NULL;
    if (biases) {
        m->dtype = repack(L->next, t->data, scales, biases, rows, cols, bits, group);
        L->next += (row_bytes(m->dtype, cols) * (size_t)rows + 63) / 64 * 64;
    }
    free(scales);
    free(biases);
    return biases ? 0 : -1;
}

static const char *hf_layer_name(const LayerTensor *t) { return t->hf_name; }   // mlx_lm keeps the Hugging Face names

static bool has_tensor(void *reader, const char *name) { return st_find(((const MlxLoader *)reader)->st, name) != NULL; }

static const char *unused_tensor(void *reader) {
    const MlxLoader *L = reader;
    for (int i = 0; i < L->st->n_tensors; i++)
        if (!L->used[i]) return L->st->tensors[i].name;
    return NULL;
}

int mlx_model_load(Model *m, const char *dir) {
    memset(m, 0, sizeof *m);
    if (mlx_register() != 0) return -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (config_load(&m->cfg, path) != 0) return -1;
    SafeTensors st;
    if (open_mlx_dir(&st, dir) != 0) return -1;
    int rc = -1;
    if (st.n_tensors < (long long)LAYER_TENSOR_COUNT * m->cfg.n_layers + 2) {
        fprintf(stderr, "%s: num_hidden_layers = %d needs more tensors than the checkpoint's %d\n", dir, m->cfg.n_layers,
                st.n_tensors);
        st_close(&st);
        return -1;
    }
    // Sized from the file: a float tensor in f32; a packed one's blocks take at most 1.5x its bytes
    // (4 bits in MLX4: 16 bytes become 24).
    size_t total = 0;
    for (int i = 0; i < st.n_tensors; i++) {
        const StTensor *t = &st.tensors[i];
        total += (t->dtype == DT_U8 ? t->nbytes / 2 * 3 : t->numel * sizeof(float)) + 64;
    }
    uint8_t *weights = model_alloc_weights(m, total, dir);
    if (weights) {
        MlxLoader L = {&st, xcalloc((size_t)st.n_tensors + 1, sizeof(bool)), weights, dir};
        const TensorSource source = {&L, dir, "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight",
                                     "model.layers.", hf_layer_name, has_tensor, load_vector, load_matrix, unused_tensor};
        rc = model_read_tensors(m, &source);
        free(L.used);
    }
    st_close(&st);
    if (rc != 0) model_free(m);
    return rc;
}
