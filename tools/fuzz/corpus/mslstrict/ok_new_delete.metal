// Rule: no new and delete (MSL spec §1.5.4 Restrictions): a local array instead.
#include <metal_stdlib>
using namespace metal;

kernel void k(device float *out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    float tmp[4];
    tmp[0] = out[i];
    out[i] = tmp[0];
}
