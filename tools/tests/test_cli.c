// The command line against bad input (issue 12's catalogue), through the real binary: each case
// crafts its files in the test's directory, runs `protostar ...`, and checks the exit status, the
// words the message must contain, and that no sanitizer report or signal ended it. A case that
// crashed before its fix is named after what it was.
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "mapfile.h"
#include "tokenizer.h"
#include "unicode.h"

#define SYNTH "build/models/tiny-gqa2-bf16"   // made by `make synth` (make test does it first)
#define TINY "models/tiny"                    // the committed model, with a tokenizer

// snprintf into a char array, failing the test when the text does not fit.
__attribute__((format(printf, 3, 4))) static void path_printf(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    PS_CHECK(n >= 0 && (size_t)n < cap, "path too long: %s...", buf);
}
#define PATH_PRINTF(buf, ...) path_printf(buf, sizeof buf, __VA_ARGS__)

// $PS_PROTOSTAR picks the binary of another build (tools/check.sh passes its build's).
static const char *protostar(void) {
    const char *p = getenv("PS_PROTOSTAR");
    return p && *p ? p : "build/protostar";
}

// ---- crafting files ----

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    PS_CHECK(f != NULL, "cannot write %s", path);
    PS_CHECK(fwrite(data, 1, n, f) == n && fclose(f) == 0, "cannot write %s", path);
}

static void write_text(const char *dir, const char *name, const char *text) {
    char path[512];
    PATH_PRINTF(path, "%s/%s", dir, name);
    write_file(path, text, strlen(text));
}

static char *read_all(const char *path, size_t *len) {
    char *text = ps_read_text(path, len);
    PS_CHECK(text != NULL, "cannot read %s", path);
    return text;
}

static void copy_in(const char *from_dir, const char *name, const char *dir) {
    char path[512];
    size_t len;
    PATH_PRINTF(path, "%s/%s", from_dir, name);
    char *data = read_all(path, &len);
    PATH_PRINTF(path, "%s/%s", dir, name);
    write_file(path, data, len);
    free(data);
}

static cJSON *read_json(const char *path) {
    char *text = read_all(path, NULL);
    cJSON *root = cJSON_Parse(text);
    free(text);
    PS_CHECK(root != NULL, "%s is not JSON", path);
    return root;
}

static void write_json(const char *dir, const char *name, const cJSON *root) {
    char *text = cJSON_PrintUnformatted(root);
    write_text(dir, name, text);
    free(text);
}

// SYNTH's config.json with one number changed (`key` may be "outer.inner").
static void config_with(const char *dir, const char *key, double value) {
    cJSON *root = read_json(SYNTH "/config.json");
    char outer[64];
    const char *dot = strchr(key, '.');
    cJSON *obj = root;
    if (dot) {
        PATH_PRINTF(outer, "%.*s", (int)(dot - key), key);
        obj = cJSON_GetObjectItemCaseSensitive(root, outer);
        key = dot + 1;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    cJSON_AddNumberToObject(obj, key, value);
    write_json(dir, "config.json", root);
    cJSON_Delete(root);
}

// SYNTH's model.safetensors with its header edited by `edit` (the data section kept as it is).
static void safetensors_with(const char *dir, void (*edit)(cJSON *header)) {
    size_t len;
    unsigned char *file = (unsigned char *)read_all(SYNTH "/model.safetensors", &len);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--) header_len = header_len << 8 | file[i];
    cJSON *header = cJSON_ParseWithLength((const char *)file + 8, (size_t)header_len);
    PS_CHECK(header != NULL, "cannot parse " SYNTH "'s header");
    edit(header);
    char *json = cJSON_PrintUnformatted(header);
    size_t n = strlen(json), data = len - 8 - (size_t)header_len;
    unsigned char *out = malloc(8 + n + data);
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(out + 8, json, n);
    memcpy(out + 8 + n, file + 8 + header_len, data);
    char path[512];
    PATH_PRINTF(path, "%s/model.safetensors", dir);
    write_file(path, out, 8 + n + data);
    free(out);
    free(json);
    cJSON_Delete(header);
    free(file);
}

