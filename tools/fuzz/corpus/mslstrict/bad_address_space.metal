// Rule: a pointer names its address space (MSL spec §4 Address spaces).
// expect: has no address space
#include <metal_stdlib>
using namespace metal;

static float first(float *p) { return p[0]; }   // <- error

kernel void k(device float *out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    float x = 1.0f;
    float *q = &x;   // <- error
    out[i] = *q;
}
