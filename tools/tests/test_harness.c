// The harness tests itself: a crashing, hanging or TODO test must be reported as such while the run
// goes on, comparisons must catch what they promise, and a damaged golden file must be refused.
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static void crashes(void) { raise(SIGSEGV); }
static void hangs(void) { for (;;) pause(); }
static void todo(void) { LAB_TODO("M9", "demo", "book/demo.md#demo"); }
static void passes(void) {}

// Runs a small suite in a child process (suite id, ONLY= selection or NULL, results file or NULL)
// and returns everything it printed; the child's exit status must be want_exit.
static char *run_suite_as(const char *suite, const PsTest *tests, size_t n, const char *only,
                          const char *results, int want_exit) {
    int fds[2];
    PS_CHECK(pipe(fds) == 0, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        setenv("TIMEOUT_MULT", "0.3", 1);
        unsetenv("ONLY");
        unsetenv("PS_VARIANT");
        if (results) setenv("PS_RESULTS", results, 1);
        else unsetenv("PS_RESULTS");
        char *argv[] = {"./selftest", (char *)only, NULL};
        exit(ps_main(suite, tests, n, only ? 2 : 1, argv));
    }
    close(fds[1]);
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(1, cap);
    ssize_t r;
    while ((r = read(fds[0], out + len, cap - 1 - len)) > 0) len += (size_t)r;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    PS_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == want_exit, "the suite must exit %d:\n%s", want_exit, out);
    return out;
}
static char *run_suite(const PsTest *tests, size_t n) { return run_suite_as("SELF", tests, n, NULL, NULL, 1); }

static void t_isolation(void) {
    const PsTest suite[] = {
        {"crash", crashes, "a", 0}, {"hang", hangs, "a", 1}, {"todo", todo, "a", 0}, {"ok", passes, "a", 0}};
    char *out = run_suite(suite, PS_COUNT(suite));
    // Under ASan the sanitizer catches the signal, reports it and exits 1: still a FAIL with a reason.
    PS_CHECK(strstr(out, "FAIL (Segmentation fault)") || strstr(out, "AddressSanitizer: SEGV"),
             "crash not reported:\n%s", out);
    PS_CHECK(strstr(out, "FAIL (timeout 0s)") || strstr(out, "FAIL (timeout"), "hang not reported:\n%s", out);
    PS_CHECK(strstr(out, "TODO M9 demo") && strstr(out, "book/demo.md#demo"), "TODO not reported:\n%s", out);
    PS_CHECK(strstr(out, "SELF: 1 passed, 2 failed, 1 todo"), "the run did not go on:\n%s", out);
    free(out);
}

// Writes text[0..len) to NAME in the test's own directory; returns its path (a static buffer: the
// same name gives the same path, so a test can rewrite the file it opened before).
static const char *write_test_file(const char *name, const char *text, size_t len) {
    static char path[700];
    snprintf(path, sizeof path, "%s/%s", ps_test_dir(), name);
    FILE *f = fopen(path, "wb");
    PS_CHECK(f && fwrite(text, 1, len, f) == len && fclose(f) == 0, "cannot write %s", path);
    return path;
}

// ps_test_dir() is removed when its test ends, however it ends. The inner tests write where their
// directory was into the outer test's own directory, then stop in three different ways.
static char outer_dir[600];
static void leave_a_file(const char *how) {
    write_test_file("left.txt", "x", 1);
    char path[700];
    snprintf(path, sizeof path, "%s/%s.where", outer_dir, how);
    FILE *f = fopen(path, "w");
    PS_CHECK(f && fputs(ps_test_dir(), f) >= 0 && fclose(f) == 0, "cannot write %s", path);
}
// The path that the inner test `how` wrote into OUTER/HOW.EXT must be gone now that it has ended.
static void check_gone(const char *how, const char *ext) {
    char path[700], what[700] = "";
    snprintf(path, sizeof path, "%s/%s.%s", outer_dir, how, ext);
    FILE *f = fopen(path, "r");
    PS_CHECK(f && fgets(what, sizeof what, f), "the '%s' test did not say where it wrote", how);
    fclose(f);
    PS_CHECK(access(what, F_OK) != 0, "%s is still there after the '%s' test ended", what, how);
}
static void dir_then_crash(void) {
    leave_a_file("crash");
    raise(SIGSEGV);
}
static void dir_then_todo(void) {
    leave_a_file("todo");
    LAB_TODO("M9", "demo", "book/demo.md#demo");
}
static void dir_then_fail(void) {
    leave_a_file("fail");
    PS_FAIL("failing on purpose");
}

