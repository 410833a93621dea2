// M1 tests, part 5: the extension point for packed matrix formats (model.h, MatFormat). A later lab
// registers a format; model_load must then read a U8 tensor [rows, blocks, block_bytes] of it as it
// is, and without a registered format refuse it with a message. The format here is a toy made up
// for the test ("I4x8": 8 weights per 4-byte block, a nibble each), so nothing of a later lab is
// needed: the checkpoint is the synthetic tiny-mha-f32 with one matrix rewritten packed.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model.h"
#include "safetensors.h"

#define ANCHOR "book/m1-weights.md#load-layer"
#define PACKED "model.layers.0.mlp.down_proj.weight"

enum { DT_TOY = DT_EXTENSION };
static const MatFormat TOY = {DT_TOY, "I4x8", 8, 4};

static void write_all(FILE *f, const void *p, size_t n) { PS_CHECK(fwrite(p, 1, n, f) == n, "write failed"); }

// dir gets config.json and a model.safetensors in which PACKED is U8 [rows, cols/8, 4]: byte k holds
// weights 2k and 2k+1 as nibbles (any bytes would do: the loader must copy them unread).
static void make_packed_model(const char *dir, long long *packed_rows) {
    const char *src = ps_model("tiny-mha-f32");
    char cmd[1024], path[600];
    snprintf(cmd, sizeof cmd, "cp %s/config.json %s/", src, dir);
    PS_CHECK(system(cmd) == 0, "could not copy the config");
    SafeTensors st;
    snprintf(path, sizeof path, "%s/model.safetensors", src);
    PS_CHECK(st_open_file(&st, path, PS_MAP_MMAP) == 0, "cannot open %s", path);
    cJSON *header = cJSON_CreateObject();
    size_t offset = 0;
    for (int i = 0; i < st.n_tensors; i++) {
        const StTensor *t = &st.tensors[i];
        bool packed = strcmp(t->name, PACKED) == 0;
        size_t bytes = packed ? t->numel / 2 : t->nbytes;   // two weights per byte in I4x8
        cJSON *e = cJSON_AddObjectToObject(header, t->name);
        cJSON_AddStringToObject(e, "dtype", packed ? "U8" : "F32");
        double shape[3] = {(double)t->shape[0], (double)t->shape[1] / 8, 4};
        double given[2] = {(double)t->shape[0], t->ndim > 1 ? (double)t->shape[1] : 0};
        cJSON_AddItemToObject(e, "shape", packed ? cJSON_CreateDoubleArray(shape, 3) : cJSON_CreateDoubleArray(given, t->ndim));
        double span[2] = {(double)offset, (double)(offset + bytes)};
        cJSON_AddItemToObject(e, "data_offsets", cJSON_CreateDoubleArray(span, 2));
        offset += bytes;
        if (packed) *packed_rows = t->shape[0];
    }
    char *json = cJSON_PrintUnformatted(header);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "wb");
    PS_CHECK(f && json, "cannot write %s", path);
    unsigned char len[8];
    for (int b = 0; b < 8; b++) len[b] = (unsigned char)((unsigned long long)strlen(json) >> (8 * b));
    write_all(f, len, 8);
    write_all(f, json, strlen(json));
    for (int i = 0; i < st.n_tensors; i++) {
        const StTensor *t = &st.tensors[i];
        if (strcmp(t->name, PACKED) != 0) {
            write_all(f, t->data, t->nbytes);
            continue;
        }
        for (size_t k = 0; k + 1 < t->numel; k += 2) {
            float w[2];
            memcpy(w, (const unsigned char *)t->data + 4 * k, 8);
            unsigned char q = (unsigned char)((w[0] > 0 ? 9 : 7) | (w[1] > 0 ? 9 : 7) << 4);
            write_all(f, &q, 1);
        }
    }
    PS_CHECK(fclose(f) == 0, "cannot write %s", path);
    free(json);
    cJSON_Delete(header);
    st_close(&st);
}

