// Your lab's contract, copied by tools/mkskel from solutions/m5-quantization/gguf.h (do not edit: make skeletons rewrites it).
// Reading GGUF files: llama.cpp's single-file model format (ggml's docs/gguf.md).
//
// A GGUF file is, all little-endian:
//
//   "GGUF"  u32 version (2 or 3)  u64 n_tensors  u64 n_kv
//   n_kv ×      key: string, u32 value type, value           (metadata: architecture, tokenizer, ...)
//   n_tensors × name: string, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset
//   padding to general.alignment (default 32), then the tensor data; each offset is relative to
//   the data's start and a multiple of the alignment.
//
// A string is u64 length + bytes (no NUL); an array is u32 element type + u64 count + elements.
// Dimensions are listed fastest-varying first: a PyTorch weight [rows, cols] is stored with
// ne[0] = cols, ne[1] = rows, and its bytes in the same row-major order as safetensors'.
//
// Everything is checked before use (a GGUF file is input from the outside world): every length,
// count and offset against the file's size, every type against the known ones. A bad file gives a
// message naming the field and -1, never a read outside the file.
#ifndef PS_GGUF_H
#define PS_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mapfile.h"

// Metadata value types (gguf.md, GGUFValueType).
enum {
    GGUF_U8, GGUF_I8, GGUF_U16, GGUF_I16, GGUF_U32, GGUF_I32, GGUF_F32, GGUF_BOOL, GGUF_STRING,
    GGUF_ARRAY, GGUF_U64, GGUF_I64, GGUF_F64, GGUF_N_VALUE_TYPES
};

// The ggml tensor types protostar reads (their GGUF numbers); every other type is refused by name.
enum { GGML_F32 = 0, GGML_F16 = 1, GGML_Q4_0 = 2, GGML_Q8_0 = 8, GGML_BF16 = 30 };

#define GGUF_MAX_DIMS 4
#define GGUF_DEFAULT_ALIGNMENT 32

typedef struct {
    const char *ptr;   // into the file: not NUL-terminated
    uint64_t len;
} GgufString;

typedef struct {
    char *key;         // NUL-terminated copy
    uint32_t type;     // GGUF_*
    // A scalar, widened: u for unsigned types and bool, i for signed ones, f for floats.
    uint64_t u;
    int64_t i;
    double f;
    GgufString str;    // GGUF_STRING
    uint32_t elem_type;        // GGUF_ARRAY: the element type (never an array)
    uint64_t n_elems;
    const uint8_t *elems;      // the first element in the file (strings: validated, walk them)
} GgufKV;

typedef struct {
    char *name;                // NUL-terminated copy
    int n_dims;
    uint64_t ne[GGUF_MAX_DIMS];   // ne[0] varies fastest (= columns of a matrix)
    uint32_t type;             // GGML_*, one of the five read here
    uint64_t offset;           // within the data section
    uint64_t n_elems, n_bytes;
    const void *data;          // in the file
} GgufTensor;

typedef struct {
    PsFile file;               // when opened by gguf_open
    const char *what;          // the path, for messages
    uint32_t version;
    uint64_t alignment;
    GgufKV *kv;
    uint64_t n_kv;
    GgufTensor *tensors;
    uint64_t n_tensors;
    struct GgufNameIndex *by_name;   // tensor name -> index (stb_ds string map)
} Gguf;

// Maps PATH and parses it. 0, or -1 after printing "PATH: what is wrong".
int gguf_open(Gguf *g, const char *path);
// Parses a GGUF image already in memory (kept by pointer: it must outlive g). `what` names it.
// Neither function reads g first: it may be uninitialized. On failure g is left zeroed.
int gguf_parse(Gguf *g, const void *data, size_t size, const char *what);
void gguf_close(Gguf *g);

const GgufKV *gguf_find_kv(const Gguf *g, const char *key);
const GgufTensor *gguf_find_tensor(const Gguf *g, const char *name);

// Typed lookups for the loader. Each prints "WHAT: key 'KEY' ..." and returns -1 when the key is
// missing or of the wrong type (any integer type for an int, f32 or f64 for a float), or when an
// integer does not fit.
int gguf_get_int(const Gguf *g, const char *key, int64_t min, int64_t max, int64_t *out);
int gguf_get_float(const Gguf *g, const char *key, double *out);
// A string value as a NUL-terminated malloc'd copy; NULL (message printed) when absent or not a string.
char *gguf_get_string(const Gguf *g, const char *key);
// An array of `elem_type`, its count checked: NULL with a message otherwise.
const GgufKV *gguf_get_array(const Gguf *g, const char *key, uint32_t elem_type);

// The strings of a string array, in order: fills ptrs[i]/lens[i] for i < kv->n_elems (the parser
// has checked that they all lie inside the file).
void gguf_array_strings(const GgufKV *kv, const char **ptrs, uint64_t *lens);
// Element i of an integer array, widened (kv->elem_type an integer type, i < n_elems).
int64_t gguf_array_int(const GgufKV *kv, uint64_t i);

const char *gguf_value_type_name(uint32_t t);   // "u32", "string", ... or "unknown"
const char *ggml_type_name(uint32_t t);         // "Q4_K", ... every type ggml defines, or NULL

#endif
