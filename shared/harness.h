// protostar's test harness: no framework, just fork, a timeout and careful comparisons.
//
// Every test runs in a forked child, so a crash or an endless loop in learner code becomes one
// FAIL line and the rest of the suite still runs. A check that fails prints what it saw and ends
// the test; LAB_TODO ends it as TODO. Results go to stdout and, when $PS_RESULTS names a file, one
// line per test ("PASS M2 forward.block0") is appended there for tools/summarize.
#ifndef PS_HARNESS_H
#define PS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lab_todo.h"

typedef struct {
    const char *name;     // "forward.block0": group.case, used by ONLY=
    void (*fn)(void);
    const char *anchor;   // book section to read when it fails
    int timeout_s;        // 0 means 10 s; always multiplied by $TIMEOUT_MULT
} PsTest;

#define PS_COUNT(a) (sizeof(a) / sizeof((a)[0]))

// Runs the tests (all, or those named by $ONLY / argv[1], comma-separated, a trailing '*' matches a
// prefix; when nothing matches it prints nothing). Returns 0 when every test that ran passed.
// suite is the lab id ("M3"), or "tools" for the harness's own tests.
int ps_main(const char *suite, const PsTest *tests, size_t n, int argc, char **argv);

_Noreturn void ps_fail_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void ps_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Where the running test last reached a check. The runner shares this slot with the test's child
// process, so when a test hangs it can name the last check the test got to (a store per check).
typedef struct {
    const char *file;
    int line;
} PsPlace;
extern volatile PsPlace *ps_last_check;
static inline void ps_reached(const char *file, int line) {
    if (ps_last_check) ps_last_check->line = line, ps_last_check->file = file;
}

#define PS_FAIL(...) ps_fail_at(__FILE__, __LINE__, __VA_ARGS__)
#define PS_SKIP(...) ps_skip(__VA_ARGS__)
#define PS_CHECK(cond, ...)                                                     \
    do {                                                                        \
        ps_reached(__FILE__, __LINE__);                                         \
        if (!(cond)) ps_fail_at(__FILE__, __LINE__, "check failed: " #cond      \
                                                    "\n  " __VA_ARGS__);        \
    } while (0)

// |got - want| <= atol + rtol * |want| element-wise. On mismatch prints the count of bad elements,
// the worst one (index as [i, j, ...] when dims are given) and the first values side by side.
// Returns true when all elements are close. NaN in got never counts as close; in the GPU labs'
// suites (M6, M7) NaN in got also prints a hint to run the race checker (CHECK=races).
bool ps_close_f32(const char *what, const float *got, const float *want, size_t n,
                  double atol, double rtol);
bool ps_close_f32_shaped(const char *what, const float *got, const float *want,
                         int ndim, const int64_t *dims, double atol, double rtol);

// Largest |got - want| and where it is (n > 0); for "first diverging checkpoint" reports.
double ps_max_abs_err(const float *got, const float *want, size_t n, size_t *where);

// Exact comparisons: first differing index and both sequences around it.
bool ps_equal_i32(const char *what, const int32_t *got, size_t ngot,
                  const int32_t *want, size_t nwant);
bool ps_equal_bytes(const char *what, const void *got, const void *want, size_t n);

#define PS_CHECK_CLOSE(what, got, want, n, atol, rtol)                          \
    do {                                                                        \
        ps_reached(__FILE__, __LINE__);                                         \
        if (!ps_close_f32((what), (got), (want), (n), (atol), (rtol)))          \
            PS_FAIL("%s: not within atol=%g rtol=%g", (what), (double)(atol),   \
                    (double)(rtol));                                            \
    } while (0)
#define PS_CHECK_IDS(what, got, ngot, want, nwant)                              \
    do {                                                                        \
        ps_reached(__FILE__, __LINE__);                                         \
        if (!ps_equal_i32((what), (got), (ngot), (want), (nwant)))              \
            PS_FAIL("%s: ids differ", (what));                                  \
    } while (0)
#define PS_CHECK_BYTES(what, got, want, n)                                      \
    do {                                                                        \
        ps_reached(__FILE__, __LINE__);                                         \
        if (!ps_equal_bytes((what), (got), (want), (n)))                        \
            PS_FAIL("%s: bytes differ", (what));                                \
    } while (0)

// ---- golden files (format: DEVELOPERS.md, "Golden file format") ----

typedef enum { PS_F32, PS_F16, PS_I32, PS_U8 } PsDtype;

typedef struct {
    char name[128];
    PsDtype dtype;
    int ndim;
    int64_t dims[8];
    size_t count;         // number of elements
    const void *data;     // points into the golden file's memory
} PsTensor;

typedef struct {
    char path[512];
    char generator[1024];
    PsTensor *tensors;
    size_t n;
    unsigned char *blob;
} PsGolden;

