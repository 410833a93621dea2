// Rule: atomic_float exists in device memory only (MSL spec §2.6): a device atomic_float, also
// spelled atomic<float>, and integer atomics in threadgroup memory.
#include <metal_stdlib>
using namespace metal;

static void tally(threadgroup atomic_uint *c, device atomic_uint *total) {
    atomic_fetch_add_explicit(c, 1u, memory_order_relaxed);
    atomic_fetch_add_explicit(total, atomic_load_explicit(c, memory_order_relaxed), memory_order_relaxed);
}

kernel void k(device float *in [[buffer(0)]], device atomic_float *sum [[buffer(1)]],
              device atomic<float> *sum2 [[buffer(2)]], device atomic_uint *count [[buffer(3)]],
              uint tid [[thread_index_in_threadgroup]]) {
    threadgroup atomic_uint seen[1];
    atomic_fetch_add_explicit(&seen[0], 1u, memory_order_relaxed);
    atomic_fetch_add_explicit(sum, in[tid], memory_order_relaxed);
    atomic_fetch_add_explicit(sum2, in[tid], memory_order_relaxed);
    atomic_fetch_add_explicit(count, 1u, memory_order_relaxed);
    tally(seen, count);
}