static void add_tensor(cJSON *header, const char *name, int dim0, double begin, double end) {
    cJSON *t = cJSON_AddObjectToObject(header, name);
    cJSON_AddStringToObject(t, "dtype", "F32");
    cJSON *shape = cJSON_AddArrayToObject(t, "shape");
    cJSON_AddItemToArray(shape, cJSON_CreateNumber(dim0));
    cJSON *offsets = cJSON_AddArrayToObject(t, "data_offsets");
    cJSON_AddItemToArray(offsets, cJSON_CreateNumber(begin));
    cJSON_AddItemToArray(offsets, cJSON_CreateNumber(end));
}
static void edit_zero_byte_extra(cJSON *h) { add_tensor(h, "extra.empty", 0, 8, 8); }
static void edit_lying_offsets(cJSON *h) { add_tensor(h, "extra.far", 2, 1e12, 1e12 + 8); }

// ---- the crafters: each fills the case's directory ----

static void craft_empty_weight_map(const char *d) {
    copy_in(SYNTH, "config.json", d);
    write_text(d, "model.safetensors.index.json", "{\"weight_map\": {}}");
}
static void craft_billion_layers(const char *d) {
    config_with(d, "num_hidden_layers", 1e9);
    copy_in(SYNTH, "model.safetensors", d);
}
static void craft_many_layers(const char *d) {   // fits every int product; the file refutes it
    config_with(d, "num_hidden_layers", 1e8);
    copy_in(SYNTH, "model.safetensors", d);
}
static void craft_tiny_rope_theta(const char *d) {
    config_with(d, "rope_parameters.rope_theta", 1e-50);
    copy_in(SYNTH, "model.safetensors", d);
}
static void craft_huge_norm_eps(const char *d) {
    config_with(d, "rms_norm_eps", 1e39);
    copy_in(SYNTH, "model.safetensors", d);
}
static void craft_head_product_overflow(const char *d) {
    cJSON *root = read_json(SYNTH "/config.json");
    const char *keys[] = {"num_attention_heads", "num_key_value_heads", "head_dim"};
    for (int i = 0; i < 3; i++) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, keys[i]);
        cJSON_AddNumberToObject(root, keys[i], 65536);
    }
    write_json(d, "config.json", root);
    cJSON_Delete(root);
    copy_in(SYNTH, "model.safetensors", d);
}
static void craft_malformed_config(const char *d) {
    write_text(d, "config.json", "{\"hidden_size\": 64, \"num_hidden_layers\": ");
    copy_in(SYNTH, "model.safetensors", d);
}
// The fuzzers' model whose Q4_0 block scales are NaN or huge: its activations stop being numbers.
static void craft_nan_weights(const char *d) {
    write_text(d, "config.json",
               "{\"model_type\": \"qwen3\", \"hidden_size\": 32, \"intermediate_size\": 64, \"num_hidden_layers\": 1,"
               " \"num_attention_heads\": 1, \"num_key_value_heads\": 1, \"head_dim\": 8, \"vocab_size\": 8,"
               " \"max_position_embeddings\": 64, \"rms_norm_eps\": 1e-06, \"rope_theta\": 10000.0,"
               " \"tie_word_embeddings\": true}");
    size_t len;
    char *data = read_all("tools/fuzz/regressions/model_load/ub-nan-block-scales-q4_0-avx2", &len);
    char path[512];
    PATH_PRINTF(path, "%s/model.safetensors", d);
    write_file(path, data, len);
    free(data);
}
static void craft_junk_after_header(const char *d) {
    copy_in(SYNTH, "config.json", d);
    static const char file[] = "\x17\0\0\0\0\0\0\0{\"__metadata__\":{}}junk";   // 23 header bytes
    char path[512];
    PATH_PRINTF(path, "%s/model.safetensors", d);
    write_file(path, file, sizeof file - 1);
}
static void craft_zero_byte_extra(const char *d) {
    copy_in(SYNTH, "config.json", d);
    safetensors_with(d, edit_zero_byte_extra);
}
static void craft_lying_offsets(const char *d) {
    copy_in(SYNTH, "config.json", d);
    safetensors_with(d, edit_lying_offsets);
}
static void craft_truncated(const char *d) {
    copy_in(SYNTH, "config.json", d);
    size_t len;
    char *data = read_all(SYNTH "/model.safetensors", &len);
    char path[512];
    PATH_PRINTF(path, "%s/model.safetensors", d);
    write_file(path, data, len / 2);
    free(data);
}
static void craft_bad_merge(const char *d) {   // leaked the merge buffer before the fix (LSan)
    cJSON *root = read_json(TINY "/tokenizer.json");
    cJSON *merges = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "model"), "merges");
    cJSON_AddItemToArray(merges, cJSON_CreateNumber(7));
    write_json(d, "tokenizer.json", root);
    cJSON_Delete(root);
}
// SYNTH (384 ids) with a tokenizer of the 256 byte tokens only: ids 256..383 have no text.
static void craft_small_tokenizer(const char *d) {
    copy_in(SYNTH, "config.json", d);
    copy_in(SYNTH, "model.safetensors", d);
    cJSON *root = read_json(TINY "/tokenizer.json");
    cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model"), *vocab = cJSON_CreateObject();
    uint32_t byte_to_char[256];
    bytelevel_alphabet(byte_to_char);
    for (int b = 0; b < 256; b++) {
        uint8_t utf8[5] = {0};
        utf8_encode(byte_to_char[b], utf8);
        cJSON_AddNumberToObject(vocab, (const char *)utf8, b);
    }
    cJSON_ReplaceItemInObjectCaseSensitive(model, "vocab", vocab);
    cJSON_ReplaceItemInObjectCaseSensitive(model, "merges", cJSON_CreateArray());
    cJSON_ReplaceItemInObjectCaseSensitive(root, "added_tokens", cJSON_CreateArray());
    write_json(d, "tokenizer.json", root);
    cJSON_Delete(root);
}
static void craft_other_model_in_out(const char *d) {
    char out[512];
    PATH_PRINTF(out, "%s/Q", d);
    PS_CHECK(mkdir(out, 0755) == 0, "mkdir %s", out);
    write_text(out, "config.json", "{\"another\": \"model\"}");
}

