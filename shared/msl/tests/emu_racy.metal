// Deliberately wrong kernels: the emulator must catch each one (test_emu.c).
#include <metal_stdlib>
using namespace metal;

// Missing barrier between writing and reading a neighbour's slot: a race.
kernel void racy_neighbour(device const float *x [[buffer(0)]],
                           device float *y [[buffer(1)]],
                           uint tid [[thread_index_in_threadgroup]],
                           uint n [[threads_per_threadgroup]]) {
    threadgroup float shared_vals[64];
    shared_vals[tid] = x[tid];
    // threadgroup_barrier(mem_flags::mem_threadgroup);   <- forgotten
    y[tid] = shared_vals[(tid + 1) % n];
}

// Early return before a barrier: barrier divergence.
kernel void early_return(device float *y [[buffer(0)]],
                         uint tid [[thread_index_in_threadgroup]]) {
    threadgroup float t[64];
    if (tid >= 40) return;
    t[tid] = 1.0f;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    y[tid] = t[(tid + 1) % 40];
}

// The same reduction as tg_reduce with the barrier inside the loop missing.
kernel void racy_reduce(device const float *x [[buffer(0)]],
                        device float *out [[buffer(1)]],
                        uint tid [[thread_index_in_threadgroup]]) {
    threadgroup float partial[64];
    partial[tid] = x[tid];
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint stride = 32; stride > 0; stride /= 2) {
        if (tid < stride) partial[tid] += partial[tid + stride];
    }
    if (tid == 0) out[0] = partial[0];
}
