// GGUF in and out (solutions/m5-quantization/gguf*.c; book/appendix-formats.md): files written by
// llama.cpp's own converter (golden/gguf/, tools/oracle_gguf.py) give the logits of the
// safetensors folder they came from; protostar → GGUF → protostar gives identical logits; the
// tokenizer travels inside the file; and bad files are refused with a message naming the field.
// Given code, not a lab task, so its tests live here rather than in a lab (a lab's tests must all
// stop at the learner's TODOs).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "forward.h"
#include "gguf_model.h"
#include "harness.h"
#include "quant_model.h"
#include "stb_ds.h"

#define SYNTH "tiny-gqa2-bf16"           // the model golden/gguf/ was converted from
#define GOLDEN "golden/gguf/synth-%s.gguf"

static const int32_t IDS[] = {1, 17, 300, 42, 256, 381, 7, 99, 380, 5};
#define N_IDS ((int)(sizeof IDS / sizeof IDS[0]))

// All positions' logits of m for IDS (malloc'd).
static float *logits_of(const Model *m) {
    float *out = malloc((size_t)N_IDS * (size_t)m->cfg.vocab_size * sizeof *out);
    PS_CHECK(out && forward(m, IDS, N_IDS, out, NULL) == 0, "forward failed");
    return out;
}

static float *synth_logits(DType quant) {
    Model m;
    PS_CHECK(quant_register() == 0, "quant_register failed");
    PS_CHECK(model_load(&m, ps_model(SYNTH), PS_MAP_READ) == 0, "cannot load %s", SYNTH);
    if (quant != DT_F32) PS_CHECK(quantize_model(&m, quant, false) == 0, "quantize_model failed");
    float *l = logits_of(&m);
    model_free(&m);
    return l;
}

static float *gguf_logits(const char *path, int *vocab) {
    Model m;
    PS_CHECK(gguf_model_load(&m, path) == 0, "cannot load %s", path);
    *vocab = m.cfg.vocab_size;
    float *l = logits_of(&m);
    model_free(&m);
    return l;
}

// ---- llama.cpp's files ----

static void golden_float(const char *kind) {
    char path[128];
    snprintf(path, sizeof path, GOLDEN, kind);
    int vocab;
    float *got = gguf_logits(path, &vocab), *want = synth_logits(DT_F32);
    PS_CHECK(vocab == 384, "vocab %d", vocab);
    // f32 and bf16 hold the checkpoint's bf16 values exactly; f16 rounds some of them (few bits
    // lost on values this small), hence the tolerance.
    PS_CHECK_CLOSE(path, got, want, (size_t)N_IDS * 384, 1e-4, 0);
    free(got);
    free(want);
}
static void t_golden_f32(void) { golden_float("f32"); }
static void t_golden_bf16(void) { golden_float("bf16"); }
static void t_golden_f16(void) { golden_float("f16"); }

// Q8_0 and Q4_0: llama.cpp's blocks are M5's blocks, so the logits are protostar's own quantized
// model's, bit for bit.
static void golden_quant(const char *kind, DType type) {
    char path[128];
    snprintf(path, sizeof path, GOLDEN, kind);
    int vocab;
    float *got = gguf_logits(path, &vocab), *want = synth_logits(type);
    PS_CHECK(ps_equal_bytes(path, got, want, (size_t)N_IDS * 384 * sizeof(float)), "logits differ");
    free(got);
    free(want);
}
static void t_golden_q8_0(void) { golden_quant("q8_0", DT_Q8_0); }
static void t_golden_q4_0(void) { golden_quant("q4_0", DT_Q4_0); }