// ---- the table ----

typedef struct {
    const char *name;
    void (*craft)(const char *dir);  // NULL: nothing to craft
    const char *args;                // after `protostar`; @D is the case's directory
    const char *input;               // stdin (NULL: empty)
    int want_status;
    const char *err_words[3];        // each must appear in stderr
    const char *out_words[2];        // each must appear in stdout
} Case;

static const Case CASES[] = {
    // issue 12, item 2..7
    {"empty-weight-map", craft_empty_weight_map, "generate -m @D --ids \"1 2\" -n 2", NULL, 1, {"weight_map", "no tensors"}, {0}},
    {"empty-weight-map-logits", craft_empty_weight_map, "logits -m @D --ids 1 -o @D/x", NULL, 1, {"no tensors"}, {0}},
    {"n-int-max", NULL, "generate -m " SYNTH " --ids \"1 2\" -n 2147483647 --ctx 8 --temp 0 --print-ids", NULL, 0,
     {"context full"}, {0}},
    {"chat-n-int-max", NULL, "chat -m " TINY " -n 2147483647 --ctx 40 --temp 0", "hello\n", 0, {"context full"}, {0}},
    {"billion-layers", craft_billion_layers, "generate -m @D --ids 1 -n 1", NULL, 1, {"num_hidden_layers", "too large"}, {0}},
    {"layers-beyond-file", craft_many_layers, "generate -m @D --ids 1 -n 1", NULL, 1,
     {"num_hidden_layers", "needs at least", "tensors"}, {0}},
    {"rope-theta-1e-50", craft_tiny_rope_theta, "generate -m @D --ids 1 -n 1", NULL, 1, {"rope_theta", "float"}, {0}},
    {"norm-eps-1e39", craft_huge_norm_eps, "logits -m @D --ids 1 -o @D/x", NULL, 1, {"rms_norm_eps", "float"}, {0}},
    {"heads-x-head-dim", craft_head_product_overflow, "inspect @D --quick", NULL, 1, {"head_dim", "too large"}, {0}},
    {"malformed-merge", craft_bad_merge, "tokenize -t @D", "hi", 1, {"merge", "neither"}, {0}},
    {"nan-logits", craft_nan_weights, "generate -m @D --ids \"1 2 3\" -n 4", NULL, 1, {"not numbers", "weights"}, {0}},
    {"junk-after-header", craft_junk_after_header, "inspect @D --quick", NULL, 1, {"other than JSON"}, {0}},
    {"zero-byte-extra-tensor", craft_zero_byte_extra, "generate -m @D --ids 1 -n 1", NULL, 1,
     {"unexpected tensor", "extra.empty"}, {0}},
    {"logits-past-context", NULL, "logits -m " SYNTH " @600 -o @D/x", NULL, 1, {"context", "512"}, {0}},
    {"id-tokenizer-lacks", craft_small_tokenizer,
     "generate -m @D --ids \"72 105\" -n 60 --temp 100 --top-k 0 --min-p 0 --top-p 1 --seed 7", NULL, 0,
     {"tokenizer lacks", "<unk:"}, {"<unk:"}},
    {"repeat-penalty-tiny", NULL, "generate -m " SYNTH " --ids 1 --repeat-penalty 1e-38", NULL, 2,
     {"--repeat-penalty", "out of range", "0.01..100"}, {0}},
    {"quantize-bad-input", craft_malformed_config, "quantize -m @D -o @D/Q --type q8_0", NULL, 1, {"malformed"}, {0}},
    {"quantize-other-model", craft_other_model_in_out, "quantize -m " SYNTH " -o @D/Q --type q8_0", NULL, 1,
     {"already exists", "--force"}, {0}},
    // more bad input
    {"truncated-safetensors", craft_truncated, "generate -m @D --ids 1 -n 1", NULL, 1, {"truncated"}, {0}},
    {"lying-offsets", craft_lying_offsets, "generate -m @D --ids 1 -n 1", NULL, 1, {"extra.far", "past the end"}, {0}},
    {"malformed-config", craft_malformed_config, "generate -m @D --ids 1 -n 1", NULL, 1, {"config.json", "malformed"}, {0}},
    {"invalid-utf8-prompt", NULL, "generate -m " TINY " -p \"\xff\xfe\" -n 1", NULL, 1, {"not valid UTF-8"}, {0}},
    {"prompt-past-context", NULL, "generate -m " SYNTH " --ids \"1 2 3 4 5\" --ctx 3 --print-ids", NULL, 1,
     {"prompt has 5 tokens", "context holds 3"}, {0}},
    {"logits-unknown-id", NULL, "logits -m " SYNTH " --ids \"1 99999\" -o @D/x", NULL, 1, {"99999", "out of range"}, {0}},
    {"bad-ids-grammar", NULL, "logits -m " SYNTH " --ids \"1 -2\" -o @D/x", NULL, 2, {"\"-2\"", "not a token id"}, {0}},
    {"detokenize-bad-id", NULL, "detokenize -t " TINY, "12 x3", 1, {"\"x3\"", "not a token id"}, {0}},
    {"missing-model", NULL, "generate -m @D/none -p hi", NULL, 1, {"none/config.json", "No such file"}, {0}},
    {"missing-tokenizer", NULL, "tokenize -t @D/none.json", "hi", 1, {"none.json"}, {0}},
    {"unknown-command", NULL, "frobnicate", NULL, 2, {"unknown command", "usage"}, {0}},
    {"no-command", NULL, "", NULL, 2, {"usage"}, {0}},
    {"help", NULL, "--help", NULL, 0, {0}, {"usage", "generate"}},
    {"help-short", NULL, "-h", NULL, 0, {0}, {"usage", "quantize"}},
    {"command-help", NULL, "generate --help", NULL, 0, {0}, {"usage", "--repeat-penalty"}},
    {"quantize-help", NULL, "quantize -h", NULL, 0, {0}, {"usage", "--force"}},
    {"bad-option", NULL, "logits -m x --bogus", NULL, 2, {"--bogus", "usage"}, {0}},
    // --kv: a name the table of cache formats does not hold; q8_0 where head_dim (16) is not 32k
    {"kv-unknown", NULL, "generate -m " TINY " --ids \"1 2\" -n 2 --kv q9", NULL, 2, {"--kv", "'q9'", "q8_0"}, {0}},
    {"kv-q8-head-dim", NULL, "generate -m build/models/tiny-mha-f32 --ids \"1 2\" -n 2 --kv q8_0", NULL, 1,
     {"q8_0", "head_dim 16"}, {0}},
    {"kv-q4-head-dim", NULL, "generate -m build/models/tiny-mha-f32 --ids \"1 2\" -n 2 --kv q4_0", NULL, 1,
     {"q4_0", "head_dim 16"}, {0}},
    // issue 12, item 1: the heap overflow of floats_needed's shared name buffer (gcc builds)
    {"quantize-q4-affine-mixed", NULL, "quantize -m build/models/small-gqa4-bf16 -o @D/Q --type q4_affine", NULL, 0,
     {"loads"}, {0}},
};

