#include "harness.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

#define SKIP_EXIT 78
#define OUTPUT_CAP (16 * 1024)  // a runaway test must not flood the log

static bool in_child;
static const char *suite_id = "";     // the lab ("M6") of the running suite, for hints
static bool race_checked;             // this run is already the race checker's (PS_VARIANT)
volatile PsPlace *ps_last_check;     // shared with the test's child: see harness.h

_Noreturn void ps_fail_at(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fprintf(stderr, "%s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

_Noreturn void ps_skip(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    _exit(SKIP_EXIT);  // like LAB_TODO: a skipped test's allocations are not leaks
}

bool ps_file_exists(const char *path) { return access(path, R_OK) == 0; }

// ---- selection ----

static bool name_matches(const char *name, const char *pattern_list) {
    if (!pattern_list || !*pattern_list) return true;
    const char *p = pattern_list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0 && p[len - 1] == '*') {
            if (strncmp(name, p, len - 1) == 0) return true;
        } else if (strlen(name) == len && strncmp(name, p, len) == 0) {
            return true;
        }
        if (!end) break;
        p = end + 1;
    }
    return false;
}

// ---- running one test in a child ----

typedef struct {
    const char *status;  // PASS FAIL SKIP TODO CRASH TIMEOUT
    char detail[128];
    char *output;
    double seconds;
    PsPlace reached;    // the last check the test got to (file NULL: none)
} Outcome;

static double timeout_mult(void) {
    const char *m = getenv("TIMEOUT_MULT");
    double v = m ? atof(m) : 1.0;
    return v > 0 ? v : 1.0;
}

// What a test printed: the first HEAD_CAP bytes and the last TAIL_CAP bytes (a ring), so a test
// that floods its output still shows how it began and the failure message at its end.
#define HEAD_CAP (4 * 1024)
#define TAIL_CAP (OUTPUT_CAP - HEAD_CAP)
typedef struct {
    char head[HEAD_CAP], tail[TAIL_CAP];
    size_t head_len, total;
} Capture;

// Reads what the child wrote. Returns false at end of file.
static bool collect(int fd, Capture *c) {
    char tmp[4096];
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r < 0 && errno == EINTR) return true;
    if (r <= 0) return false;
    for (ssize_t i = 0; i < r; i++, c->total++) {
        if (c->head_len < HEAD_CAP) c->head[c->head_len++] = tmp[i];
        else c->tail[(c->total - HEAD_CAP) % TAIL_CAP] = tmp[i];
    }
    return true;
}

static char *captured_text(const Capture *c) {
    char *out = malloc(OUTPUT_CAP + 64);
    memcpy(out, c->head, c->head_len);
    size_t len = c->head_len, tail_len = c->total - c->head_len;
    if (tail_len > TAIL_CAP) {
        len += (size_t)sprintf(out + len, "\n[... %zu bytes cut ...]\n", tail_len - TAIL_CAP);
        size_t start = (c->total - HEAD_CAP) % TAIL_CAP;
        memcpy(out + len, c->tail + start, TAIL_CAP - start);
        memcpy(out + len + TAIL_CAP - start, c->tail, start);
        len += TAIL_CAP;
    } else {
        memcpy(out + len, c->tail, tail_len);
        len += tail_len;
    }
    out[len] = '\0';
    return out;
}

// ---- the test's directory: named by the runner before each test, made on demand by the test ----
static char test_dir[512];
static bool test_dir_made;

static void name_test_dir(void) {
    static unsigned count;
    const char *tmp = getenv("TMPDIR");
    snprintf(test_dir, sizeof test_dir, "%s/ps-test-%ld-%u", tmp && *tmp ? tmp : "/tmp", (long)getpid(), count++);
    test_dir_made = false;
}

