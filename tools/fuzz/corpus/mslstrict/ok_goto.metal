// Rule: no goto (MSL spec §1.5.4 Restrictions): an early return instead.
#include <metal_stdlib>
using namespace metal;

kernel void k(device float *out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    if (out[i] < 0.0f) return;
    out[i] = sqrt(out[i]);
}