// The case's command with @D (the case's directory) and @600 (--ids of 600 ids) expanded.
static void expand(char *out, size_t cap, const char *args, const char *dir) {
    static char ids_600[8 + 2 * 600 + 2] = "--ids \"";
    for (int i = 0; i < 600; i++) memcpy(ids_600 + 7 + 2 * i, i ? " 1" : "1 ", 2);
    memcpy(ids_600 + 7 + 2 * 600, "\"", 2);
    size_t o = 0;
    for (const char *p = args; *p && o + 1 < cap;) {
        const char *with = NULL;
        if (strncmp(p, "@D", 2) == 0) {
            with = dir;
            p += 2;
        } else if (strncmp(p, "@600", 4) == 0) {
            with = ids_600;
            p += 4;
        }
        if (!with) {
            out[o++] = *p++;
            continue;
        }
        o += (size_t)snprintf(out + o, cap - o, "%s", with);
        if (o >= cap) o = cap - 1;
    }
    out[o] = '\0';
}

static void run_case(const Case *c) {
    char dir[512], cmd[8192], args[4096], path[600];
    PATH_PRINTF(dir, "%s/%s", ps_test_dir(), c->name);
    PS_CHECK(mkdir(dir, 0755) == 0, "mkdir %s", dir);
    if (c->craft) c->craft(dir);
    PATH_PRINTF(path, "%s/stdin", dir);
    write_file(path, c->input ? c->input : "", c->input ? strlen(c->input) : 0);
    expand(args, sizeof args, c->args, dir);
    PATH_PRINTF(cmd, "%s %s < %s/stdin > %s/stdout 2> %s/stderr", protostar(), args, dir, dir, dir);
    int raw = system(cmd);
    PS_CHECK(raw != -1 && WIFEXITED(raw), "%s: could not run '%s'", c->name, cmd);
    int status = WEXITSTATUS(raw);
    PATH_PRINTF(path, "%s/stderr", dir);
    char *err = read_all(path, NULL);
    PATH_PRINTF(path, "%s/stdout", dir);
    char *out = read_all(path, NULL);
    PS_CHECK(status < 128, "%s: killed by signal %d\n  $ %s\n%s", c->name, status - 128, cmd, err);
    PS_CHECK(!strstr(err, "Sanitizer") && !strstr(err, "runtime error:"), "%s: sanitizer report\n  $ %s\n%s",
             c->name, cmd, err);
    PS_CHECK(status == c->want_status, "%s: exit status %d, want %d\n  $ %s\n%s", c->name, status, c->want_status,
             cmd, err);
    for (int i = 0; i < 3 && c->err_words[i]; i++)
        PS_CHECK(strstr(err, c->err_words[i]), "%s: stderr lacks \"%s\"\n  $ %s\n%s", c->name, c->err_words[i], cmd,
                 err);
    for (int i = 0; i < 2 && c->out_words[i]; i++)
        PS_CHECK(strstr(out, c->out_words[i]), "%s: stdout lacks \"%s\"\n  $ %s\n%.2000s", c->name, c->out_words[i],
                 cmd, out);
    free(err);
    free(out);
}

