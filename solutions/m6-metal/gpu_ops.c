// The GPU side of the engine, part 2: one function per op, which checks its arguments, binds the
// buffers its kernel reads and writes, and chooses the dispatch geometry (how many threadgroups,
// how many threads in each). The kernels are in shaders/*.metal; the device and batches in gpu.c.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "gpu_internal.h"
#include "kernel_params.h"   // RmsnormParams ...: the kernels include the same file
#include "quant.h"

//[ kernel-dir
// Where the .metal files are. The reference engine uses shaders/; your copy of this file,
// labs/m6-metal/gpu_ops.c, is compiled under that name, so it loads your kernels from
// labs/m6-metal/shaders/ (on a Mac from the source files, on Linux the emulator's objects that
// the Makefile builds from them).
const char *gpu_kernel_dir(void) {
    return strncmp(__FILE__, "labs/", 5) == 0 ? "labs/m6-metal/shaders" : "shaders";
}
//]

// A kernel reads `bytes` bytes at r: they must be inside the buffer, or it would read past its end.
static bool fits(GpuBatch *b, GpuRef r, size_t bytes, const char *what) {
    if (r.buf && r.offset <= mtl_buffer_size(r.buf) && bytes <= mtl_buffer_size(r.buf) - r.offset)
        return true;
    gpu_fail(b, "%s: %zu bytes at offset %zu do not fit in a buffer of %zu bytes", what, bytes, r.offset,
             r.buf ? mtl_buffer_size(r.buf) : 0);
    return false;
}
#define F32(n) ((size_t)(n) * sizeof(float))

static int round_up(int n, int m) { return (n + m - 1) / m * m; }
static int min_int(int a, int b) { return a < b ? a : b; }

void gpu_rmsnorm(GpuBatch *b, GpuRef out, GpuRef x, GpuRef weight, int rows, int n, float eps) {
    if (rows < 1 || n < 1) { gpu_fail(b, "rmsnorm: rows=%d n=%d", rows, n); return; }
    if (!fits(b, x, F32((size_t)rows * n), "rmsnorm x") || !fits(b, out, F32((size_t)rows * n), "rmsnorm out") ||
        !fits(b, weight, F32(n), "rmsnorm weight"))
        return;
    gpu_use(b, K_RMSNORM);
    //> M6 rmsnorm-dispatch
    //? Bind x, weight and out to buffers 0, 1, 2 (gpu_bind) and the constants to buffer 3
    //? (mtl_set_bytes(b->cmd, ...)). One threadgroup per row; in each, enough threads to cover
    //? the row once (a multiple of 32, the SIMD width), but at most 256 and at most what the
    //? pipeline allows (gpu_max_threads).
    RmsnormParams p = {(uint32_t)n, eps};
    gpu_bind(b, 0, x);
    gpu_bind(b, 1, weight);
    gpu_bind(b, 2, out);
    mtl_set_bytes(b->cmd, 3, &p, sizeof p);
    int threads = min_int(min_int(round_up(n, 32), 256), gpu_max_threads(b, K_RMSNORM));
    mtl_dispatch_groups(b->cmd, MTL_SIZE(rows, 1, 1), MTL_SIZE(threads, 1, 1));
    //<
    gpu_output(b, "rmsnorm-kernel", out, (size_t)rows * n);
}

// SIMD-groups (= output rows) per threadgroup of the matvec kernels.
#define MATVEC_ROWS_PER_GROUP 4

