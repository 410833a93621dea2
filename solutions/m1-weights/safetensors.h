// Reading safetensors checkpoints: the file format Hugging Face models ship their weights in.
//
// A .safetensors file is: 8 bytes little-endian u64 N, then N bytes of JSON header, then the raw
// tensor data. The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
// with offsets relative to the start of the data section. Big models are split into shards listed
// by model.safetensors.index.json. Everything here is validated before use: a checkpoint is input
// from the outside world, so a bad one must give a clear error, never a crash.
#ifndef PS_SAFETENSORS_H
#define PS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "mapfile.h"

// The element types of a tensor. A safetensors file holds F32, BF16, F16, or U8: raw bytes, which
// this lab reads only as the packed matrices of a registered format (model.h, MatFormat). Later labs
// number their own matrix formats from DT_EXTENSION on, so one field says what any matrix holds.
typedef int DType;
enum { DT_F32, DT_BF16, DT_F16, DT_U8, DT_EXTENSION };

const char *dtype_name(DType t);   // "F32", "BF16", "F16", "U8"; "?" otherwise (mat_type_name names formats)
size_t dtype_size(DType t);        // bytes per element: 4, 2, 2, 1; 0 for a registered block format

#define ST_MAX_DIMS 8

typedef struct {
    char *name;                    // "model.layers.0.self_attn.q_proj.weight"
    DType dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];    // row-major: shape[ndim-1] varies fastest
    size_t numel;                  // product of the shape (1 for a scalar)
    size_t nbytes;                 // numel * dtype_size
    size_t offset;                 // of the first byte, inside the data section of its file
    const void *data;              // points into the mapped file; no alignment guarantee
    int file;                      // index into SafeTensors.files (the shard)
} StTensor;

typedef struct {
    PsFile *files;                // one mapped file per shard
    char **paths;                  // their paths, for error messages
    int n_files;
    StTensor *tensors;             // all tensors of all shards, in header order
    int n_tensors;
    struct StNameIndex *by_name;   // name -> index into tensors (an stb_ds string map), for st_find
} SafeTensors;

// Opens one .safetensors file and validates its header. 0 on success; on failure prints
// "PATH: what is wrong (tensor NAME)" to stderr, leaves *st empty and returns -1.
int st_open_file(SafeTensors *st, const char *path, PsMapMode mode);

// Opens a model directory: DIR/model.safetensors, or the shards named by
// DIR/model.safetensors.index.json. Same error contract as st_open_file.
int st_open_dir(SafeTensors *st, const char *dir, PsMapMode mode);

// Parses and validates a header already in memory (the JSON text, data_size bytes of data after it)
// and appends its tensors to st with file index `file`. `what` names the file in messages.
// Exposed so tests can feed crafted headers. 0 or -1 (message printed).
int st_parse_header(SafeTensors *st, const char *json, size_t json_len, size_t data_size,
                    int file, const char *what);

// ---- extension point: headers rewritten before they are parsed ----
// A file laid out like safetensors whose header names element types this lab does not read can
// still be read here, with every check: a later lab gives a rewrite that turns each header (as
// read: json_len bytes, not NUL-terminated) into one this reader knows, e.g. a tensor of 4-byte
// integers described as U8 with a last dimension four times as long (the same bytes). It returns
// the new header, NUL-terminated and malloc'd (the reader frees it), or NULL after a message.
typedef char *(*StHeaderRewrite)(const char *json, size_t json_len, const char *path);

// Maps one more file (a shard) into st, reads its header length and header, passes the header
// through rewrite (NULL: none), and appends its tensors. 0, or -1 (message printed) with st
// holding what it had and maybe the new file: the caller's st_close releases both.
int st_add_file(SafeTensors *st, const char *path, PsMapMode mode, StHeaderRewrite rewrite);

// NULL when absent. A hash lookup: a loader may call it for every tensor a config implies.
const StTensor *st_find(const SafeTensors *st, const char *name);
void st_close(SafeTensors *st);

#endif