// The converter's metadata and tokenizer, read back: the config of the folder it came from, and
// the tokenizer it was given (models/tiny's first 377 tokens and its 5 added ones, renumbered).
static void t_golden_metadata(void) {
    Gguf g;
    PS_CHECK(gguf_open(&g, "golden/gguf/synth-f32.gguf") == 0, "cannot open");
    Config c;
    PS_CHECK(gguf_config(&g, &c) == 0, "gguf_config failed");
    PS_CHECK(c.dim == 64 && c.ffn_dim == 192 && c.n_layers == 3 && c.n_heads == 4 && c.n_kv_heads == 2 &&
                 c.head_dim == 32 && c.vocab_size == 384 && c.max_seq_len == 512 && c.tie_embeddings,
             "config: dim %d ffn %d layers %d heads %d/%d head_dim %d vocab %d ctx %d tied %d", c.dim, c.ffn_dim,
             c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.vocab_size, c.max_seq_len, c.tie_embeddings);
    PS_CHECK(c.rope_theta == 1e6f && c.norm_eps == 1e-6f, "theta %g eps %g", c.rope_theta, c.norm_eps);
    PS_CHECK(!gguf_find_tensor(&g, "output.weight"), "a tied model's GGUF has no output.weight");
    const GgufTensor *q = gguf_find_tensor(&g, "blk.0.attn_q.weight");
    PS_CHECK(q && q->n_dims == 2 && q->ne[0] == 64 && q->ne[1] == 128, "attn_q is ne {cols 64, rows 128}");
    Tokenizer *t = gguf_tokenizer_from(&g), *tiny = tokenizer_load("models/tiny");
    PS_CHECK(t && tiny, "tokenizers did not load");
    PS_CHECK(tokenizer_vocab_size(t) == 382, "vocab %d", tokenizer_vocab_size(t));
    for (int32_t id = 0; id < 377; id++)
        PS_CHECK(strcmp(tokenizer_token_text(t, id), tokenizer_token_text(tiny, id)) == 0, "token %d", id);
    for (int32_t k = 0; k < 5; k++)
        PS_CHECK(strcmp(tokenizer_token_text(t, 377 + k), tokenizer_token_text(tiny, 6000 + k)) == 0, "added %d", k);
    PS_CHECK(t->n_merges == 121, "merges %d", t->n_merges);
    int32_t *ids = NULL;
    const char *text = "<|im_start|>the thing<|im_end|>";
    PS_CHECK(tokenizer_encode(t, text, strlen(text), true, &ids) == 0, "encode failed");
    PS_CHECK(arrlen(ids) >= 4 && ids[0] == 378 && ids[arrlen(ids) - 1] == 379, "special tokens by id");
    char *back = NULL;
    PS_CHECK(tokenizer_decode(t, ids, (size_t)arrlen(ids), &back) == 0, "decode failed");
    PS_CHECK((size_t)arrlen(back) == strlen(text) && memcmp(back, text, strlen(text)) == 0, "decode(encode) differs");
    arrfree(ids);
    arrfree(back);
    tokenizer_free(t);
    tokenizer_free(tiny);
    gguf_close(&g);
}

// ---- protostar → GGUF → protostar ----

static void roundtrip(DType type) {
    Model m, back;
    PS_CHECK(quant_register() == 0, "quant_register failed");
    PS_CHECK(model_load(&m, "models/tiny", PS_MAP_READ) == 0, "cannot load models/tiny");
    if (type != DT_F32) PS_CHECK(quantize_model(&m, type, false) == 0, "quantize_model failed");
    Tokenizer *tok = tokenizer_load("models/tiny");
    PS_CHECK(tok, "tokenizer");
    char path[512], again[512];
    const GgufWriteInfo info = {.name = "tiny", .chat_template = "{{ messages }}", .eos_id = 6002, .pad_id = 6000};
    snprintf(path, sizeof path, "%s/tiny.gguf", ps_test_dir());
    snprintf(again, sizeof again, "%s/again.gguf", ps_test_dir());
    PS_CHECK(gguf_write(path, &m, tok, &info, false) == 0, "gguf_write failed");
    PS_CHECK(gguf_model_load(&back, path) == 0, "cannot load the written file");
    Gguf g;
    PS_CHECK(gguf_open(&g, path) == 0, "reopen");
    const GgufKV *tmpl = gguf_find_kv(&g, "tokenizer.chat_template"), *pad = gguf_find_kv(&g, "tokenizer.ggml.padding_token_id");
    PS_CHECK(tmpl && tmpl->str.len == 14 && memcmp(tmpl->str.ptr, "{{ messages }}", 14) == 0 && pad && pad->u == 6000,
             "chat template and padding id");
    gguf_close(&g);
    float *want = logits_of(&m), *got = logits_of(&back);
    size_t n = (size_t)N_IDS * (size_t)m.cfg.vocab_size;
    PS_CHECK(ps_equal_bytes("logits", got, want, n * sizeof(float)), "round trip changed the logits");
    // Written again from what was read, the file is the same byte for byte.
    PS_CHECK(gguf_write(again, &back, tok, &info, false) == 0, "second gguf_write failed");
    PsFile a, b;
    PS_CHECK(ps_file_open(&a, path, PS_MAP_READ) == 0 && ps_file_open(&b, again, PS_MAP_READ) == 0, "reopen");
    PS_CHECK(a.size == b.size && ps_equal_bytes("file", a.data, b.data, a.size), "files differ");
    ps_file_close(&a);
    ps_file_close(&b);
    // The tokenizer inside encodes like tokenizer.json.
    Tokenizer *inside = gguf_tokenizer_load(path);
    PS_CHECK(inside, "no tokenizer in the file");
    const char *texts[] = {"In the beginning God created the heaven and the earth.",
                           "<|im_start|>user\nWho art thou?<|im_end|>\n<think>\n\n</think>", "  \t1234 ÆØÅ naïve"};
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        int32_t *x = NULL, *y = NULL;
        PS_CHECK(tokenizer_encode(tok, texts[k], strlen(texts[k]), true, &x) == 0 &&
                     tokenizer_encode(inside, texts[k], strlen(texts[k]), true, &y) == 0, "encode");
        PS_CHECK_IDS(texts[k], y, (size_t)arrlen(y), x, (size_t)arrlen(x));
        arrfree(x);
        arrfree(y);
    }
    PS_CHECK(gguf_write(path, &m, tok, &info, false) != 0, "an existing file must not be replaced without --force");
    free(want);
    free(got);
    tokenizer_free(inside);
    tokenizer_free(tok);
    model_free(&m);
    model_free(&back);
}
static void t_roundtrip_f32(void) { roundtrip(DT_F32); }
static void t_roundtrip_q8_0(void) { roundtrip(DT_Q8_0); }
static void t_roundtrip_q4_0(void) { roundtrip(DT_Q4_0); }