void gpu_matvec(GpuBatch *b, GpuRef y, GpuRef w, DType type, int rows, int cols, GpuRef x) {
    GpuKernel k;
    const char *task;
    switch (type) {
    case DT_F32: k = K_MATVEC_F32; task = "matvec-f32-kernel"; break;
    case DT_Q8_0: k = K_MATVEC_Q8_0; task = "matvec-q8-kernel"; break;
    case DT_Q4_0: k = K_MATVEC_Q4_0; task = "matvec-q4-kernel"; break;
    case DT_Q4A: k = K_MATVEC_Q4A; task = NULL; break;   // given, no TODO
    default: gpu_fail(b, "matvec: weights of type %d have no GPU kernel (f32, Q8_0, Q4_0, Q4A)", (int)type); return;
    }
    if (rows < 1 || cols < 1 || (type != DT_F32 && cols % quant_block_len(type) != 0)) {
        gpu_fail(b, "matvec: %d x %d is not a valid shape for this type", rows, cols);
        return;
    }
    size_t row_bytes = type == DT_F32 ? F32(cols) : quant_row_bytes(type, cols);
    if (w.offset % (type == DT_F32 ? 4 : 2) != 0) {   // the blocks' half scale needs 2-byte alignment
        gpu_fail(b, "matvec: weights at offset %zu are misaligned", w.offset);
        return;
    }
    if (!fits(b, w, row_bytes * (size_t)rows, "matvec w") || !fits(b, x, F32(cols), "matvec x") ||
        !fits(b, y, F32(rows), "matvec y"))
        return;
    gpu_use(b, k);
    //> M6 matvec-dispatch
    //? Bind w, x, y to buffers 0, 1, 2 and {rows, cols} to buffer 3. Each SIMD-group computes one
    //? row and a threadgroup holds MATVEC_ROWS_PER_GROUP SIMD-groups of 32 threads: enough
    //? threadgroups for every row (the last one may have SIMD-groups with no row: they return).
    MatvecParams p = {(uint32_t)rows, (uint32_t)cols};
    gpu_bind(b, 0, w);
    gpu_bind(b, 1, x);
    gpu_bind(b, 2, y);
    mtl_set_bytes(b->cmd, 3, &p, sizeof p);
    int groups = (rows + MATVEC_ROWS_PER_GROUP - 1) / MATVEC_ROWS_PER_GROUP;
    mtl_dispatch_groups(b->cmd, MTL_SIZE(groups, 1, 1), MTL_SIZE(32 * MATVEC_ROWS_PER_GROUP, 1, 1));
    //<
    if (task) gpu_output(b, task, y, (size_t)rows);
}

bool gpu_supports(DType type) { return type == DT_F32 || type == DT_Q8_0 || type == DT_Q4_0 || type == DT_Q4A; }

//[ rope-dispatch
void gpu_rope(GpuBatch *b, GpuRef x, int n_heads, int head_dim, int pos, float theta) {
    if (n_heads < 1 || head_dim < 2 || head_dim % 2 || pos < 0) {
        gpu_fail(b, "rope: n_heads=%d head_dim=%d pos=%d", n_heads, head_dim, pos);
        return;
    }
    if (!fits(b, x, F32((size_t)n_heads * head_dim), "rope x")) return;
    RopeParams p = {(uint32_t)head_dim, (uint32_t)pos, theta};
    gpu_use(b, K_ROPE);
    gpu_bind(b, 0, x);
    mtl_set_bytes(b->cmd, 1, &p, sizeof p);
    // a grid of exactly (pairs, heads) threads; threadgroups of one head's pairs (at most 1024)
    int pairs = head_dim / 2;
    mtl_dispatch_threads(b->cmd, MTL_SIZE(pairs, n_heads, 1), MTL_SIZE(min_int(pairs, 1024), 1, 1));
    gpu_output(b, "rope-kernel", x, (size_t)n_heads * head_dim);
}
//]

