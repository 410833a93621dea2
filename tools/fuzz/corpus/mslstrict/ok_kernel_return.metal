// Rule: a kernel returns void (MSL spec §5.1.3 Kernel functions); helpers may return anything.
#include <metal_stdlib>
using namespace metal;

static int one() { return 1; }

kernel void k(device float *out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    out[i] = float(one());
}
