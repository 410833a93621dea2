// What several labs' tests need besides comparisons: the test models (made on demand), the greedy
// runs of transformers' generate() in golden/m3, and log-probabilities and arg-maxes of logits.
// Plain arrays and ids only: shared/ sits below every lab, so nothing here knows a Model or a
// Tokenizer (harness.h says what each helper promises).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

bool ps_make(const char *target) {
    char cmd[1024];
    int n = snprintf(cmd, sizeof cmd, "make -s %s >/dev/null", target);
    if (n < 0 || (size_t)n >= sizeof cmd) PS_FAIL("ps_make: target name too long: %s", target);
    // Flush first: the child's output would otherwise land before ours in a captured log.
    fflush(stdout);
    fflush(stderr);
    return system(cmd) == 0;
}

// Model directories are interned so a test may hold several at once (a handful of presets exist).
enum { MAX_MODELS = 16 };
static char model_dirs[MAX_MODELS][256];

static const char *interned(const char *dir) {
    for (int i = 0; i < MAX_MODELS; i++) {
        if (strcmp(model_dirs[i], dir) == 0) return model_dirs[i];
        if (model_dirs[i][0] == '\0') return strcpy(model_dirs[i], dir);
    }
    PS_FAIL("ps_model: more than %d different models in one test", MAX_MODELS);
}

// Where the model lives and why it can be missing; false when it is missing and cannot be made.
static bool find_model(const char *name, char *dir, size_t cap, char *why, size_t why_cap) {
    char path[400];
    if (strcmp(name, "tiny") == 0) {
        snprintf(dir, cap, "models/tiny");
        snprintf(why, why_cap, "models/tiny/model.safetensors is missing (it is committed: check out the repository again)");
        return ps_file_exists("models/tiny/model.safetensors");
    }
    int n = snprintf(dir, cap, "build/models/%s", name);
    if (n < 0 || (size_t)n >= cap || strchr(name, '/') || strchr(name, ' '))
        PS_FAIL("ps_model: \"%s\" is not a preset name", name);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    snprintf(why, why_cap, "cannot make %s (`make synth` writes the synthetic models)", path);
    return ps_file_exists(path) || (ps_make(path) && ps_file_exists(path));
}

const char *ps_model_try(const char *name) {
    char dir[256], why[512];
    return find_model(name, dir, sizeof dir, why, sizeof why) ? interned(dir) : NULL;
}

const char *ps_model(const char *name) {
    char dir[256], why[512];
    if (!find_model(name, dir, sizeof dir, why, sizeof why)) PS_SKIP("%s", why);
    return interned(dir);
}

int ps_argmax(const float *x, int n) {
    int best = -1;
    for (int i = 0; i < n; i++)
        if (!isnan(x[i]) && (best < 0 || x[i] > x[best])) best = i;
    return best < 0 ? 0 : best;
}

double ps_log_prob(const float *logits, int n, int target) {
    if (target < 0 || target >= n) PS_FAIL("ps_log_prob: target %d is not in [0, %d)", target, n);
    // Shifted by the largest logit so exp cannot overflow; summed in double for 150k terms.
    double max = logits[0], sum = 0;
    for (int i = 1; i < n; i++) max = fmax(max, logits[i]);
    for (int i = 0; i < n; i++) sum += exp(logits[i] - max);
    return logits[target] - max - log(sum);
}

const int32_t *ps_golden_ids(const PsGolden *g, const char *name, int *n) {
    const PsTensor *t = ps_golden_get(g, name);
    if (t->dtype != PS_I32) PS_FAIL("%s: tensor %s holds no ids (dtype is not i32)", g->path, name);
    *n = (int)t->count;
    return t->data;
}

// One number stored as a 1-element tensor (the oracles write scalars so).
static const void *scalar(const PsGolden *g, const char *name, PsDtype dtype) {
    const PsTensor *t = ps_golden_get(g, name);
    if (t->dtype != dtype || t->count != 1) PS_FAIL("%s: %s is not one %s", g->path, name, dtype == PS_I32 ? "i32" : "f32");
    return t->data;
}

int ps_greedy_runs(const PsGolden *g, const int32_t **eos, int *n_eos) {
    *eos = ps_golden_ids(g, "eos", n_eos);
    return *(const int32_t *)scalar(g, "nruns", PS_I32);
}

