// lab: m6-metal
// RMSNorm on the GPU: out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight, for `rows` rows of n.
// The same kernel serves the block norms (1 row of dim) and Qwen3's QK-norm (one row per head).
//
// Geometry: one threadgroup per row (book/m6-metal.md#rmsnorm-kernel). A row's threads first
// cooperate on one number, the sum of squares, then each scales its own elements: a reduction
// across the whole threadgroup, in two levels (SIMD-group, then threadgroup memory).
#include <metal_stdlib>
using namespace metal;

#include "solutions/m6-metal/kernel_params.h"   // the constants, as gpu_ops.c fills them

//[ rmsnorm-reduce
// The sum of v over every thread of the threadgroup, returned to all of them. Level 1: simd_sum
// inside each SIMD-group (no memory, no barrier). Level 2: lane 0 of each SIMD-group leaves its
// sum in threadgroup memory; after the barrier every SIMD-group adds those (at most 32) sums.
static float threadgroup_sum(float v, threadgroup float *partial, uint lane, uint sg, uint nsg) {
    v = simd_sum(v);
    if (lane == 0) partial[sg] = v;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    v = lane < nsg ? partial[lane] : 0.0f;
    return simd_sum(v);
}
//]

kernel void rmsnorm_f32(device const float *x [[buffer(0)]],       // [rows][n]
                        device const float *weight [[buffer(1)]],  // [n]
                        device float *out [[buffer(2)]],           // [rows][n], may be x
                        constant RmsnormParams &p [[buffer(3)]],
                        uint row [[threadgroup_position_in_grid]],
                        uint tid [[thread_index_in_threadgroup]],
                        uint ntg [[threads_per_threadgroup]],
                        uint lane [[thread_index_in_simdgroup]],
                        uint sg [[simdgroup_index_in_threadgroup]],
                        uint nsg [[simdgroups_per_threadgroup]]) {
    device const float *xr = x + row * p.n;
    device float *outr = out + row * p.n;
    //> M6 rmsnorm-kernel
    //? Each thread adds the squares of elements tid, tid + ntg, ... (strided: neighbouring threads
    //? read neighbouring floats). threadgroup_sum (above) turns the per-thread sums into the row's
    //? sum, using a `threadgroup float partial[32]` you declare here. Then each thread writes its
    //? own elements scaled by rsqrt(sum / n + eps) * weight. Reading x and writing out in the
    //? same pattern makes out == x safe.
    //= for (uint i = tid; i < p.n; i += ntg) LAB_TODO_KERNEL(outr[i]);
    threadgroup float partial[32];
    float sum_sq = 0.0f;
    for (uint i = tid; i < p.n; i += ntg) sum_sq += xr[i] * xr[i];
    sum_sq = threadgroup_sum(sum_sq, partial, lane, sg, nsg);
    float inv_rms = rsqrt(sum_sq / float(p.n) + p.eps);
    for (uint i = tid; i < p.n; i += ntg) outr[i] = xr[i] * inv_rms * weight[i];
    //<
}
