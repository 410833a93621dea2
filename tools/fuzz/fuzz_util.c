// Shared scaffolding of the fuzz targets; the contract is in fuzz_util.h.
#include "fuzz_util.h"
#include "forward.h"
#include "quant_model.h"
#include "thread_pool.h"
#include "tokenizer.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Noreturn static void die(const char *what, const char *path) {
    // stderr may be /dev/null by now (fuzz_quiet): say it on file descriptor 2 directly.
    char line[PATH_MAX + 128];
    int n = snprintf(line, sizeof line, "fuzz: %s %s\n", what, path);
    if (n > 0 && write(2, line, (size_t)n) < 0) {}
    abort();
}

_Noreturn void fuzz_fail(const char *why) {
    die("property broken:", why);
    abort();
}

void fuzz_quiet(void) {
    static int done;
    if (done++) return;
    const char *verbose = getenv("PS_FUZZ_VERBOSE");
    if (verbose && verbose[0] == '1') return;
    FILE *null = fopen("/dev/null", "w");
    if (null) stderr = null;   // glibc's stderr is an ordinary variable; fd 2 stays as it was
}

static char scratch[PATH_MAX];

// Removes a scratch directory and its files (the targets write no subdirectories).
static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[PATH_MAX + 256];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static void remove_scratch(void) { remove_dir(scratch); }

// A process that crashed (or ran out of time or memory: libFuzzer then leaves with _Exit) never
// removed its directory; over an hour of fork-mode fuzzing those pile up, so each new process
// sweeps away the ones whose process is gone.
static void remove_stale(const char *base) {
    DIR *d = opendir(base);
    if (!d) return;
    struct dirent *e;
    char path[PATH_MAX + 256];
    while ((e = readdir(d)) != NULL) {
        long pid;
        if (sscanf(e->d_name, "ps-fuzz-%ld-", &pid) != 1 || pid <= 0) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;   // alive (or not ours to judge)
        snprintf(path, sizeof path, "%s/%s", base, e->d_name);
        remove_dir(path);
    }
    closedir(d);
}

const char *fuzz_scratch_dir(void) {
    if (scratch[0]) return scratch;
    const char *bases[] = {getenv("TMPDIR"), "/dev/shm", "/tmp"};
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        struct stat st;
        if (!bases[i] || !bases[i][0] || stat(bases[i], &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        remove_stale(bases[i]);
        snprintf(scratch, sizeof scratch, "%s/ps-fuzz-%ld-XXXXXX", bases[i], (long)getpid());
        if (mkdtemp(scratch)) {
            atexit(remove_scratch);
            return scratch;
        }
    }
    die("cannot create a scratch directory under", "$TMPDIR, /dev/shm or /tmp");
    return NULL;
}

const char *fuzz_write_file(const char *dir, const char *name, const void *data, size_t size) {
    static char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) die("cannot write", path);
    bool written = size == 0 || fwrite(data, 1, size, f) == size;
    if (fclose(f) != 0 || !written) die("cannot write", path);
    return path;
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

const char *fuzz_data_file(const char *name, const char *repo_path) {
    static char path[PATH_MAX + 256];
    const char *env = getenv("PS_FUZZ_DATA");
    if (env && env[0]) {
        snprintf(path, sizeof path, "%s/%s", env, name);
        if (is_file(path)) return path;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        snprintf(path, sizeof path, "%s/%s", exe, name);
        if (is_file(path)) return path;
    }
    if (is_file(repo_path)) return repo_path;
    die("cannot find (set PS_FUZZ_DATA to its folder)", name);
    return NULL;
}

char *fuzz_strndup(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) die("out of memory copying the input", "");
    if (size) memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

struct Tokenizer *fuzz_tiny_tokenizer(void) {
    static Tokenizer *tok;
    if (!tok && !(tok = tokenizer_load(fuzz_data_file("tokenizer.json", "models/tiny/tokenizer.json"))))
        fuzz_fail("cannot load the tiny tokenizer");
    return tok;
}

const char *fuzz_model_setup(void) {
    static const char *dir;
    if (!dir) {
        pool_set_threads(1);   // one process per core; a spinning pool would steal the others
        if (quant_register() != 0) fuzz_fail("quant_register failed");
        dir = fuzz_scratch_dir();
    }
    return dir;
}

static volatile float model_sink;   // keeps the forward pass from being optimized away

void fuzz_model_must_run(Model *m, const char *loader) {
    if (m->cfg.vocab_size <= 64 && m->cfg.dim <= 256 && m->cfg.ffn_dim <= 1024) {
        int32_t ids[2] = {0, m->cfg.vocab_size - 1};
        float logits[2 * 64];
        if (forward(m, ids, 2, logits, NULL) != 0) {
            static char why[128];
            snprintf(why, sizeof why, "forward failed on a model that %s accepted", loader);
            fuzz_fail(why);
        }
        model_sink += logits[0];
    }
    model_free(m);
}
