// Rule: a pointer keeps its address space; a device pointer is not a threadgroup pointer (MSL spec §4).
// expect: points to device memory but parameter 2 of 'reduce'
#include <metal_stdlib>
using namespace metal;

static float reduce(float v, threadgroup float *partial, uint tid) {
    partial[tid] = v;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    return partial[0];
}

kernel void k(device float *out [[buffer(0)]], uint tid [[thread_index_in_threadgroup]]) {
    out[tid] = reduce(1.0f, out + 32, tid);   // <- error
}
