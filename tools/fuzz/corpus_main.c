// The gcc builds' stand-in for libFuzzer's driver (gcc has no libFuzzer): feeds every file of the
// directories (and files) named on the command line to LLVMFuzzerTestOneInput once, in name order,
// each in a malloc'd buffer of exactly its size so the sanitizers see any read past the end.
// Arguments starting with '-' are libFuzzer options and are ignored, so both builds take the same
// command line. Prints "N inputs" at the end; a sanitizer report aborts the process (non-zero).
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"

// LeakSanitizer's check on demand, so a leak is blamed on the input that caused it rather than
// reported once at exit (weak: absent from a build without ASan).
extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static long n_inputs;
// stderr as it was at start: a target may point `stderr` at /dev/null (fuzz_quiet).
static FILE *log_file;

static void run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(log_file, "corpus_main: cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(size > 0 ? (size_t)size : 1);
    if (size < 0 || !data || (size > 0 && fread(data, 1, (size_t)size, f) != (size_t)size)) {
        fprintf(log_file, "corpus_main: cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    fprintf(log_file, "Running: %s\n", path);   // the input to blame if the next lines are a report
    LLVMFuzzerTestOneInput(data, (size_t)size);
    free(data);
    if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check()) {
        fprintf(log_file, "corpus_main: memory leaked while running %s\n", path);
        exit(1);
    }
    n_inputs++;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(log_file, "corpus_main: cannot open directory %s\n", dir);
        exit(2);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;   // ., .., and hidden files such as .gitkeep
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown) exit(2);
            names = grown;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, by_name);
    char path[PATH_MAX + 256];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) run_file(path);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv) {
    log_file = stderr;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') continue;
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(log_file, "corpus_main: %s does not exist\n", argv[i]);
            return 2;
        }
        if (S_ISDIR(st.st_mode)) run_dir(argv[i]);
        else run_file(argv[i]);
    }
    fprintf(log_file, "corpus_main: %ld inputs\n", n_inputs);
    return 0;
}
