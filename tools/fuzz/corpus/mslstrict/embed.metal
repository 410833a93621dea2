// lab: m6-metal
// Embedding lookup: out = row `token` of the table [vocab x cols], widened to f32 when the table
// is quantized (M5's Q8_0, Q4_0 and Q4A blocks, read in place).
//
// Geometry (book/m6-metal.md#embed-kernel): a grid of exactly cols threads, one per output value;
// thread c finds its block (c / 32) and its place in the block (c % 32).
#include <metal_stdlib>
using namespace metal;

#include "solutions/m6-metal/kernel_params.h"   // the constants, as gpu_ops.c fills them
#include "solutions/m5-quantization/quant_blocks.h"   // M5's blocks, as quantize_row wrote them

kernel void embed_f32(device const float *table [[buffer(0)]],
                      device float *out [[buffer(1)]],
                      constant EmbedParams &p [[buffer(2)]],
                      uint c [[thread_position_in_grid]]) {
    out[c] = table[(ulong)p.token * p.cols + c];
}

kernel void embed_q8_0(device const BlockQ8_0 *table [[buffer(0)]],
                       device float *out [[buffer(1)]],
                       constant EmbedParams &p [[buffer(2)]],
                       uint c [[thread_position_in_grid]]) {
    device const BlockQ8_0 &b = table[(ulong)p.token * (p.cols / 32) + c / 32];
    out[c] = float(b.d) * float(b.qs[c % 32]);
}

kernel void embed_q4_0(device const BlockQ4_0 *table [[buffer(0)]],
                       device float *out [[buffer(1)]],
                       constant EmbedParams &p [[buffer(2)]],
                       uint c [[thread_position_in_grid]]) {
    device const BlockQ4_0 &b = table[(ulong)p.token * (p.cols / 32) + c / 32];
    //> M6 embed-q4-kernel
    //? Weight k of a block (k = c % 32) sits in byte k % 16: the low nibble for k < 16, the high
    //? one for k >= 16. Its value is d * (q - 8).
    //= LAB_TODO_KERNEL(out[c]);
    uint k = c % 32;
    uint8_t byte = b.qs[k % 16];
    uint q = k < 16 ? (byte & 15) : (byte >> 4);
    out[c] = float(b.d) * float(int(q) - 8);
    //<
}

kernel void embed_q4a(device const BlockQ4A *table [[buffer(0)]],
                      device float *out [[buffer(1)]],
                      constant EmbedParams &p [[buffer(2)]],
                      uint c [[thread_position_in_grid]]) {
    device const BlockQ4A &g = table[(ulong)p.token * (p.cols / 64) + c / 64];
    uint k = c % 64;
    uint8_t byte = g.qs[k / 2];
    uint q = k % 2 == 0 ? (byte & 15) : (byte >> 4);
    out[c] = float(g.scale) * float(q) + float(g.bias);
}
