// Rule: a pointer keeps its address space (MSL spec §4): threadgroup memory passed to a threadgroup
// parameter, directly, with an offset, and through a threadgroup pointer variable; a scalar
// threadgroup variable (the spec's own example) and `threadgroup float *p = sh + 32` are valid.
#include <metal_stdlib>
using namespace metal;

static float reduce(float v, threadgroup float *partial, uint tid) {
    partial[tid] = v;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    return partial[0];
}

kernel void k(device float *out [[buffer(0)]], uint tid [[thread_index_in_threadgroup]]) {
    threadgroup float sh[64];
    threadgroup float total;
    threadgroup float *p = sh + 32;
    out[tid] = reduce(1.0f, sh, tid) + reduce(2.0f, sh + 32, tid) + reduce(3.0f, p, tid);
    if (tid == 0) total = out[0];
}