// gguf_write's stand-in for path (shared/atomic_file.h): it must never be left behind.
static void no_partial_left(const char *path) {
    char partial[600];
    snprintf(partial, sizeof partial, "%s.partial-%ld", path, (long)getpid());
    FILE *f = fopen(partial, "rb");
    PS_CHECK(!f, "%s was left behind", partial);
}

static void t_refuses_q4a(void) {
    Model m;
    PS_CHECK(quant_register() == 0 && model_load(&m, ps_model(SYNTH), PS_MAP_READ) == 0, "load");
    PS_CHECK(quantize_model(&m, DT_Q4A, false) == 0, "quantize_model failed");
    char path[512];
    snprintf(path, sizeof path, "%s/q4a.gguf", ps_test_dir());
    const GgufWriteInfo info = {.name = "q4a", .eos_id = -1, .pad_id = -1};
    PsCapture cap;
    ps_capture_begin(&cap, 2);
    int rc = gguf_write(path, &m, NULL, &info, false);
    char *msg = ps_capture_end(&cap);
    PS_CHECK(rc != 0 && strstr(msg, "Q4A"), "message: %s", msg);
    FILE *f = fopen(path, "rb");
    PS_CHECK(!f, "nothing may be left at the output path");
    no_partial_left(path);
    free(msg);
    // With --force over a file that is there: a failed write leaves it as it was.
    const char old[] = "the file that was there";
    f = fopen(path, "wb");
    PS_CHECK(f && fwrite(old, 1, sizeof old, f) == sizeof old && fclose(f) == 0, "cannot write %s", path);
    ps_capture_begin(&cap, 2);
    rc = gguf_write(path, &m, NULL, &info, true);
    free(ps_capture_end(&cap));
    char got[sizeof old + 8] = {0};
    f = fopen(path, "rb");
    const size_t n = f ? fread(got, 1, sizeof got, f) : 0;
    if (f) fclose(f);
    PS_CHECK(rc != 0 && n == sizeof old && !memcmp(got, old, sizeof old), "a failed write replaced %s", path);
    no_partial_left(path);
    model_free(&m);
}

// A path that is there and is not a plain file is written in place, not renamed over: here a
// symbolic link stays a link, and the file it names gets the bytes (a device such as /dev/null
// is the same case; a rename over it would replace the device).
static void t_in_place(void) {
    Model m;
    PS_CHECK(quant_register() == 0 && model_load(&m, ps_model(SYNTH), PS_MAP_READ) == 0, "load");
    PS_CHECK(quantize_model(&m, DT_Q8_0, false) == 0, "quantize_model failed");
    char target[512], link[512];
    snprintf(target, sizeof target, "%s/in-place-target.gguf", ps_test_dir());
    snprintf(link, sizeof link, "%s/in-place-link.gguf", ps_test_dir());
    remove(link);
    FILE *f = fopen(target, "wb");
    PS_CHECK(f && fclose(f) == 0 && symlink("in-place-target.gguf", link) == 0, "cannot make %s", link);
    PsCapture cap;
    ps_capture_begin(&cap, 2);
    const int rc = gguf_write(link, &m, NULL, &(GgufWriteInfo){.name = "link", .eos_id = -1, .pad_id = -1}, true);
    char *msg = ps_capture_end(&cap);
    PS_CHECK(rc == 0, "gguf_write through a link failed: %s", msg);
    struct stat st;
    PS_CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "%s is no longer a link: it was renamed over", link);
    char magic[4] = {0};
    f = fopen(target, "rb");
    PS_CHECK(f && fread(magic, 1, 4, f) == 4 && !memcmp(magic, "GGUF", 4), "the file behind the link got no GGUF");
    fclose(f);
    no_partial_left(link);
    free(msg);
    model_free(&m);
}


