// lab: m6-metal
// Matrix-vector products y = W x, the bulk of a decode step: W is [rows x cols], x is [cols].
// Four formats of W: f32, and M5's Q8_0, Q4_0 and Q4A blocks read in place (quant_blocks.h, below).
//
// Geometry (book/m6-metal.md#matvec-kernels): one SIMD-group per output row, a few SIMD-groups
// per threadgroup (row = threadgroup * simdgroups_per_threadgroup + simdgroup). The 32 lanes of a
// SIMD-group walk the row together, each keeping a partial sum, and simd_sum adds the 32 partials:
// no threadgroup memory and no barrier. Decoding reads each weight once, so what matters is that
// neighbouring lanes read neighbouring bytes.
#include <metal_stdlib>
using namespace metal;

#include "solutions/m6-metal/kernel_params.h"   // the constants, as gpu_ops.c fills them
// M5's blocks, byte for byte (34, 18 and 36 bytes: `half` needs only 2-byte alignment, so the
// blocks of a row follow each other with no padding, exactly as quantize_row wrote them).
#include "solutions/m5-quantization/quant_blocks.h"

kernel void matvec_f32(device const float *w [[buffer(0)]],
                       device const float *x [[buffer(1)]],
                       device float *y [[buffer(2)]],
                       constant MatvecParams &p [[buffer(3)]],
                       uint tg [[threadgroup_position_in_grid]],
                       uint sg [[simdgroup_index_in_threadgroup]],
                       uint nsg [[simdgroups_per_threadgroup]],
                       uint lane [[thread_index_in_simdgroup]]) {
    uint row = tg * nsg + sg;
    if (row >= p.rows) return;   // the whole SIMD-group leaves together: simd_sum below stays whole
    device const float *wr = w + (ulong)row * p.cols;
    //> M6 matvec-f32-kernel
    //? Lane l adds w[c] * x[c] for c = l, l + 32, l + 64, ... < cols (a SIMD-group reads 32
    //? consecutive floats per step). simd_sum gives every lane the row's total; lane 0 stores it.
    //= if (lane == 0) LAB_TODO_KERNEL(y[row]);
    float sum = 0.0f;
    for (uint c = lane; c < p.cols; c += 32) sum += wr[c] * x[c];
    sum = simd_sum(sum);
    if (lane == 0) y[row] = sum;
    //<
}

// Q8_0: 4 lanes share a block (8 weights each), so one step of the SIMD-group covers 8 blocks =
// 256 weights, and a 1024-wide row takes 4 steps. (One lane per block would leave most lanes idle
// on short rows and make each lane's reads 34 bytes apart.)
kernel void matvec_q8_0(device const BlockQ8_0 *w [[buffer(0)]],
                        device const float *x [[buffer(1)]],
                        device float *y [[buffer(2)]],
                        constant MatvecParams &p [[buffer(3)]],
                        uint tg [[threadgroup_position_in_grid]],
                        uint sg [[simdgroup_index_in_threadgroup]],
                        uint nsg [[simdgroups_per_threadgroup]],
                        uint lane [[thread_index_in_simdgroup]]) {
    uint row = tg * nsg + sg;
    if (row >= p.rows) return;
    uint nblocks = p.cols / 32;
    device const BlockQ8_0 *wr = w + (ulong)row * nblocks;
    //> M6 matvec-q8-kernel
    //? Work item i = lane, lane + 32, ... < nblocks * 4 is quarter i % 4 of block i / 4: weights
    //? 8*(i%4) .. 8*(i%4)+7 of that block, against the same 8 entries of x. Add the 8 products of
    //? int8 and x, then multiply once by the block's scale d. simd_sum; lane 0 stores.
    //= if (lane == 0) LAB_TODO_KERNEL(y[row]);
    float sum = 0.0f;
    for (uint i = lane; i < nblocks * 4; i += 32) {
        device const BlockQ8_0 &b = wr[i / 4];
        uint first = (i % 4) * 8;
        device const float *xb = x + (i / 4) * 32 + first;
        float acc = 0.0f;
        for (uint j = 0; j < 8; j++) acc += float(b.qs[first + j]) * xb[j];
        sum += float(b.d) * acc;
    }
    sum = simd_sum(sum);
    if (lane == 0) y[row] = sum;
    //<
}

