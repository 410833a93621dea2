// Rule: no function pointers (MSL spec §1.5.4 Restrictions): call the function.
#include <metal_stdlib>
using namespace metal;

static float twice(float x) { return 2.0f * x; }

kernel void k(device float *out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    out[i] = twice(out[i]);
}