static void need_binary(void) {
    if (!ps_file_exists(protostar()) && !ps_make("build/protostar"))
        PS_FAIL("no %s (and make build/protostar failed)", protostar());
    PS_CHECK(ps_file_exists(SYNTH "/model.safetensors"), "no %s: run make synth", SYNTH);
}

static void t_catalogue(void) {
    need_binary();
    for (size_t i = 0; i < PS_COUNT(CASES); i++) run_case(&CASES[i]);
}

// quantize's output appears whole or not at all: a bad input leaves nothing, an existing directory
// needs --force and is then replaced, and no partial sibling is left behind.
static void t_quantize_atomic(void) {
    need_binary();
    const char *d = ps_test_dir();
    char cmd[2048], out[600], path[700];
    PATH_PRINTF(out, "%s/Q", d);
    PATH_PRINTF(cmd, "%s quantize -m %s/none -o %s --type q8_0 2>/dev/null", protostar(), d, out);
    PS_CHECK(system(cmd) != 0, "quantize of a missing model succeeded");
    struct stat sb;
    PS_CHECK(stat(out, &sb) != 0, "a failed quantize left %s", out);
    // What a killed run leaves: OUT.partial-PID of a process that is gone.
    pid_t gone = fork();
    if (gone == 0) _exit(0);
    PS_CHECK(gone > 0 && waitpid(gone, NULL, 0) == gone, "fork failed");
    PATH_PRINTF(path, "%s.partial-%ld", out, (long)gone);
    PS_CHECK(mkdir(path, 0755) == 0, "mkdir %s", path);
    write_text(path, "model.safetensors", "half");
    craft_other_model_in_out(d);
    PATH_PRINTF(cmd, "%s quantize -m %s -o %s --type q8_0 --force 2>/dev/null", protostar(), SYNTH, out);
    PS_CHECK(system(cmd) == 0, "quantize --force over another model failed");
    PATH_PRINTF(path, "%s/model.safetensors", out);
    PS_CHECK(stat(path, &sb) == 0, "--force: %s has no model.safetensors", out);
    PATH_PRINTF(path, "%s/config.json", out);
    cJSON *config = read_json(path);
    PS_CHECK(cJSON_GetObjectItemCaseSensitive(config, "another") == NULL, "--force kept the old config.json");
    cJSON_Delete(config);
    PATH_PRINTF(cmd, "ls %s | grep -q partial", d);
    PS_CHECK(system(cmd) != 0, "a .partial directory (stale or new) was left in %s", d);
}

