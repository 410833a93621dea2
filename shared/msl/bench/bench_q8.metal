// Benchmark kernel: y = W x with W in Q8_0 (blocks of 32 int8 weights sharing one half scale),
// the shape of a Qwen3-0.6B projection. One SIMD-group per row; each lane takes whole blocks.
#include <metal_stdlib>
using namespace metal;

struct block_q8_0 {
    half d;         // scale
    char qs[32];    // quantized weights
};

kernel void matvec_q8_0(device const block_q8_0 *w [[buffer(0)]],
                        device const float *x [[buffer(1)]],
                        device float *y [[buffer(2)]],
                        constant uint &ncols [[buffer(3)]],
                        constant uint &nrows [[buffer(4)]],
                        uint tg [[threadgroup_position_in_grid]],
                        uint sg [[simdgroup_index_in_threadgroup]],
                        uint nsg [[simdgroups_per_threadgroup]],
                        uint lane [[thread_index_in_simdgroup]]) {
    uint row = tg * nsg + sg;
    if (row >= nrows) return;
    uint nblocks = ncols / 32;
    device const block_q8_0 *wr = w + row * nblocks;
    float sum = 0.0f;
    for (uint b = lane; b < nblocks; b += 32) {
        device const float *xb = x + b * 32;
        device const char *qs = wr[b].qs;
        float acc = 0.0f;
        for (uint i = 0; i < 32; i++) acc += xb[i] * float(qs[i]);
        sum += acc * float(wr[b].d);
    }
    sum = simd_sum(sum);
    if (lane == 0) y[row] = sum;
}
