// Rule: no function pointers (MSL spec §1.5.4 Restrictions; Metal's [[visible]] function tables
// are another mechanism, which the emulator does not model).
// expect: function pointers are not supported
#include <metal_stdlib>
using namespace metal;

static float twice(float x) { return 2.0f * x; }

kernel void k(device float *out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    float (*op)(float) = twice;   // <- error
    out[i] = op(out[i]);
}