PsGreedyRun ps_greedy_run_get(const PsGolden *g, int r) {
    PsGreedyRun run;
    char name[64];
    snprintf(name, sizeof name, "r%d.prompt", r);
    run.prompt = ps_golden_ids(g, name, &run.n_prompt);
    snprintf(name, sizeof name, "r%d.generated", r);
    run.want = ps_golden_ids(g, name, &run.n_want);
    snprintf(name, sizeof name, "r%d.max_new", r);
    run.max_new = *(const int32_t *)scalar(g, name, PS_I32);
    snprintf(name, sizeof name, "r%d.penalty", r);
    run.penalty = *(const float *)scalar(g, name, PS_F32);
    snprintf(name, sizeof name, "r%d.margins", r);
    const PsTensor *margins = ps_golden_get(g, name);
    if (margins->dtype != PS_F32 || margins->count < (size_t)run.n_want)
        PS_FAIL("%s: %s must hold one f32 per generated id", g->path, name);
    const float *m = margins->data;
    run.trusted = 0;
    while (run.trusted < run.n_want && m[run.trusted] > PS_GREEDY_MARGIN) run.trusted++;
    return run;
}

int ps_check_greedy(const char *what, const int32_t *got, int n_got, const PsGreedyRun *run) {
    int k = n_got < run->trusted ? n_got : run->trusted;
    if (k < 0) k = 0;
    // Every step trusted: the whole continuation, its length (where it stopped) included.
    if (run->trusted == run->n_want) {
        if (!ps_equal_i32(what, got, (size_t)(n_got > 0 ? n_got : 0), run->want, (size_t)run->n_want))
            PS_FAIL("%s: generated ids differ from Hugging Face's", what);
    } else if (!ps_equal_i32(what, got, (size_t)k, run->want, (size_t)k)) {
        PS_FAIL("%s: generated ids differ from Hugging Face's in the first %d (trusted) steps", what, k);
    }
    return k;
}

PsList ps_golden_list(const PsGolden *g, const char *name) {
    char off_name[160];
    snprintf(off_name, sizeof off_name, "%s.off", name);
    const PsTensor *data = ps_golden_get(g, name), *off = ps_golden_get(g, off_name);
    if (off->dtype != PS_I32 || off->count < 1) PS_FAIL("%s: %s must hold n + 1 i32 offsets", g->path, off_name);
    const int32_t *o = off->data;
    size_t unit = data->count;
    for (size_t i = 0; i + 1 < off->count; i++)
        if (o[i] < 0 || o[i] > o[i + 1] || (size_t)o[i + 1] > unit)
            PS_FAIL("%s: %s[%zu..%zu] = %d..%d is not inside %s", g->path, off_name, i, i + 1, (int)o[i],
                    (int)o[i + 1], name);
    return (PsList){data->data, o, off->count - 1};
}

void ps_print_escaped(const char *s, size_t n, size_t max) {
    for (size_t i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') printf("\\n");
        else if (c == '\r') printf("\\r");
        else if (c == '\t') printf("\\t");
        else if (c < 0x20 || c == 0x7F || c == '"' || c == '\\') printf("\\x%02X", c);
        else putchar(c);
    }
    if (n > max) printf("...");
}

void ps_capture_begin(PsCapture *c, int fd) {
    fflush(stdout);
    fflush(stderr);
    c->fd = fd;
    c->file = tmpfile();
    c->saved = dup(fd);
    if (!c->file || c->saved < 0 || dup2(fileno(c->file), fd) < 0)
        PS_FAIL("ps_capture_begin: cannot redirect fd %d to a temporary file", fd);
}

char *ps_capture_end(PsCapture *c) {
    fflush(stdout);
    fflush(stderr);
    if (dup2(c->saved, c->fd) < 0) PS_FAIL("ps_capture_end: cannot restore fd %d", c->fd);
    close(c->saved);
    // What was written went through the descriptor, not c->file's buffer: the file's end is its size.
    long size = fseek(c->file, 0, SEEK_END) == 0 ? ftell(c->file) : -1;
    if (size < 0) PS_FAIL("ps_capture_end: cannot read the captured output back");
    char *text = malloc((size_t)size + 1);
    if (!text) PS_FAIL("ps_capture_end: out of memory for %ld bytes", size);
    rewind(c->file);
    size_t n = fread(text, 1, (size_t)size, c->file);
    text[n] = '\0';
    fclose(c->file);
    return text;
}
