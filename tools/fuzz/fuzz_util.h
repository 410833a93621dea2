// Scaffolding shared by the fuzz targets (tools/fuzz/fuzz_*.c): a scratch directory per process,
// writing a file into it, silencing the engine's error messages, finding the committed tokenizer.
// Every target defines LLVMFuzzerTestOneInput; clang links it with libFuzzer, gcc with
// tools/fuzz/corpus_main.c (runs it over files). See DEVELOPERS.md, "Fuzzing".
#ifndef PS_FUZZ_UTIL_H
#define PS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// Once per process: points the C `stderr` stream at /dev/null, so the engine's messages about bad
// input (one per execution) neither flood the terminal nor slow the fuzzer down. Sanitizer and
// libFuzzer reports are untouched: they write to file descriptor 2 or keep their own FILE.
// PS_FUZZ_VERBOSE=1 keeps the messages (to see why an input is refused).
void fuzz_quiet(void);

// A directory private to this process (under $TMPDIR, else /dev/shm, else /tmp), created on first
// use and removed with its files at exit. Aborts if it cannot be made: a fuzzer without its
// scratch space would only report noise.
const char *fuzz_scratch_dir(void);

// Writes data[0..size) to DIR/name (replacing it) and returns the full path (static buffer, valid
// until the next call). Aborts on an I/O error, for the same reason.
const char *fuzz_write_file(const char *dir, const char *name, const void *data, size_t size);

// The path of a file the targets read: $PS_FUZZ_DATA/name, else beside the fuzz binary (the bundle
// of make fuzz-bundle), else repo_path (relative to the repository root, where make runs). Aborts
// when none exists.
const char *fuzz_data_file(const char *name, const char *repo_path);

// An input broke a property the target checks (not a sanitizer finding): prints "fuzz: why" on
// file descriptor 2 and aborts, which both drivers report as a crash with the input saved.
_Noreturn void fuzz_fail(const char *why);

// The committed tiny tokenizer (models/tiny/tokenizer.json, or the bundle's copy), loaded on the
// first call and kept: the encode and decode targets fuzz their input against it.
struct Tokenizer;
struct Tokenizer *fuzz_tiny_tokenizer(void);

// Once per process, for the targets that load models: the thread pool at one thread (one process
// per core: a spinning pool would steal the others), M5's formats registered; returns the scratch
// directory.
const char *fuzz_model_setup(void);

// A model that `loader` accepted must run: two tokens (0 and the last id) through every matrix,
// whatever its format (small models only, for speed). Then frees it.
void fuzz_model_must_run(Model *m, const char *loader);

// A NUL-terminated malloc'd copy of data[0..size) (the parsers take C strings); aborts on OOM.
char *fuzz_strndup(const uint8_t *data, size_t size);

#endif