const char *ps_test_dir(void) {
    if (!test_dir_made) {
        if (mkdir(test_dir, 0700) != 0) ps_fail_at(__FILE__, __LINE__, "cannot create %s: %s", test_dir, strerror(errno));
        test_dir_made = true;
    }
    return test_dir;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *at) {
    (void)st, (void)type, (void)at;
    if (remove(path) != 0) fprintf(stderr, "harness: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

// Deepest first, links themselves rather than what they point to.
static void remove_test_dir(void) {
    struct stat st;
    if (lstat(test_dir, &st) == 0) nftw(test_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

// What a test left beside its folder (a writer's stand-in NAME.partial-PID that a LAB_TODO
// stopped halfway, say): everything a test writes belongs inside ps_test_dir(), where it is
// removed with it. Removes them, naming the first in what; false when there was none.
static bool remove_leftovers(char *what, size_t cap) {
    char parent[sizeof test_dir];
    snprintf(parent, sizeof parent, "%s", test_dir);
    char *slash = strrchr(parent, '/');
    if (!slash) return false;
    *slash = '\0';
    const char *base = slash + 1;
    const size_t n = strlen(base);
    DIR *d = opendir(parent[0] ? parent : "/");
    bool found = false;
    const struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        // The folder itself, or another test's (ps-test-PID-12 beside ps-test-PID-1): not left over.
        if (strncmp(e->d_name, base, n) != 0 || e->d_name[n] == '\0' || isdigit((unsigned char)e->d_name[n])) continue;
        char path[sizeof test_dir + 256];
        snprintf(path, sizeof path, "%s/%s", parent, e->d_name);
        if (!found && snprintf(what, cap, "%s", path) < 0) what[0] = '\0';   // (a long name is cut)
        found = true;
        nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    }
    if (d) closedir(d);
    return found;
}

static Outcome run_child(const PsTest *t) {
    Outcome o = {0};
    double limit = (t->timeout_s > 0 ? t->timeout_s : 10) * timeout_mult();
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        exit(2);
    }
    fflush(stdout);
    fflush(stderr);
    name_test_dir();
    if (ps_last_check) ps_last_check->file = NULL, ps_last_check->line = 0;
    double t0 = ps_now();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        in_child = true;
        close(fds[0]);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        // LAB_TODO also writes to this one (shared/lab_todo.c), so a test that redirects stderr
        // to read its own messages cannot hide which task it stopped at. Not inherited by programs
        // the test runs (close-on-exec).
        char todo_fd[16];
        snprintf(todo_fd, sizeof todo_fd, "%d", fds[1]);
        fcntl(fds[1], F_SETFD, FD_CLOEXEC);
        setenv("PS_TODO_FD", todo_fd, 1);
        t->fn();
        fflush(stdout);
        exit(0);
    }
    close(fds[1]);
    Capture *cap = calloc(1, sizeof *cap);
    bool timed_out = false, open = true;
    while (open) {
        double left = limit - (ps_now() - t0);
        if (left <= 0) {
            timed_out = true;
            kill(pid, SIGKILL);
            break;
        }
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int r = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r > 0) open = collect(fds[0], cap);
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    remove_test_dir();
    o.seconds = ps_now() - t0;
    if (ps_last_check) o.reached.file = ps_last_check->file, o.reached.line = ps_last_check->line;
    o.output = captured_text(cap);
    free(cap);
    if (timed_out) {
        o.status = "TIMEOUT";
        snprintf(o.detail, sizeof o.detail, "timeout %.0fs", limit);
    } else if (WIFSIGNALED(status)) {
        o.status = "CRASH";
        snprintf(o.detail, sizeof o.detail, "%s", strsignal(WTERMSIG(status)));
    } else {
        int code = WEXITSTATUS(status);
        o.status = code == 0 ? "PASS" : code == LAB_TODO_EXIT ? "TODO" : code == SKIP_EXIT ? "SKIP" : "FAIL";
    }
    char left[96];
    if (remove_leftovers(left, sizeof left) && !timed_out && !WIFSIGNALED(status)) {
        o.status = "FAIL";
        snprintf(o.detail, sizeof o.detail, "left %s behind", left);
    }
    return o;
}

static Outcome run_inline(const PsTest *t) {
    // PS_NOFORK=1: run in this process, for a debugger. A failure then ends the whole run.
    Outcome o = {.status = "PASS"};
    name_test_dir();
    double t0 = ps_now();
    t->fn();
    remove_test_dir();
    o.seconds = ps_now() - t0;
    return o;
}

static void print_indented(const char *text) {
    const char *p = text;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        printf("    %.*s\n", len, p);
        p = nl ? nl + 1 : NULL;
    }
}

// The book section of the task a test stopped at: LAB_TODO's message ends "Read book/...#task".
static void todo_anchor(const char *output, char *out, size_t cap) {
    out[0] = '\0';
    for (const char *p = output; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        const char *read = strncmp(p, "TODO M", 6) == 0 ? strstr(p, ". Read ") : NULL;
        const char *nl = strchr(p, '\n');
        if (!read || (nl && read > nl)) continue;
        read += 7;
        size_t n = strcspn(read, " \n");
        snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), read);
        return;
    }
}

// One line per test: "STATUS suite name anchor [anchor of the TODO it stopped at]". The anchors let
// tools/summarize put what is left in the chapter's order.
static void append_result(const char *status, const char *suite, const PsTest *t, const char *todo) {
    const char *path = getenv("PS_RESULTS");
    if (!path || !*path) return;
    FILE *f = fopen(path, "a");
    if (!f) return;
    fprintf(f, "%s %s %s %s%s%s\n", status, suite, t->name, t->anchor, *todo ? " " : "", todo);
    fclose(f);
}