static void t_test_dir(void) {
    snprintf(outer_dir, sizeof outer_dir, "%s", ps_test_dir());
    const PsTest suite[] = {{"crash", dir_then_crash, "a", 0}, {"todo", dir_then_todo, "a", 0},
                             {"fail", dir_then_fail, "a", 0}};
    free(run_suite(suite, PS_COUNT(suite)));
    const char *hows[] = {"crash", "todo", "fail"};
    for (size_t i = 0; i < PS_COUNT(hows); i++) check_gone(hows[i], "where");
}

// Whatever a test leaves beside its directory (a writer's stand-in DIR.partial-PID that a LAB_TODO
// stopped halfway) fails the test, passed or not, and is removed.
static void leave_beside(const char *how) {
    char beside[700], path[760];
    snprintf(beside, sizeof beside, "%s.partial-1", ps_test_dir());
    snprintf(path, sizeof path, "%s/half", beside);
    FILE *f = mkdir(beside, 0700) == 0 ? fopen(path, "w") : NULL;
    PS_CHECK(f && fputs("half", f) >= 0 && fclose(f) == 0, "cannot write %s", path);
    snprintf(path, sizeof path, "%s/%s.beside", outer_dir, how);
    f = fopen(path, "w");
    PS_CHECK(f && fputs(beside, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
}
static void beside_then_pass(void) { leave_beside("pass"); }
static void beside_then_todo(void) {
    leave_beside("todo");
    LAB_TODO("M9", "demo", "book/demo.md#demo");
}

static void t_left_behind(void) {
    snprintf(outer_dir, sizeof outer_dir, "%s", ps_test_dir());
    const PsTest suite[] = {{"pass", beside_then_pass, "a", 0}, {"todo", beside_then_todo, "a", 0}};
    char *out = run_suite(suite, PS_COUNT(suite));
    PS_CHECK(strstr(out, "SELF: 0 passed, 2 failed, 0 todo"), "a test that left a folder behind must fail:\n%s", out);
    PS_CHECK(strstr(out, ".partial-1 behind)"), "the failure must name what was left:\n%s", out);
    const char *hows[] = {"pass", "todo"};
    for (size_t i = 0; i < PS_COUNT(hows); i++) check_gone(hows[i], "beside");
    free(out);
}

static void t_close(void) {
    float want[4] = {1.0f, -2.0f, 3.0f, 1e6f}, got[4] = {1.0f, -2.0f, 3.0f, 1e6f};
    PS_CHECK(ps_close_f32("same", got, want, 4, 0, 0), "identical arrays must be close");
    got[3] = 1e6f + 50.0f;  // within rtol 1e-4 of 1e6
    PS_CHECK(ps_close_f32("rtol", got, want, 4, 1e-4, 1e-4), "rtol must scale with |want|");
    got[1] = -2.01f;
    PS_CHECK(!ps_close_f32("abs", got, want, 4, 1e-4, 1e-4), "an absolute error of 0.01 must fail");
    got[1] = NAN;
    PS_CHECK(!ps_close_f32("nan", got, want, 4, 1, 1), "NaN must never be close");
    int64_t dims[2] = {2, 2};
    PS_CHECK(!ps_close_f32_shaped("shaped", got, want, 2, dims, 1e-4, 1e-4), "shaped compare must fail too");
}

static void t_exact(void) {
    int32_t a[3] = {1, 2, 3}, b[4] = {1, 2, 3, 4};
    PS_CHECK(ps_equal_i32("same", a, 3, b, 3), "equal prefixes of equal length");
    PS_CHECK(!ps_equal_i32("longer", a, 3, b, 4), "a missing last id must be reported");
    unsigned char x[40] = {0}, y[40] = {0};
    y[33] = 1;
    PS_CHECK(!ps_equal_bytes("bytes", x, y, 40), "a differing byte must be found");
}

static int open_in_child(const char *path) {
    pid_t pid = fork();
    if (pid == 0) {
        // The refusal's message is not the point here, its exit status is. 2: could not silence it
        // (distinct from the 1 the callers expect, so the check fails rather than passing by chance).
        if (!freopen("/dev/null", "w", stderr)) _exit(2);
        ps_golden_close(ps_golden_open(path));
        exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void t_golden(void) {
    const char good[] = "PSGOLD 1\ngenerator test\ntensor ids i32 1 2\ntensor x u8 1 3\nend\n"
                        "\x01\0\0\0\x02\0\0\0abc";
    const char *path = write_test_file("g.psg", good, sizeof good - 1);
    PsGolden *g = ps_golden_open(path);
    const PsTensor *ids = ps_golden_get(g, "ids");
    PS_CHECK(ids->count == 2 && ((const int32_t *)ids->data)[1] == 2, "ids read back wrong");
    PS_CHECK(ps_golden_find(g, "missing") == NULL, "find must return NULL for a missing tensor");
    ps_golden_close(g);
    write_test_file("g.psg", good, sizeof good - 2);  // one data byte short
    PS_CHECK(open_in_child(path) == 1, "a truncated golden file must be refused");
    write_test_file("g.psg", "PSGOLD 9\nend\n", 13);
    PS_CHECK(open_in_child(path) == 1, "a future format version must be refused");
}

// A crash names the debugger command; a hang names the last check it reached (and the command).
static void checks_then_hangs(void) {
    PS_CHECK(1 + 1 == 2, "arithmetic");
    for (;;) pause();
}
static void t_crash_and_hang_hints(void) {
    const PsTest suite[] = {{"demo.crash", crashes, "a", 0}, {"demo.hang", checks_then_hangs, "a", 1},
                             {"demo.hang-early", hangs, "a", 1}};
    char *out = run_suite(suite, PS_COUNT(suite));
    // ASan catches SIGSEGV itself and exits 1 (a FAIL with its own stack trace): no hint then.
    PS_CHECK(strstr(out, "debug: PS_NOFORK=1 gdb --args ./selftest demo.crash") || strstr(out, "AddressSanitizer")
                 || strstr(out, "debug: PS_NOFORK=1 lldb -- ./selftest demo.crash"),
             "a crash must print the debugger command:\n%s", out);
    PS_CHECK(strstr(out, "demo.hang                        FAIL (timeout"), "the hang must be named:\n%s", out);
    PS_CHECK(strstr(out, "hung: the last check it reached is tools/tests/test_harness.c:"),
             "the hang must name its last check:\n%s", out);
    PS_CHECK(strstr(out, "hung: before reaching its first check"), "a hang before any check must say so:\n%s", out);
    PS_CHECK(strstr(out, "./selftest demo.hang   (run; when it hangs"), "a hang must print the debugger command:\n%s", out);
    free(out);
}

// ONLY= naming no test of this file prints nothing at all and counts as success.
static void t_only_no_match(void) {
    const PsTest suite[] = {{"demo.ok", passes, "a", 0}};
    char *out = run_suite_as("SELF", suite, 1, "other.*", NULL, 0);
    PS_CHECK(out[0] == '\0', "ONLY with no match must print nothing, printed:\n%s", out);
    free(out);
    out = run_suite_as("SELF", suite, 1, "ONLY=demo.*", NULL, 0);
    PS_CHECK(strstr(out, "SELF: 1 passed"), "ONLY=demo.* must run demo.ok:\n%s", out);
    free(out);
}

// NaN in a GPU lab's output points to the race checker; elsewhere it does not.
static void compares_nan(void) {
    float got[2] = {1.0f, NAN}, want[2] = {1.0f, 2.0f};
    PS_CHECK_CLOSE("out", got, want, 2, 1e-5, 1e-5);
}
static void t_nan_hint(void) {
    const PsTest suite[] = {{"demo.nan", compares_nan, "a", 0}};
    char *out = run_suite_as("M6", suite, 1, NULL, NULL, 1);
    PS_CHECK(strstr(out, "make check-lab 6 CHECK=races"), "M6 NaN must suggest the race checker:\n%s", out);
    free(out);
    out = run_suite_as("M2", suite, 1, NULL, NULL, 1);
    PS_CHECK(!strstr(out, "CHECK=races"), "a CPU lab must not suggest the race checker:\n%s", out);
    free(out);
}

// A result line carries the test's book section and, for a TODO, the section of the task it reached.
static void t_results_line(void) {
    char path[700], line[512] = "";
    snprintf(path, sizeof path, "%s/results.txt", ps_test_dir());
    const PsTest suite[] = {{"demo.todo", todo, "book/demo.md#other", 0}};
    free(run_suite_as("M9", suite, 1, NULL, path, 1));
    FILE *f = fopen(path, "r");
    PS_CHECK(f && fgets(line, sizeof line, f), "no result line in %s", path);
    fclose(f);
    PS_CHECK(strcmp(line, "TODO M9 demo.todo book/demo.md#other book/demo.md#demo\n") == 0, "result line: %s", line);
}

// ---- the shared test helpers (shared/harness_helpers.c) ----

static void t_argmax_log_prob(void) {
    float x[] = {1, 3, 3, 2}, with_nan[] = {NAN, 1, 5, NAN}, all_nan[] = {NAN, NAN};
    PS_CHECK(ps_argmax(x, 4) == 1, "on a tie the first largest: got %d", ps_argmax(x, 4));
    PS_CHECK(ps_argmax(with_nan, 4) == 2, "NaN is never the largest: got %d", ps_argmax(with_nan, 4));
    PS_CHECK(ps_argmax(all_nan, 2) == 0, "all NaN: 0");
    float even[] = {0, 0}, big[] = {1000, 1000, 1000}, mixed[] = {2, -1, 0.5f, 7};
    PS_CHECK(fabs(ps_log_prob(even, 2, 1) - log(0.5)) < 1e-12, "two equal logits: log 1/2");
    PS_CHECK(fabs(ps_log_prob(big, 3, 0) + log(3.0)) < 1e-12, "large logits must not overflow: %g",
             ps_log_prob(big, 3, 0));
    double total = 0;
    for (int i = 0; i < 4; i++) total += exp(ps_log_prob(mixed, 4, i));
    PS_CHECK(fabs(total - 1) < 1e-12, "the probabilities must sum to 1, got %.15g", total);
}

static void bad_log_prob_target(void) {
    float x[] = {1, 2};
    ps_log_prob(x, 2, 2);
}
static void missing_preset(void) { ps_model("no-such-preset"); }
static void preset_with_slash(void) { ps_model("../etc"); }

static void t_models(void) {
    const char *tiny = ps_model_try("tiny");
    PS_CHECK(tiny && strcmp(tiny, "models/tiny") == 0, "tiny is models/tiny, got %s", tiny ? tiny : "NULL");
    PS_CHECK(ps_model("tiny") == tiny, "the same name must give the same (lasting) string");
    PS_CHECK(ps_make("Makefile"), "make of an up-to-date file succeeds");
    PS_CHECK(!ps_make("no/such/target"), "make of an unknown target fails");
    const PsTest suite[] = {{"demo.missing", missing_preset, "a", 60}, {"demo.slash", preset_with_slash, "a", 0},
                             {"demo.target", bad_log_prob_target, "a", 0}};
    char *out = run_suite(suite, PS_COUNT(suite));
    PS_CHECK(strstr(out, "SKIP") && strstr(out, "cannot make build/models/no-such-preset/model.safetensors")
                 && strstr(out, "make synth"),
             "a preset that cannot be made skips the test, naming the file and make synth:\n%s", out);
    PS_CHECK(strstr(out, "\"../etc\" is not a preset name"), "a path is not a preset:\n%s", out);
    PS_CHECK(strstr(out, "target 2 is not in [0, 2)"), "an out-of-range target fails the test:\n%s", out);
    PS_CHECK(strstr(out, "SELF: 0 passed, 2 failed, 0 todo, 1 skipped"), "two failures and a skip:\n%s", out);
    free(out);
}

// A golden file of one greedy run: HF generated 10 11 12 13, the third step a near-tie.
static PsGolden *greedy_golden(const float margins[4]) {
    char path[600];
    snprintf(path, sizeof path, "%s/greedy.psg", ps_test_dir());
    FILE *f = fopen(path, "wb");
    PS_CHECK(f != NULL, "cannot write %s", path);
    fputs("PSGOLD 1\ngenerator test\ntensor nruns i32 1 1\ntensor eos i32 1 1\ntensor r0.prompt i32 1 2\n"
          "tensor r0.generated i32 1 4\ntensor r0.margins f32 1 4\ntensor r0.max_new i32 1 1\n"
          "tensor r0.penalty f32 1 1\nend\n", f);
    const int32_t head[] = {1, 99, 5, 6, 10, 11, 12, 13}, max_new = 4;
    const float penalty = 1.5f;
    fwrite(head, sizeof head, 1, f);
    fwrite(margins, sizeof(float), 4, f);
    fwrite(&max_new, sizeof max_new, 1, f);
    fwrite(&penalty, sizeof penalty, 1, f);
    PS_CHECK(fclose(f) == 0, "cannot write %s", path);
    return ps_golden_open(path);
}

static void greedy_differs_early(void) {
    const float margins[] = {0.5f, 0.5f, 1e-4f, 0.5f};
    PsGolden *g = greedy_golden(margins);
    PsGreedyRun run = ps_greedy_run_get(g, 0);
    const int32_t got[] = {10, 77, 12, 13};
    PS_CHECK_GREEDY("early", got, 4, &run);
}
static void greedy_stops_short(void) {
    const float margins[] = {0.5f, 0.5f, 0.5f, 0.5f};
    PsGolden *g = greedy_golden(margins);
    PsGreedyRun run = ps_greedy_run_get(g, 0);
    const int32_t got[] = {10, 11, 12};
    PS_CHECK_GREEDY("short", got, 3, &run);
}

static void t_greedy(void) {
    const float margins[] = {0.5f, 0.5f, 1e-4f, 0.5f};
    PsGolden *g = greedy_golden(margins);
    const int32_t *eos;
    int n_eos;
    PS_CHECK(ps_greedy_runs(g, &eos, &n_eos) == 1 && n_eos == 1 && eos[0] == 99, "one run, eos 99");
    PsGreedyRun run = ps_greedy_run_get(g, 0);
    PS_CHECK(run.n_prompt == 2 && run.prompt[1] == 6 && run.n_want == 4 && run.want[3] == 13, "prompt and ids");
    PS_CHECK(run.max_new == 4 && run.penalty == 1.5f, "max_new %d, penalty %g", run.max_new, (double)run.penalty);
    PS_CHECK(run.trusted == 2, "the steps before the near-tie are trusted: got %d", run.trusted);
    // Past the near-tie anything goes, and so does the length.
    const int32_t other_after_tie[] = {10, 11, 40, 41, 42};
    PS_CHECK(PS_CHECK_GREEDY("after the tie", other_after_tie, 5, &run) == 2, "two ids compared");
    PS_CHECK(PS_CHECK_GREEDY("stopped early", other_after_tie, 1, &run) == 1, "one id compared");
    ps_golden_close(g);
    const float sure[] = {0.5f, 0.5f, 0.5f, 0.5f};
    g = greedy_golden(sure);
    run = ps_greedy_run_get(g, 0);
    const int32_t same[] = {10, 11, 12, 13};
    PS_CHECK(run.trusted == 4 && PS_CHECK_GREEDY("all", same, 4, &run) == 4, "every step trusted and equal");
    ps_golden_close(g);

    const PsTest suite[] = {{"demo.early", greedy_differs_early, "a", 0}, {"demo.short", greedy_stops_short, "a", 0}};
    char *out = run_suite(suite, PS_COUNT(suite));
    PS_CHECK(strstr(out, "early: first difference at index 1"), "a difference in the trusted steps fails:\n%s", out);
    PS_CHECK(strstr(out, "short: first difference at index 3 (got 3 ids, want 4)"),
             "all steps trusted: stopping early fails:\n%s", out);
    PS_CHECK(strstr(out, "SELF: 0 passed, 2 failed"), "both must fail:\n%s", out);
    free(out);
}

// A golden list (NAME + NAME.off) reads back item by item; offsets outside the data are refused.
// Escaped printing, and capturing what is printed.
static void list_out_of_range(void) {
    const char bad[] = "PSGOLD 1\ngenerator test\ntensor s u8 1 3\ntensor s.off i32 1 2\nend\nabc"
                       "\0\0\0\0\x04\0\0\0";
    ps_golden_list(ps_golden_open(write_test_file("bad-list.psg", bad, sizeof bad - 1)), "s");
}

static void t_list_escaped(void) {
    const char good[] = "PSGOLD 1\ngenerator test\ntensor s u8 1 5\ntensor s.off i32 1 3\nend\nab\ncd"
                        "\0\0\0\0\x03\0\0\0\x05\0\0\0";
    PsGolden *g = ps_golden_open(write_test_file("list.psg", good, sizeof good - 1));
    PsList l = ps_golden_list(g, "s");
    const char *text = l.data;
    PS_CHECK(l.n == 2 && l.off[1] == 3 && memcmp(text + l.off[1], "cd", 2) == 0, "two items: \"ab\\n\", \"cd\"");
    // Escaped printing, caught by PsCapture (which is tested so, on stdout and on stderr).
    PsCapture out_capture, err_capture;
    ps_capture_begin(&out_capture, 1);
    ps_print_escaped(text, 3, 10);
    ps_print_escaped("\t\"x\x01", 4, 10);
    ps_print_escaped("abcdef", 6, 4);
    ps_capture_begin(&err_capture, 2);
    fputs("to stderr", stderr);
    char *err = ps_capture_end(&err_capture);
    char *got = ps_capture_end(&out_capture);
    PS_CHECK(strcmp(err, "to stderr") == 0, "stderr captured: %s", err);
    PS_CHECK(strcmp(got, "ab\\n\\t\\x22x\\x01abcd...") == 0, "escaped: %s", got);
    free(err);
    free(got);
    ps_golden_close(g);
    const PsTest suite[] = {{"demo.range", list_out_of_range, "a", 0}};
    char *out = run_suite(suite, 1);
    PS_CHECK(strstr(out, "s.off[0..1] = 0..4 is not inside s"), "an offset past the data fails the test:\n%s", out);
    free(out);
}

static const PsTest TESTS[] = {
    {"harness.isolation", t_isolation, "DEVELOPERS.md#test-harness", 20},
    {"harness.close", t_close, "DEVELOPERS.md#test-harness", 0},
    {"harness.exact", t_exact, "DEVELOPERS.md#test-harness", 0},
    {"harness.golden", t_golden, "DEVELOPERS.md#test-harness", 0},
    {"harness.test-dir", t_test_dir, "DEVELOPERS.md#test-harness", 20},
    {"harness.left-behind", t_left_behind, "DEVELOPERS.md#test-harness", 20},
    {"harness.crash-hang-hints", t_crash_and_hang_hints, "DEVELOPERS.md#test-harness", 20},
    {"harness.only-no-match", t_only_no_match, "DEVELOPERS.md#test-harness", 0},
    {"harness.nan-hint", t_nan_hint, "DEVELOPERS.md#test-harness", 0},
    {"harness.results-line", t_results_line, "DEVELOPERS.md#test-harness", 0},
    {"harness.argmax-log-prob", t_argmax_log_prob, "DEVELOPERS.md#test-harness", 0},
    {"harness.models", t_models, "DEVELOPERS.md#test-harness", 90},
    {"harness.greedy", t_greedy, "DEVELOPERS.md#test-harness", 20},
    {"harness.list-escaped-capture", t_list_escaped, "DEVELOPERS.md#test-harness", 0},
};

int main(int argc, char **argv) { return ps_main("tools", TESTS, PS_COUNT(TESTS), argc, argv); }
