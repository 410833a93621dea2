// Your lab's contract, copied by tools/mkskel from solutions/m6-metal/kernel_params.h (do not edit: make skeletons rewrites it).
// Each kernel's constants, defined once for both sides: gpu_ops.c fills one of these structs and
// copies its bytes to the GPU (mtl_set_bytes), the kernel in shaders/*.metal reads them as
// `constant XParams &p`. Both include this file (a .metal file by its path from the repository
// root: shared/mtl.h says how that is found), so they cannot disagree on an order or a type; the
// asserts check that no compiler pads them differently. Only 4-byte fields: every offset is a
// multiple of 4 on both sides.
#ifndef PS_KERNEL_PARAMS_H
#define PS_KERNEL_PARAMS_H

#ifndef __METAL_VERSION__
#include <assert.h>   // static_assert, C11's spelling of _Static_assert (C++'s keyword in MSL)
#include <stdint.h>
#endif

typedef struct {
    uint32_t n;    // values per row
    float eps;
} RmsnormParams;   // rmsnorm.metal
static_assert(sizeof(RmsnormParams) == 8, "RmsnormParams: 2 x 4 bytes");

typedef struct {
    uint32_t rows, cols;
} MatvecParams;    // matvec.metal
static_assert(sizeof(MatvecParams) == 8, "MatvecParams: 2 x 4 bytes");

typedef struct {
    uint32_t head_dim;
    uint32_t pos;
    float theta;
} RopeParams;      // rope.metal
static_assert(sizeof(RopeParams) == 12, "RopeParams: 3 x 4 bytes");

typedef struct {
    uint32_t n_keys;      // positions in the cache (the causal mask: pos + 1)
    uint32_t kv_stride;   // floats between consecutive positions of k and v
    uint32_t n_heads, n_kv_heads, head_dim;
    float scale;          // 1 / sqrt(head_dim)
} AttentionParams;        // attention.metal
static_assert(sizeof(AttentionParams) == 24, "AttentionParams: 6 x 4 bytes");

typedef struct {
    uint32_t cols;
    uint32_t token;
} EmbedParams;     // embed.metal
static_assert(sizeof(EmbedParams) == 8, "EmbedParams: 2 x 4 bytes");

#endif