// logits' file appears whole or not at all (shared/atomic_file.h): a write that fails halfway (here
// the file size limit, its signal ignored so that write() reports EFBIG) leaves the old file as it
// was and no stand-in beside it; one that succeeds replaces it whole.
static void t_logits_atomic(void) {
    need_binary();
    const char *d = ps_test_dir();
    char cmd[2048], out[600];
    PATH_PRINTF(out, "%s/logits.f32", d);
    write_file(out, "old", 3);
    PATH_PRINTF(cmd, "trap '' XFSZ; ulimit -f 1; %s logits -m %s --ids \"1 2\" -o %s >/dev/null 2>%s/err", protostar(),
                SYNTH, out, d);
    PS_CHECK(system(cmd) != 0, "logits succeeded past a 512-byte file size limit");
    char path[700];
    PATH_PRINTF(path, "%s/err", d);
    char *err = read_all(path, NULL);
    PS_CHECK(strstr(err, "write failed") && strstr(err, "left as it was"), "the failed write's message: %s", err);
    free(err);
    size_t len = 0;
    char *kept = read_all(out, &len);
    PS_CHECK(len == 3 && memcmp(kept, "old", 3) == 0, "a failed write changed %s (%zu bytes)", out, len);
    free(kept);
    PATH_PRINTF(cmd, "%s logits -m %s --ids \"1 2\" -o %s >/dev/null 2>&1", protostar(), SYNTH, out);
    PS_CHECK(system(cmd) == 0, "logits -o %s failed", out);
    struct stat sb;
    PS_CHECK(stat(out, &sb) == 0 && sb.st_size > 3 && (sb.st_size & 3) == 0, "%s is not a whole file of floats", out);
    PATH_PRINTF(cmd, "ls %s | grep -q partial", d);
    PS_CHECK(system(cmd) != 0, "a .partial file was left in %s", d);
}

static const PsTest TESTS[] = {
    {"cli.bad-input", t_catalogue, "DEVELOPERS.md", 120},
    {"cli.quantize-atomic", t_quantize_atomic, "DEVELOPERS.md", 60},
    {"cli.logits-atomic", t_logits_atomic, "DEVELOPERS.md", 60},
};

int main(int argc, char **argv) { return ps_main("tools", TESTS, PS_COUNT(TESTS), argc, argv); }
