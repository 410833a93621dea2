// Your lab's contract, copied by tools/mkskel from solutions/m6-metal/gpu.h (do not edit: make skeletons rewrites it).
// The engine's GPU ops (lab M6): each kernel of shaders/*.metal behind one C function.
//
// An op does not run when you call it: it is encoded into a batch, and gpu_run sends the whole
// batch to the GPU as one command buffer (a whole engine puts all of a token's ops into one batch). Ops read
// and write GpuRefs, places in GPU buffers, so that one buffer can hold many tensors (all the
// layers' KV cache, a whole model's weights). All activations are f32; weights may be f32 or M5's
// Q8_0 / Q4_0 blocks.
//
//   Gpu *g = gpu_new();
//   MtlBuffer *x = gpu_upload(g, host_x, n * sizeof(float)), *w = ..., *y = gpu_alloc(g, ...);
//   GpuBatch *b = gpu_begin(g);
//   gpu_rmsnorm(b, GPU_REF(y, 0), GPU_REF(x, 0), GPU_REF(w, 0), 1, n, 1e-6f);
//   if (gpu_run(b, NULL)) fprintf(stderr, "%s\n", gpu_error(g));
//   float *out = mtl_buffer_ptr(y);
#ifndef PS_GPU_H
#define PS_GPU_H

#include <stddef.h>

#include "mtl.h"
#include "safetensors.h"   // DType

typedef struct Gpu Gpu;
typedef struct GpuBatch GpuBatch;

// A place in a GPU buffer: `offset` bytes from its start.
typedef struct {
    MtlBuffer *buf;
    size_t offset;
} GpuRef;
#define GPU_REF(b, off) ((GpuRef){(b), (size_t)(off)})

// The device, and a pipeline for every kernel. NULL (message printed) when there is no GPU or a
// kernel does not compile (the compiler's log is in the message).
Gpu *gpu_new(void);
void gpu_free(Gpu *g);
MtlContext *gpu_context(Gpu *g);
const char *gpu_error(const Gpu *g);   // what the last failed gpu_run said

// Buffers: zero-filled, or a copy of `bytes` bytes of data. NULL when out of memory. The Gpu owns
// them: gpu_free releases every one still there; gpu_release(g, b) releases b earlier.
MtlBuffer *gpu_alloc(Gpu *g, size_t bytes);
MtlBuffer *gpu_upload(Gpu *g, const void *data, size_t bytes);
void gpu_release(Gpu *g, MtlBuffer *b);
// A buffer over memory you own, without a copy (e.g. weights already in memory). ptr and bytes
// must be multiples of the page size (mtl_buffer_wrap); the memory must outlive the buffer. The
// Gpu owns the buffer object, not the memory. NULL (gpu_error says why) when it cannot wrap.
MtlBuffer *gpu_wrap(Gpu *g, void *ptr, size_t bytes);

// ---- batches ----
GpuBatch *gpu_begin(Gpu *g);   // NULL when out of memory
// Runs every op of the batch in order, waits, and frees the batch. 0 on success; -1 when an op
// was given bad arguments or the GPU failed (gpu_error says which). When a kernel is still a lab
// TODO (it stored LAB_TODO_KERNEL's marker), this calls LAB_TODO for that kernel's task.
// *gpu_seconds (when not NULL) receives the GPU time of the batch.
int gpu_run(GpuBatch *b, double *gpu_seconds);

// ---- ops (f32 activations; n, rows, cols >= 1) ----
// out[r] = rmsnorm(x[r]) * weight for r < rows, rows of n values (out may be x).
void gpu_rmsnorm(GpuBatch *b, GpuRef out, GpuRef x, GpuRef weight, int rows, int n, float eps);
// y = W x: W is [rows x cols] of type DT_F32, DT_Q8_0, DT_Q4_0 or DT_Q4A (cols a multiple of the
// block length for the block formats), x is [cols], y is [rows].
void gpu_matvec(GpuBatch *b, GpuRef y, GpuRef w, DType type, int rows, int cols, GpuRef x);
bool gpu_supports(DType type);   // do gpu_matvec and gpu_embed have a kernel for this format?
// RoPE ("rotate half") in place on n_heads heads of head_dim values, at position pos.
void gpu_rope(GpuBatch *b, GpuRef x, int n_heads, int head_dim, int pos, float theta);
// One query (n_heads heads) attending over n_keys positions of k and v, rows kv_stride floats
// apart, GQA as in forward.h's attention(). n_keys is limited by threadgroup memory
// (GPU_ATTENTION_MAX_KEYS).
void gpu_attention(GpuBatch *b, GpuRef out, GpuRef q, GpuRef k, GpuRef v, int n_keys, int kv_stride,
                   int n_heads, int n_kv_heads, int head_dim);
#define GPU_ATTENTION_MAX_KEYS 8000
// out[i] = silu(gate[i]) * up[i];  out[i] = a[i] + x[i]  (out may alias an input).
void gpu_swiglu(GpuBatch *b, GpuRef out, GpuRef gate, GpuRef up, int n);
void gpu_add(GpuBatch *b, GpuRef out, GpuRef a, GpuRef x, int n);
// out = row `token` of table [vocab x cols] (any format gpu_supports), as f32.
void gpu_embed(GpuBatch *b, GpuRef out, GpuRef table, DType type, int cols, int token);

#endif