// ---- the command line ----

// Runs `sh -c cmd`, returns its stdout (malloc'd); the exit status must be 0.
static char *run(const char *cmd) {
    FILE *p = popen(cmd, "r");
    PS_CHECK(p, "cannot run %s", cmd);
    size_t n = 0, cap = 1 << 16;
    char *out = malloc(cap);
    PS_CHECK(out, "out of memory");
    size_t got;
    while ((got = fread(out + n, 1, cap - 1 - n, p)) > 0) n += got;
    out[n] = '\0';
    int status = pclose(p);
    PS_CHECK(status == 0, "`%s` failed (status %d): %s", cmd, status, out);
    return out;
}

// `quantize --gguf` then `generate -m FILE.gguf`: the same text as the quantized folder gives, with
// no other file; and an mlx_lm folder through `generate -m DIR`.
static void t_cli(void) {
    const char *bin = getenv("PS_PROTOSTAR");
    if (!bin || !*bin) bin = "build/protostar";   // tools/check.sh sets PS_PROTOSTAR to its build's
    FILE *f = fopen(bin, "rb");
    if (!f) PS_SKIP("no %s (make builds it)", bin);
    fclose(f);
    const char *d = ps_test_dir();
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s quantize -m models/tiny --type q8_0 --gguf %s/tiny.gguf 2>&1 && "
                              "%s quantize -m models/tiny --type q8_0 -o %s/tiny-q8 2>&1", bin, d, bin, d);
    free(run(cmd));
    snprintf(cmd, sizeof cmd, "%s generate -m %s/tiny.gguf -p 'In the beginning' -n 16 --temp 0 2>/dev/null", bin, d);
    char *from_gguf = run(cmd);
    snprintf(cmd, sizeof cmd, "%s generate -m %s/tiny-q8 -p 'In the beginning' -n 16 --temp 0 2>/dev/null", bin, d);
    char *from_dir = run(cmd);
    PS_CHECK(strlen(from_gguf) > 20 && strcmp(from_gguf, from_dir) == 0, "gguf: [%s]\ndir:  [%s]", from_gguf, from_dir);
    snprintf(cmd, sizeof cmd, "%s generate -m golden/mlx/q8g32 --ids '1 2 3' --print-ids -n 8 --temp 0 2>/dev/null", bin);
    char *mlx = run(cmd);
    snprintf(cmd, sizeof cmd, "%s generate -m golden/mlx/q8g32-dequant --ids '1 2 3' --print-ids -n 8 --temp 0 2>/dev/null",
             bin);
    char *deq = run(cmd);
    PS_CHECK(strlen(mlx) > 5 && strcmp(mlx, deq) == 0, "mlx: [%s]\ndequantized: [%s]", mlx, deq);
    free(from_gguf);
    free(from_dir);
    free(mlx);
    free(deq);
}

static const PsTest TESTS[] = {
    {"gguf.golden_f32", t_golden_f32, "book/appendix-formats.md#gguf", 0},
    {"gguf.golden_bf16", t_golden_bf16, "book/appendix-formats.md#gguf", 0},
    {"gguf.golden_f16", t_golden_f16, "book/appendix-formats.md#gguf", 0},
    {"gguf.golden_q8_0", t_golden_q8_0, "book/appendix-formats.md#gguf", 0},
    {"gguf.golden_q4_0", t_golden_q4_0, "book/appendix-formats.md#gguf", 0},
    {"gguf.golden_metadata", t_golden_metadata, "book/appendix-formats.md#gguf", 0},
    {"gguf.roundtrip_f32", t_roundtrip_f32, "book/appendix-formats.md#gguf-out", 0},
    {"gguf.roundtrip_q8_0", t_roundtrip_q8_0, "book/appendix-formats.md#gguf-out", 0},
    {"gguf.roundtrip_q4_0", t_roundtrip_q4_0, "book/appendix-formats.md#gguf-out", 0},
    {"gguf.refuses_q4a", t_refuses_q4a, "book/appendix-formats.md#gguf-out", 0},
    {"gguf.in-place", t_in_place, "book/appendix-formats.md#gguf-out", 0},
    {"gguf.cli", t_cli, "book/appendix-formats.md#gguf-out", 60},
};

int main(int argc, char **argv) { return ps_main("gguf", TESTS, PS_COUNT(TESTS), argc, argv); }