// Q4_0: again 4 lanes per block. Lane quarter k takes bytes 4k .. 4k+3, that is weights
// 4k .. 4k+3 (low nibbles) and 4k+16 .. 4k+19 (high nibbles).
kernel void matvec_q4_0(device const BlockQ4_0 *w [[buffer(0)]],
                        device const float *x [[buffer(1)]],
                        device float *y [[buffer(2)]],
                        constant MatvecParams &p [[buffer(3)]],
                        uint tg [[threadgroup_position_in_grid]],
                        uint sg [[simdgroup_index_in_threadgroup]],
                        uint nsg [[simdgroups_per_threadgroup]],
                        uint lane [[thread_index_in_simdgroup]]) {
    uint row = tg * nsg + sg;
    if (row >= p.rows) return;
    uint nblocks = p.cols / 32;
    device const BlockQ4_0 *wr = w + (ulong)row * nblocks;
    //> M6 matvec-q4-kernel
    //? As for Q8_0, work item i is quarter i % 4 of block i / 4, here bytes 4*(i%4) .. +3. Byte j
    //? holds weight j (q & 15) and weight j + 16 (q >> 4), each worth d * (q - 8).
    //= if (lane == 0) LAB_TODO_KERNEL(y[row]);
    float sum = 0.0f;
    for (uint i = lane; i < nblocks * 4; i += 32) {
        device const BlockQ4_0 &b = wr[i / 4];
        device const float *xb = x + (i / 4) * 32;
        float acc = 0.0f;
        for (uint j = (i % 4) * 4; j < (i % 4) * 4 + 4; j++) {
            uint8_t q = b.qs[j];
            acc += float(int(q & 15) - 8) * xb[j] + float(int(q >> 4) - 8) * xb[j + 16];
        }
        sum += float(b.d) * acc;
    }
    sum = simd_sum(sum);
    if (lane == 0) y[row] = sum;
    //<
}

// Q4A: 8 lanes per group of 64 (8 weights, 4 bytes each), so a step of the SIMD-group covers 4
// groups, as many weights as Q4_0's 8 blocks. w = scale * q + bias, so a lane's share is
// scale * sum q x + bias * sum x: two sums, then the group's two numbers once.
kernel void matvec_q4a(device const BlockQ4A *w [[buffer(0)]],
                       device const float *x [[buffer(1)]],
                       device float *y [[buffer(2)]],
                       constant MatvecParams &p [[buffer(3)]],
                       uint tg [[threadgroup_position_in_grid]],
                       uint sg [[simdgroup_index_in_threadgroup]],
                       uint nsg [[simdgroups_per_threadgroup]],
                       uint lane [[thread_index_in_simdgroup]]) {
    uint row = tg * nsg + sg;
    if (row >= p.rows) return;
    uint ngroups = p.cols / 64;
    device const BlockQ4A *wr = w + (ulong)row * ngroups;
    float sum = 0.0f;
    for (uint i = lane; i < ngroups * 8; i += 32) {
        device const BlockQ4A &g = wr[i / 8];
        uint first = (i % 8) * 4;   // bytes first .. first + 3: weights 2 * first .. 2 * first + 7
        device const float *xg = x + (i / 8) * 64 + 2 * first;
        float qx = 0.0f, xs = 0.0f;
        for (uint j = 0; j < 4; j++) {
            uint8_t q = g.qs[first + j];
            qx += float(q & 15) * xg[2 * j] + float(q >> 4) * xg[2 * j + 1];
            xs += xg[2 * j] + xg[2 * j + 1];
        }
        sum += float(g.scale) * qx + float(g.bias) * xs;
    }
    sum = simd_sum(sum);
    if (lane == 0) y[row] = sum;
}