// Inside a test, a missing or malformed golden file fails the test with a HINT naming the command
// that regenerates it. ps_golden_get fails the test when the tensor is absent; _find returns NULL.
PsGolden *ps_golden_open(const char *path);
const PsTensor *ps_golden_get(const PsGolden *g, const char *name);
const PsTensor *ps_golden_find(const PsGolden *g, const char *name);
// The tensor as f32 (f16 is widened into a new buffer, f32 is copied): caller frees.
float *ps_tensor_f32(const PsTensor *t);
void ps_golden_close(PsGolden *g);

// True when path names an existing file: tests use it to decide whether a data file (a tokenizer,
// a model) is there before they load it, and skip with a message when it is not.
bool ps_file_exists(const char *path);

// A directory for the running test's files ($TMPDIR or /tmp), made on the first call. ps_main
// removes it with everything in it when the test ends, however it ends: passed, failed, stopped
// at a TODO, crashed or timed out. (A test's own clean-up would not run in most of those cases.)
const char *ps_test_dir(void);

// ---- test data and helpers several labs share (shared/harness_helpers.c) ----

// Runs `make -s TARGET` with its stdout discarded; true when make succeeded. For what a test
// needs built (a synthetic model, a tool, the CLI binary) and may make on demand.
bool ps_make(const char *target);

// The directory of a test model: "tiny" is models/tiny (the committed trained model); any other
// name is a synthetic preset in build/models/NAME/, made by make (tools/synth) when missing.
// ps_model skips the test with a message saying why when the model is missing and cannot be made;
// ps_model_try returns NULL instead (for a test that tries several models). The string stays valid.
const char *ps_model(const char *name);
const char *ps_model_try(const char *name);

// Index of the largest of x[0..n) (the first, on a tie; NaN is never the largest; 0 if all are).
int ps_argmax(const float *x, int n);
// log softmax(logits)[target], computed in double: the log-probability a model gives target.
double ps_log_prob(const float *logits, int n, int target);

// The i32 tensor NAME of a golden file and its length (fails the test when absent or not i32).
const int32_t *ps_golden_ids(const PsGolden *g, const char *name, int *n);

// Greedy runs of transformers' generate(do_sample=False) (golden/m3/greedy-*.psg, written by
// tools/oracle_m3.py): run rN holds the prompt, the generated ids, max_new_tokens, the repetition
// penalty, and at every step the margin between the top two scores. Past a near-tie float rounding
// may legitimately pick the other token, so only the leading steps whose margin (and every earlier
// one) exceeds PS_GREEDY_MARGIN are trusted.
#define PS_GREEDY_MARGIN 1e-3f
typedef struct {
    const int32_t *prompt, *want;   // the prompt and Hugging Face's generated ids
    int n_prompt, n_want;
    int max_new;                    // max_new_tokens of the run
    float penalty;                  // repetition penalty of the run (1 = none)
    int trusted;                    // leading steps of want that are trusted (<= n_want)
} PsGreedyRun;

// Number of runs in the golden file; *eos gets its stop ids.
int ps_greedy_runs(const PsGolden *g, const int32_t **eos, int *n_eos);
PsGreedyRun ps_greedy_run_get(const PsGolden *g, int r);
// Compares the ids a model generated for run (got, n_got: after the prompt) with Hugging Face's:
// every id and the length when all steps are trusted, else the first min(n_got, trusted) ids. On a
// difference prints the first differing position and both sequences around it, and fails the
// test. Returns the number of ids compared. A caller that generated fewer steps than the run lowers
// run->n_want and run->trusted to that number first.
int ps_check_greedy(const char *what, const int32_t *got, int n_got, const PsGreedyRun *run);
#define PS_CHECK_GREEDY(what, got, n_got, run) \
    (ps_reached(__FILE__, __LINE__), ps_check_greedy((what), (got), (n_got), (run)))

// A list of strings or of id lists in a golden file: tensor NAME holds the items end to end and
// NAME.off their n + 1 offsets (item i is data[off[i] .. off[i + 1]), in elements). Fails the test
// when either is absent or an offset points outside the data.
typedef struct {
    const void *data;
    const int32_t *off;
    size_t n;   // items
} PsList;
PsList ps_golden_list(const PsGolden *g, const char *name);

// Prints s[0..n) to stdout with line breaks, tabs, quotes, backslashes and other control bytes
// escaped (\n, \t, \x22), so whitespace shows; at most max bytes, then "...".
void ps_print_escaped(const char *s, size_t n, size_t max);

// What the code between ps_capture_begin and ps_capture_end writes to fd (1: stdout, 2: stderr),
// e.g. the error message a test expects: both streams are flushed and fd is redirected into a
// temporary file; ps_capture_end puts fd back and returns the text (NUL-terminated; caller frees).
typedef struct {
    int fd, saved;
    FILE *file;
} PsCapture;
void ps_capture_begin(PsCapture *c, int fd);
char *ps_capture_end(PsCapture *c);

#endif
