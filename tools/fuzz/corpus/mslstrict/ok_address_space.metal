// Rule: a pointer names its address space (MSL spec §4 Address spaces): the same code, spelled out.
#include <metal_stdlib>
using namespace metal;

static float first(device const float *p) { return p[0]; }

kernel void k(device float *out [[buffer(0)]], device const float *in [[buffer(1)]],
              uint i [[thread_position_in_grid]]) {
    float x = first(in);
    thread float *q = &x;
    out[i] = *q;
}