// A crash or a hang is best looked at in a debugger, with the test in the debugger's own process.
static void print_debug_hint(const Outcome *o, const char *argv0, const PsTest *t) {
    if (strcmp(o->status, "TIMEOUT") == 0) {
        if (o->reached.file)
            printf("    hung: the last check it reached is %s:%d\n", o->reached.file, o->reached.line);
        else
            printf("    hung: before reaching its first check\n");
    }
#ifdef __APPLE__
    const char *debugger = "lldb --";
#else
    const char *debugger = "gdb --args";
#endif
    printf("    debug: PS_NOFORK=1 %s %s %s%s\n", debugger, argv0, t->name,
           strcmp(o->status, "TIMEOUT") == 0 ? "   (run; when it hangs, interrupt and `bt`)" : "");
}

int ps_main(const char *suite, const PsTest *tests, size_t n, int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : getenv("ONLY");
    if (only && strncmp(only, "ONLY=", 5) == 0) only += 5;  // the printed rerun line: ./test ONLY=name
    if (only && strcmp(only, "--list") == 0) {
        for (size_t i = 0; i < n; i++) printf("%s\n", tests[i].name);
        return 0;
    }
    size_t selected = 0;
    for (size_t i = 0; i < n; i++) selected += name_matches(tests[i].name, only);
    if (selected == 0 && only && *only) return 0;  // ONLY= names tests of another file: stay quiet
    bool nofork = getenv("PS_NOFORK") && *getenv("PS_NOFORK") == '1';
    const char *rerun = getenv("PS_RERUN");
    suite_id = suite;
    // $PS_VARIANT names a second run of the same tests under other conditions ("M6[racecheck]").
    char label[96];
    const char *variant = getenv("PS_VARIANT");
    if (variant && *variant) snprintf(label, sizeof label, "%s[%s]", suite, variant), suite = label;
    race_checked = variant && strstr(variant, "race");
    if (!nofork) {  // a fresh slot: a suite run inside a test (the harness's self-tests) has its own
        void *slot = mmap(NULL, sizeof(PsPlace), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (slot != MAP_FAILED) ps_last_check = slot;
    }
    size_t passed = 0, failed = 0, skipped = 0, todo = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < n; i++) {
        const PsTest *t = &tests[i];
        if (!name_matches(t->name, only)) continue;
        Outcome o = nofork ? run_inline(t) : run_child(t);
        const char *s = o.status;
        if (o.detail[0]) printf("%s %-32s FAIL (%s) %.2fs\n", suite, t->name, o.detail, o.seconds);
        else printf("%s %-32s %s %.2fs\n", suite, t->name, s, o.seconds);
        bool ok = strcmp(s, "PASS") == 0, skip = strcmp(s, "SKIP") == 0;
        if (!ok && o.output && *o.output) print_indented(o.output);
        if (strcmp(s, "CRASH") == 0 || strcmp(s, "TIMEOUT") == 0) print_debug_hint(&o, argv[0], t);
        if (!ok && !skip) {
            printf("    book: %s\n", t->anchor);
            if (rerun) printf("    rerun: %s ONLY=%s\n", rerun, t->name);
        }
        char todo_at[256] = "";
        if (strcmp(s, "TODO") == 0) todo_anchor(o.output, todo_at, sizeof todo_at);
        append_result(s, suite, t, todo_at);
        if (ok) passed++;
        else if (skip) skipped++;
        else if (strcmp(s, "TODO") == 0) todo++;
        else failed++;
        free(o.output);
    }
    printf("%s: %zu passed, %zu failed, %zu todo, %zu skipped\n", suite, passed, failed, todo, skipped);
    (void)in_child;
    return (failed || todo) ? 1 : 0;
}

// ---- comparisons ----

double ps_max_abs_err(const float *got, const float *want, size_t n, size_t *where) {
    double worst = -1;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - (double)want[i];
        if (d != d) d = INFINITY;
        d = d < 0 ? -d : d;
        if (d > worst) worst = d, at = i;
    }
    if (where) *where = at;
    return worst;
}

