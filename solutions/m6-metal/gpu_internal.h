// What solutions/m6-metal/gpu.c (the device, batches, the TODO marker) shares with solutions/m6-metal/gpu_ops.c
// (the ops: buffer bindings and dispatch geometry). Not part of the engine's API: see gpu.h.
#ifndef PS_GPU_INTERNAL_H
#define PS_GPU_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "gpu.h"

// Every kernel the ops use, with the file that defines it (gpu.c's table).
typedef enum {
    K_RMSNORM, K_MATVEC_F32, K_MATVEC_Q8_0, K_MATVEC_Q4_0, K_MATVEC_Q4A, K_ROPE, K_ATTENTION, K_SWIGLU, K_ADD,
    K_EMBED_F32, K_EMBED_Q8_0, K_EMBED_Q4_0, K_EMBED_Q4A, K_COUNT
} GpuKernel;

// The folder gpu_new loads the .metal files from: defined in gpu_ops.c (see there why).
const char *gpu_kernel_dir(void);

// LAB_TODO_KERNEL's marker: a quiet NaN whose low bits read 70D0 ("TODO"). Arithmetic never
// produces this exact pattern from numbers, so finding it in an output means a TODO kernel ran.
#define GPU_TODO_BITS 0x7fc070d0u

// An output to look at after the batch ran: if it holds the marker, `task` is not written yet.
typedef struct {
    const char *task;   // the kernel's task name = its anchor in book/m6-metal.md
    GpuKernel kernel;   // the kernel that wrote it
    GpuRef out;
    size_t n;           // floats
} GpuOutput;

struct GpuBatch {
    Gpu *g;
    MtlCmd *cmd;
    GpuKernel current;    // the kernel of the op being encoded
    GpuOutput *outputs;   // stb_ds array
    char error[256];      // the first bad argument, reported by gpu_run
};

// For gpu_ops.c: choose the kernel of the next dispatch, bind a GpuRef to [[buffer(index)]],
// remember an output of the current kernel to check for the TODO marker, and record a bad argument (first one wins).
void gpu_use(GpuBatch *b, GpuKernel k);
int gpu_max_threads(GpuBatch *b, GpuKernel k);   // per threadgroup, for that kernel
void gpu_bind(GpuBatch *b, int index, GpuRef r);
void gpu_output(GpuBatch *b, const char *task, GpuRef out, size_t n);
void gpu_fail(GpuBatch *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool gpu_failed(const GpuBatch *b);

#endif
