// M1 tests, part 1: the safetensors reader, on small files crafted here. A good file must parse to
// exactly what was written; every kind of damage must be refused with a message that names the file
// and the tensor, never a crash (the harness turns a crash into FAIL).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "safetensors.h"

#define ANCHOR(task) "book/m1-weights.md#" task

// A file in this test's own directory (the harness removes it when the test ends).
static const char *tmp_path(const char *name) {
    static char path[700];
    snprintf(path, sizeof path, "%s/%s", ps_test_dir(), name);
    return path;
}

// Writes [u64 header_len][header][data] with header_len as given (so it can lie).
static void write_raw(const char *path, unsigned long long header_len, const char *header, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    PS_CHECK(f != NULL, "cannot write %s", path);
    for (int i = 0; i < 8; i++) fputc((int)(header_len >> (8 * i)) & 0xff, f);
    fwrite(header, 1, strlen(header), f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static void write_st(const char *path, const char *header, const void *data, size_t n) {
    write_raw(path, strlen(header), header, data, n);
}

// The file must be refused with a message containing each of the given fragments.
static void expect_refused(const char *path, const char *frag1, const char *frag2) {
    SafeTensors st;
    PsCapture err;
    ps_capture_begin(&err, 2);
    int rc = st_open_file(&st, path, PS_MAP_MMAP);
    char *msg = ps_capture_end(&err);
    PS_CHECK(rc == -1, "st_open_file accepted a bad file %s (expected an error mentioning '%s')", path, frag1);
    PS_CHECK(st.n_tensors == 0 && st.tensors == NULL && st.n_files == 0, "st must be left empty after an error");
    PS_CHECK(strstr(msg, path) != NULL, "the message must name the file %s; got: %s", path, msg);
    PS_CHECK(strstr(msg, frag1) != NULL, "the message should mention '%s'; got: %s", frag1, msg);
    if (frag2) PS_CHECK(strstr(msg, frag2) != NULL, "the message should mention '%s'; got: %s", frag2, msg);
    free(msg);
}

static void t_good(void) {
    // 6 f32 + 4 bf16 + 1 f16 (a scalar) = 24 + 8 + 2 bytes
    unsigned char data[34];
    for (int i = 0; i < 34; i++) data[i] = (unsigned char)(i * 7 + 1);
    const char *header = "{\"__metadata__\":{\"format\":\"pt\"},"
                         "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[24,32]},"
                         "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                         "\"s\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[32,34]}}";
    const char *path = tmp_path("good.safetensors");
    write_st(path, header, data, sizeof data);
    for (int mode = 0; mode < 2; mode++) {
        SafeTensors st;
        PS_CHECK(st_open_file(&st, path, mode ? PS_MAP_READ : PS_MAP_MMAP) == 0, "a valid file was refused");
        PS_CHECK(st.n_tensors == 3, "expected 3 tensors (__metadata__ is not one), got %d", st.n_tensors);
        const StTensor *a = st_find(&st, "a"), *b = st_find(&st, "b"), *s = st_find(&st, "s");
        PS_CHECK(a && b && s, "tensors a, b, s must all be found");
        PS_CHECK(st_find(&st, "__metadata__") == NULL && st_find(&st, "c") == NULL, "only real tensors exist");
        PS_CHECK(a->dtype == DT_F32 && a->ndim == 2 && a->shape[0] == 2 && a->shape[1] == 3, "a: F32 [2, 3]");
        PS_CHECK(a->numel == 6 && a->nbytes == 24, "a: 6 elements, 24 bytes (got %zu, %zu)", a->numel, a->nbytes);
        PS_CHECK(b->dtype == DT_BF16 && b->ndim == 1 && b->numel == 4 && b->nbytes == 8, "b: BF16 [4]");
        PS_CHECK(s->dtype == DT_F16 && s->ndim == 0 && s->numel == 1 && s->nbytes == 2, "s: an F16 scalar has 1 element");
        PS_CHECK_BYTES("a's data", a->data, data, 24);
        PS_CHECK_BYTES("b's data", b->data, data + 24, 8);
        PS_CHECK_BYTES("s's data", s->data, data + 32, 2);
        st_close(&st);
        PS_CHECK(st.n_tensors == 0 && st.tensors == NULL, "st_close must leave st empty");
    }
}

static void t_truncated(void) {
    const char *path = tmp_path("short.safetensors");
    FILE *f = fopen(path, "wb");
    fwrite("\x10\0\0", 1, 3, f);
    fclose(f);
    expect_refused(path, "too short", NULL);
}

static void t_header_past_eof(void) {
    const char *path = tmp_path("header.safetensors");
    write_raw(path, 4096, "{}", NULL, 0);   // claims 4 KiB of header, holds 2 bytes
    expect_refused(path, "header length 4096", "past the end");
    write_raw(path, 0xffffffffffffffffull, "{}", NULL, 0);   // would overflow 8 + length
    expect_refused(path, "header length", "past the end");
}

static void t_offsets_past_eof(void) {
    const char *path = tmp_path("offsets.safetensors");
    float data[4] = {1, 2, 3, 4};
    write_st(path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[0,64]}}", data, sizeof data);
    expect_refused(path, "'w'", "past the end");
}

static void t_unknown_dtype(void) {
    const char *path = tmp_path("dtype.safetensors");
    char data[8] = {0};
    write_st(path, "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                   "\"q\":{\"dtype\":\"I7\",\"shape\":[4],\"data_offsets\":[4,8]}}", data, sizeof data);
    expect_refused(path, "'q'", "unknown dtype");
}

static void t_size_mismatch(void) {
    const char *path = tmp_path("size.safetensors");
    char data[24] = {0};
    write_st(path, "{\"m\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", data, sizeof data);
    expect_refused(path, "'m'", "24 bytes");
    write_st(path, "{\"m\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,24]}}", data, sizeof data);
    expect_refused(path, "'m'", "shape");
    write_st(path, "{\"m\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[24,0]}}", data, sizeof data);
    expect_refused(path, "'m'", "offsets");
    write_st(path, "{\"m\":{\"dtype\":\"F32\",\"shape\":[6]}}", data, sizeof data);
    expect_refused(path, "'m'", "data_offsets");
}

static void t_malformed_json(void) {
    const char *path = tmp_path("json.safetensors");
    write_st(path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],", NULL, 0);
    expect_refused(path, "malformed JSON", NULL);
    write_st(path, "[1, 2, 3]", NULL, 0);
    expect_refused(path, "JSON object", NULL);
}

static void t_overlap(void) {
    const char *path = tmp_path("overlap.safetensors");
    char data[24] = {0};
    write_st(path, "{\"first\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                   "\"second\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", data, sizeof data);
    expect_refused(path, "overlap", "'second'");
}

// A real checkpoint cut in half, as an interrupted download leaves it.
static void t_cut_download(void) {
    char src[300];
    snprintf(src, sizeof src, "%s/model.safetensors", ps_model("tiny-mha-f32"));
    FILE *in = fopen(src, "rb");
    PS_CHECK(in != NULL, "cannot read %s", src);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, in);
    fclose(in);
    const char *path = tmp_path("cut.safetensors");
    FILE *out = fopen(path, "wb");
    fwrite(buf, 1, n / 2, out);
    fclose(out);
    expect_refused(path, "past the end", "tensor");
}