static void format_index(char *out, size_t cap, size_t flat, int ndim, const int64_t *dims) {
    if (ndim <= 1 || !dims) {
        snprintf(out, cap, "[%zu]", flat);
        return;
    }
    size_t idx[8];
    for (int d = ndim - 1; d >= 0; d--) {
        idx[d] = flat % (size_t)dims[d];
        flat /= (size_t)dims[d];
    }
    size_t used = (size_t)snprintf(out, cap, "[");
    for (int d = 0; d < ndim && used < cap; d++)
        used += (size_t)snprintf(out + used, cap - used, d ? ", %zu" : "%zu", idx[d]);
    if (used < cap) snprintf(out + used, cap - used, "]");
}

static bool close_impl(const char *what, const float *got, const float *want, size_t n,
                       int ndim, const int64_t *dims, double atol, double rtol) {
    size_t bad = 0, worst_i = 0;
    double worst_excess = -1;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        double tol = atol + rtol * (w < 0 ? -w : w);
        double d = g - w;
        d = d < 0 ? -d : d;
        bool ok = (d <= tol) || (g == w);  // g == w admits matching infinities
        if (!ok) {
            double excess = (d != d) ? INFINITY : d - tol;
            if (bad == 0 || excess > worst_excess) worst_excess = excess, worst_i = i;
            bad++;
        }
    }
    if (bad == 0) return true;
    char idx[96];
    format_index(idx, sizeof idx, worst_i, ndim, dims);
    fprintf(stderr, "%s: %zu of %zu values differ; worst at %s: got %.7g want %.7g (abs err %.3g)\n",
            what, bad, n, idx, (double)got[worst_i], (double)want[worst_i],
            fabs((double)got[worst_i] - (double)want[worst_i]));
    size_t nan = 0;
    for (size_t i = 0; i < n; i++) nan += got[i] != got[i];
    if (nan && !race_checked && (strcmp(suite_id, "M6") == 0 || strcmp(suite_id, "M7") == 0))
        fprintf(stderr, "  %zu of the values are NaN: on the GPU that is often a thread reading memory before "
                        "another wrote it (a missing barrier). Try the race checker: make check-lab %c CHECK=races\n",
                nan, suite_id[1]);
    size_t show = n < 8 ? n : 8;
    fprintf(stderr, "  first values:  index        got            want\n");
    for (size_t i = 0; i < show; i++)
        fprintf(stderr, "                %-8zu %-14.7g %-14.7g\n", i, (double)got[i], (double)want[i]);
    return false;
}

bool ps_close_f32(const char *what, const float *got, const float *want, size_t n,
                  double atol, double rtol) {
    return close_impl(what, got, want, n, 1, NULL, atol, rtol);
}

bool ps_close_f32_shaped(const char *what, const float *got, const float *want,
                         int ndim, const int64_t *dims, double atol, double rtol) {
    size_t n = 1;
    for (int d = 0; d < ndim; d++) n *= (size_t)dims[d];
    return close_impl(what, got, want, n, ndim, dims, atol, rtol);
}

static void print_ids_around(const char *label, const int32_t *ids, size_t n, size_t at) {
    size_t lo = at > 4 ? at - 4 : 0, hi = at + 5 < n ? at + 5 : n;
    fprintf(stderr, "  %s (%zu ids): %s", label, n, lo ? "... " : "");
    for (size_t i = lo; i < hi; i++) fprintf(stderr, i == at ? "[%d] " : "%d ", (int)ids[i]);
    fprintf(stderr, "%s\n", hi < n ? "..." : "");
}

bool ps_equal_i32(const char *what, const int32_t *got, size_t ngot,
                  const int32_t *want, size_t nwant) {
    size_t n = ngot < nwant ? ngot : nwant, i = 0;
    while (i < n && got[i] == want[i]) i++;
    if (i == n && ngot == nwant) return true;
    fprintf(stderr, "%s: first difference at index %zu (got %zu ids, want %zu)\n", what, i, ngot, nwant);
    print_ids_around("got ", got, ngot, i);
    print_ids_around("want", want, nwant, i);
    return false;
}

bool ps_equal_bytes(const char *what, const void *got_v, const void *want_v, size_t n) {
    const unsigned char *got = got_v, *want = want_v;
    size_t i = 0;
    while (i < n && got[i] == want[i]) i++;
    if (i == n) return true;
    size_t lo = i & ~(size_t)15, hi = lo + 32 < n ? lo + 32 : n;
    fprintf(stderr, "%s: first differing byte at offset %zu of %zu\n", what, i, n);
    for (int row = 0; row < 2; row++) {
        const unsigned char *p = row ? want : got;
        fprintf(stderr, "  %s @%-6zu", row ? "want" : "got ", lo);
        for (size_t k = lo; k < hi; k++) fprintf(stderr, k == i ? "[%02x]" : " %02x", p[k]);
        fputc('\n', stderr);
    }
    return false;
}
