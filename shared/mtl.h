// mtl: the small C API through which protostar drives the GPU.
//
// Two backends implement it. On macOS, shared/mtl_macos.c talks to Metal through the Objective-C
// runtime, in plain C. On Linux, shared/mtl_emu.c runs the same shaders/*.metal
// on the MSL CPU emulator (shared/msl/, book/appendix-emulator.md). Your code cannot tell them
// apart, except that the emulator is slower and catches more bugs.
//
// The shape follows Metal: a context (device + command queue); buffers in shared memory that
// both the CPU and the GPU see; a library of compiled shaders; one pipeline per kernel; a command
// buffer into which you encode dispatches (set a pipeline, bind buffers, dispatch), then commit
// and wait. Nothing runs before mtl_commit. Every function that can fail returns NULL or -1 and
// leaves a message for mtl_error().
//
//   MtlContext *ctx = mtl_context_new();
//   MtlLibrary *lib = mtl_library_new(ctx, "shaders/matvec.metal");
//   MtlPipeline *p = mtl_pipeline_new(lib, "matvec_f32");
//   MtlBuffer *w = mtl_buffer_new(ctx, bytes);          // fill mtl_buffer_ptr(w) on the CPU
//   MtlCmd *cmd = mtl_cmd_new(ctx);
//   mtl_set_pipeline(cmd, p);
//   mtl_set_buffer(cmd, 0, w, 0);
//   mtl_set_bytes(cmd, 2, &n, sizeof n);
//   mtl_dispatch_groups(cmd, MTL_SIZE(rows, 1, 1), MTL_SIZE(32, 1, 1));
//   if (mtl_commit_wait(cmd)) fprintf(stderr, "%s\n", mtl_error());
//   mtl_cmd_free(cmd);
#ifndef MTL_H
#define MTL_H

#include <stddef.h>

typedef struct MtlContext MtlContext;
typedef struct MtlBuffer MtlBuffer;
typedef struct MtlLibrary MtlLibrary;
typedef struct MtlPipeline MtlPipeline;
typedef struct MtlCmd MtlCmd;

// Metal's MTLSize: three NSUInteger (unsigned long on every Apple platform).
typedef struct {
    unsigned long width, height, depth;
} MtlSize;
#define MTL_SIZE(w, h, d) ((MtlSize){(unsigned long)(w), (unsigned long)(h), (unsigned long)(d)})

// The last error of this thread, or "" if none.
const char *mtl_error(void);

// ---- context ----
MtlContext *mtl_context_new(void);  // the default GPU and a command queue
void mtl_context_free(MtlContext *ctx);
const char *mtl_device_name(const MtlContext *ctx);

// ---- buffers (shared storage: the same memory for CPU and GPU) ----
MtlBuffer *mtl_buffer_new(MtlContext *ctx, size_t bytes);  // zero-filled
// Wraps memory you own (e.g. mmap'd weights) without copying. Both ptr and bytes must be
// multiples of the page size (getpagesize()); the memory must outlive the buffer.
MtlBuffer *mtl_buffer_wrap(MtlContext *ctx, void *ptr, size_t bytes);
void *mtl_buffer_ptr(MtlBuffer *b);
size_t mtl_buffer_size(const MtlBuffer *b);
void mtl_buffer_free(MtlBuffer *b);

// ---- shaders ----
// Compiles one .metal file (path relative to the repository root). On the emulator the file has
// been translated and linked in at build time (see shared/msl/msl.mk); the call checks that.
// A .metal file may `#include "path/x.h"` a header it shares with C: found beside the file, else
// from the repository root (the Mac loader inlines it: Metal compiles a string, with no files).
MtlLibrary *mtl_library_new(MtlContext *ctx, const char *metal_path);
void mtl_library_free(MtlLibrary *lib);
MtlPipeline *mtl_pipeline_new(MtlLibrary *lib, const char *kernel_name);
void mtl_pipeline_free(MtlPipeline *p);
int mtl_pipeline_max_threads(const MtlPipeline *p);  // per threadgroup, for this kernel
int mtl_pipeline_simd_width(const MtlPipeline *p);   // threadExecutionWidth: 32

// ---- command buffers ----
MtlCmd *mtl_cmd_new(MtlContext *ctx);
void mtl_set_pipeline(MtlCmd *c, MtlPipeline *p);
void mtl_set_buffer(MtlCmd *c, int index, MtlBuffer *b, size_t offset);  // [[buffer(index)]]
void mtl_set_bytes(MtlCmd *c, int index, const void *data, size_t len);   // small constants, copied
#define MTL_SET_BYTES_MAX 4096  // mtl_set_bytes' limit (Metal's); larger data goes in a buffer
// A NULL pipeline or buffer, an offset past the buffer's end or more than MTL_SET_BYTES_MAX bytes
// is an encoding error on both backends: mtl_commit and mtl_wait return -1 and mtl_error() says
// which call it was (shared/mtl_contract.h).
void mtl_set_threadgroup_memory(MtlCmd *c, int index, size_t len);        // [[threadgroup(index)]]
// A grid of `groups` threadgroups of `threads` threads each.
void mtl_dispatch_groups(MtlCmd *c, MtlSize groups, MtlSize threads);
// A grid of exactly `grid` threads, cut into threadgroups of `threads` (the edge ones smaller).
void mtl_dispatch_threads(MtlCmd *c, MtlSize grid, MtlSize threads);
// Sends everything encoded to the GPU, which runs the dispatches in order. A command buffer is
// committed once; encode the next one while this one runs.
int mtl_commit(MtlCmd *c);
// Waits until it has run. 0 on success, -1 (see mtl_error()) on any failure since mtl_cmd_new.
int mtl_wait(MtlCmd *c);
int mtl_commit_wait(MtlCmd *c);               // both
double mtl_cmd_gpu_seconds(const MtlCmd *c);  // GPU time, after mtl_wait
void mtl_cmd_free(MtlCmd *c);

#endif
