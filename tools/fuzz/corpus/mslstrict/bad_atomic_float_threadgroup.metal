// Rule: atomic_float exists in device memory only (MSL spec §2.6 Atomic data types).
// expect: atomic_float in threadgroup memory
#include <metal_stdlib>
using namespace metal;

kernel void k(device float *out [[buffer(0)]], uint tid [[thread_index_in_threadgroup]]) {
    threadgroup atomic_float sum;   // <- error
    atomic_fetch_add_explicit(&sum, out[tid], memory_order_relaxed);
    threadgroup_barrier(mem_flags::mem_threadgroup);
    out[tid] = atomic_load_explicit(&sum, memory_order_relaxed);
}