// model_load into m with stderr captured into msg; returns model_load's result.
static int load_capturing(Model *m, const char *dir, char *msg, size_t cap) {
    char path[600];
    snprintf(path, sizeof path, "%s/stderr.txt", dir);
    fflush(stderr);
    FILE *err = freopen(path, "w", stderr);
    PS_CHECK(err != NULL, "cannot capture stderr");
    int rc = model_load(m, dir, PS_MAP_MMAP);
    fflush(stderr);
    FILE *in = fopen(path, "r");
    size_t n = in ? fread(msg, 1, cap - 1, in) : 0;
    msg[n] = '\0';
    if (in) fclose(in);
    return rc;
}

// No format registered: a U8 matrix is refused, naming the tensor.
static void t_unregistered(void) {
    const char *dir = ps_test_dir();
    long long rows = 0;
    make_packed_model(dir, &rows);
    Model m;
    char msg[2048];
    int rc = load_capturing(&m, dir, msg, sizeof msg);
    PS_CHECK(rc == -1, "model_load accepted a U8 matrix that no registered format reads");
    PS_CHECK(strstr(msg, PACKED) != NULL, "the message should name %s; got: %s", PACKED, msg);
    PS_CHECK(m.layers == NULL && m.storage == NULL, "a failed model_load must free what it allocated");
}

// Registered: the matrix comes back with the format's dtype, its bytes copied unchanged, and the
// parameter count counts its weights, not its bytes.
static void t_registered(void) {
    const char *dir = ps_test_dir();
    long long rows = 0;
    make_packed_model(dir, &rows);
    PS_CHECK(mat_format_register(&TOY) == 0, "mat_format_register refused a valid format");
    PS_CHECK(mat_format_register(&TOY) == 0, "registering the same format twice must be harmless");
    static const MatFormat CLASH = {DT_TOY + 1, "clash", 16, 4};   // same block_bytes as TOY
    fflush(stderr);
    PS_CHECK(mat_format_register(&CLASH) == -1, "two formats with 4-byte blocks cannot both be registered");
    Model m;
    char msg[2048];
    int rc = load_capturing(&m, dir, msg, sizeof msg);
    PS_CHECK(rc == 0, "model_load failed on a registered packed format: %s", msg);
    const Mat *w = &m.layers[0].w_down;
    PS_CHECK(w->dtype == DT_TOY && w->rows == rows && w->rows == m.cfg.dim && w->cols == m.cfg.ffn_dim,
             "w_down should be I4x8 [%d x %d]; got dtype %d [%d x %d]", m.cfg.dim, m.cfg.ffn_dim, w->dtype, w->rows, w->cols);
    PS_CHECK(strcmp(mat_type_name(w->dtype), "I4x8") == 0, "mat_type_name should name the format");
    SafeTensors st;
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    PS_CHECK(st_open_file(&st, path, PS_MAP_MMAP) == 0, "cannot reopen %s", path);
    const StTensor *t = st_find(&st, PACKED);
    PS_CHECK(t && memcmp(t->data, w->data, t->nbytes) == 0, "the packed bytes must be copied unchanged");
    ParamCount p = count_params(&st, &m.cfg);
    long long want = 0;
    for (int i = 0; i < st.n_tensors; i++)
        want += (long long)st.tensors[i].numel * (strcmp(st.tensors[i].name, PACKED) == 0 ? 2 : 1);
    PS_CHECK(p.stored == want, "count_params: %lld stored parameters, expected %lld (a 4-byte block holds 8 weights)",
             p.stored, want);
    st_close(&st);
    model_free(&m);
}

static const PsTest TESTS[] = {
    {"packed.unregistered", t_unregistered, ANCHOR, 60},
    {"packed.registered", t_registered, ANCHOR, 60},
};

int main(int argc, char **argv) { return ps_main("M1", TESTS, PS_COUNT(TESTS), argc, argv); }
