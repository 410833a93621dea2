// Test kernels for the MSL emulator's own suite (shared/msl/tests/test_emu.c).
#include <metal_stdlib>
using namespace metal;

struct Params {
    uint n;
    float scale;
};

// Plain: no thread waits for another.
kernel void scale_add(device const float *x [[buffer(0)]],
                      device float *y [[buffer(1)]],
                      constant Params &p [[buffer(2)]],
                      uint gid [[thread_position_in_grid]]) {
    if (gid >= p.n) return;
    y[gid] = x[gid] * p.scale + 1.0h;
}

// Full threadgroup: tree reduction in threadgroup memory, ragged tail (n not a multiple).
kernel void tg_reduce(device const float *x [[buffer(0)]],
                      device float *out [[buffer(1)]],
                      constant uint &n [[buffer(2)]],
                      uint tid [[thread_position_in_threadgroup]],
                      uint tgid [[threadgroup_position_in_grid]],
                      uint tgsize [[threads_per_threadgroup]]) {
    threadgroup float partial[256];
    float s = 0.0;
    for (uint i = tgid * tgsize + tid; i < n; i += tgsize * 4) s += x[i];
    partial[tid] = s;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint stride = tgsize / 2; stride > 0; stride /= 2) {
        if (tid < stride) partial[tid] += partial[tid + stride];
        threadgroup_barrier(mem_flags::mem_threadgroup);
    }
    if (tid == 0) out[tgid] = partial[0];
}

// SIMD only: one SIMD-group per row, simd_sum; partial SIMD-groups when ncols < 32.
kernel void simd_rowsum(device const float *x [[buffer(0)]],
                        device float *out [[buffer(1)]],
                        constant uint &ncols [[buffer(2)]],
                        uint2 pos [[thread_position_in_grid]],
                        uint lane [[thread_index_in_simdgroup]]) {
    float s = 0;
    for (uint c = lane; c < ncols; c += 32) s += x[pos.y * ncols + c];
    s = simd_sum(s);
    if (lane == 0) out[pos.y] = s;
}