static void t_sharded(void) {
    float a[2] = {1, 2}, b[3] = {3, 4, 5};
    char p1[700], p2[700];
    const char *dir = ps_test_dir();
    snprintf(p1, sizeof p1, "%s", tmp_path("model-00001-of-00002.safetensors"));
    snprintf(p2, sizeof p2, "%s", tmp_path("model-00002-of-00002.safetensors"));
    write_st(p1, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", a, sizeof a);
    write_st(p2, "{\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", b, sizeof b);
    FILE *f = fopen(tmp_path("model.safetensors.index.json"), "w");
    fprintf(f, "{\"metadata\":{\"total_size\":20},\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
               "\"b\":\"model-00002-of-00002.safetensors\"}}");
    fclose(f);
    SafeTensors st;
    PS_CHECK(st_open_dir(&st, dir, PS_MAP_MMAP) == 0, "a valid sharded checkpoint in %s was refused", dir);
    PS_CHECK(st.n_files == 2 && st.n_tensors == 2, "2 shards, 2 tensors (got %d, %d)", st.n_files, st.n_tensors);
    const StTensor *ta = st_find(&st, "a"), *tb = st_find(&st, "b");
    PS_CHECK(ta && tb && ta->file != tb->file, "a and b come from different shards");
    PS_CHECK_BYTES("a", ta->data, a, sizeof a);
    PS_CHECK_BYTES("b", tb->data, b, sizeof b);
    st_close(&st);
    // an index that promises a tensor its shard does not hold
    f = fopen(tmp_path("model.safetensors.index.json"), "w");
    fprintf(f, "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00001-of-00002.safetensors\"}}");
    fclose(f);
    PS_CHECK(st_open_dir(&st, dir, PS_MAP_MMAP) == -1, "an index pointing at the wrong shard must be refused");
}

static const PsTest TESTS[] = {
    {"safetensors.good", t_good, ANCHOR("tensor-entry"), 0},
    {"safetensors.truncated", t_truncated, ANCHOR("header-length"), 0},
    {"safetensors.header-past-eof", t_header_past_eof, ANCHOR("header-length"), 0},
    {"safetensors.offsets-past-eof", t_offsets_past_eof, ANCHOR("tensor-entry"), 0},
    {"safetensors.unknown-dtype", t_unknown_dtype, ANCHOR("tensor-entry"), 0},
    {"safetensors.size-mismatch", t_size_mismatch, ANCHOR("tensor-entry"), 0},
    {"safetensors.malformed-json", t_malformed_json, ANCHOR("header-length"), 0},
    {"safetensors.overlap", t_overlap, ANCHOR("tensor-overlap"), 0},
    {"safetensors.cut-download", t_cut_download, ANCHOR("header-length"), 60},
    {"safetensors.sharded", t_sharded, ANCHOR("tensor-entry"), 0},
};

int main(int argc, char **argv) { return ps_main("M1", TESTS, PS_COUNT(TESTS), argc, argv); }