void gpu_attention(GpuBatch *b, GpuRef out, GpuRef q, GpuRef k, GpuRef v, int n_keys, int kv_stride,
                   int n_heads, int n_kv_heads, int head_dim) {
    if (n_keys < 1 || n_keys > GPU_ATTENTION_MAX_KEYS || n_heads < 1 || n_kv_heads < 1 ||
        n_heads % n_kv_heads || head_dim < 1 || kv_stride < n_kv_heads * head_dim) {
        gpu_fail(b, "attention: n_keys=%d (at most %d) n_heads=%d n_kv_heads=%d head_dim=%d kv_stride=%d",
                 n_keys, GPU_ATTENTION_MAX_KEYS, n_heads, n_kv_heads, head_dim, kv_stride);
        return;
    }
    size_t kv_bytes = F32((size_t)(n_keys - 1) * kv_stride + (size_t)n_kv_heads * head_dim);
    if (!fits(b, q, F32((size_t)n_heads * head_dim), "attention q") || !fits(b, k, kv_bytes, "attention k") ||
        !fits(b, v, kv_bytes, "attention v") || !fits(b, out, F32((size_t)n_heads * head_dim), "attention out"))
        return;
    gpu_use(b, K_ATTENTION);
    //> M6 attention-dispatch
    //? Buffers 0..3: q, k, v, out; buffer 4: the constants (scale = 1 / sqrt(head_dim), computed
    //? here in float like forward.c). Threadgroup memory 0 holds the n_keys scores: its length
    //? must be a multiple of 16 bytes. One threadgroup per query head, 256 threads (at most what
    //? the pipeline allows).
    AttentionParams p = {(uint32_t)n_keys, (uint32_t)kv_stride, (uint32_t)n_heads, (uint32_t)n_kv_heads,
                         (uint32_t)head_dim, 1.0f / sqrtf((float)head_dim)};
    gpu_bind(b, 0, q);
    gpu_bind(b, 1, k);
    gpu_bind(b, 2, v);
    gpu_bind(b, 3, out);
    mtl_set_bytes(b->cmd, 4, &p, sizeof p);
    mtl_set_threadgroup_memory(b->cmd, 0, (size_t)round_up(n_keys, 4) * sizeof(float));
    int threads = min_int(256, gpu_max_threads(b, K_ATTENTION));
    mtl_dispatch_groups(b->cmd, MTL_SIZE(n_heads, 1, 1), MTL_SIZE(threads, 1, 1));
    //<
    gpu_output(b, "attention-kernel", out, (size_t)n_heads * head_dim);
}

// The element-wise ops: a grid of exactly n threads in threadgroups of 256.
static void elementwise(GpuBatch *b, GpuKernel k, const char *task, GpuRef out, GpuRef in0, GpuRef in1, int n) {
    if (n < 1) { gpu_fail(b, "%s: n=%d", task, n); return; }
    if (!fits(b, in0, F32(n), task) || !fits(b, in1, F32(n), task) || !fits(b, out, F32(n), task)) return;
    gpu_use(b, k);
    gpu_bind(b, 0, in0);
    gpu_bind(b, 1, in1);
    gpu_bind(b, 2, out);
    mtl_dispatch_threads(b->cmd, MTL_SIZE(n, 1, 1), MTL_SIZE(min_int(256, gpu_max_threads(b, k)), 1, 1));
    gpu_output(b, task, out, (size_t)n);
}

void gpu_swiglu(GpuBatch *b, GpuRef out, GpuRef gate, GpuRef up, int n) {
    elementwise(b, K_SWIGLU, "swiglu-kernel", out, gate, up, n);
}
void gpu_add(GpuBatch *b, GpuRef out, GpuRef a, GpuRef x, int n) {
    elementwise(b, K_ADD, "add-kernel", out, a, x, n);
}

void gpu_embed(GpuBatch *b, GpuRef out, GpuRef table, DType type, int cols, int token) {
    GpuKernel k = type == DT_F32 ? K_EMBED_F32 : type == DT_Q8_0 ? K_EMBED_Q8_0 : type == DT_Q4_0 ? K_EMBED_Q4_0 : K_EMBED_Q4A;
    if (!gpu_supports(type) || cols < 1 || (type != DT_F32 && cols % quant_block_len(type)) || token < 0) {
        gpu_fail(b, "embed: type %d, cols=%d, token=%d", (int)type, cols, token);
        return;
    }
    size_t row_bytes = type == DT_F32 ? F32(cols) : quant_row_bytes(type, cols);
    if (!fits(b, table, row_bytes * ((size_t)token + 1), "embed table (token out of range?)") ||
        !fits(b, out, F32(cols), "embed out"))
        return;
    EmbedParams p = {(uint32_t)cols, (uint32_t)token};
    gpu_use(b, k);
    gpu_bind(b, 0, table);
    gpu_bind(b, 1, out);
    mtl_set_bytes(b->cmd, 2, &p, sizeof p);
    mtl_dispatch_threads(b->cmd, MTL_SIZE(cols, 1, 1), MTL_SIZE(min_int(256, gpu_max_threads(b, k)), 1, 1));
    if (type == DT_Q4_0) gpu_output(b, "embed-q4-kernel", out, (size_t)cols);   // the one with a TODO
}
