// lab: m6-metal
// RoPE, Qwen3's "rotate half" layout: in each head of head_dim values, element i and element
// i + head_dim/2 form a pair that turns by the angle pos * theta^(-2i/head_dim).
// Applied in place to one token's q (n_heads heads) or k (n_kv_heads heads).
//
// Geometry (book/m6-metal.md#rope-kernel): a 2-D grid of exactly head_dim/2 x n_heads threads,
// one per pair. Pairs are independent, so there is nothing to share and no barrier; each thread
// reads its two values before writing them back, so in place is safe.
#include <metal_stdlib>
using namespace metal;

#include "solutions/m6-metal/kernel_params.h"   // the constants, as gpu_ops.c fills them

kernel void rope_f32(device float *x [[buffer(0)]],   // [n_heads][head_dim], rotated in place
                     constant RopeParams &p [[buffer(1)]],
                     uint2 gid [[thread_position_in_grid]]) {   // (pair i, head)
    uint half_dim = p.head_dim / 2;
    device float *v = x + gid.y * p.head_dim;
    uint i = gid.x;
    //> M6 rope-kernel
    //? freq = 1 / theta^(2i / head_dim), angle = pos * freq, all in float like transformers. Use
    //? precise::pow, precise::cos and precise::sin: the angle reaches thousands of radians at long
    //? positions, where the fast versions lose digits. Then a' = a cos - b sin, b' = b cos + a sin
    //? for a = v[i], b = v[i + half_dim].
    //= LAB_TODO_KERNEL(v[i]);
    float freq = 1.0f / precise::pow(p.theta, float(2 * i) / float(p.head_dim));
    float angle = float(p.pos) * freq;
    float c = precise::cos(angle), s = precise::sin(angle);
    float a = v[i], b = v[i + half_dim];
    v[i] = a * c - b * s;
    v[i + half_dim] = b * c + a * s;
    //<
}
