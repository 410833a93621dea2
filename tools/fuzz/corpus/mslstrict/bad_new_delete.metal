// Rule: no new and delete (MSL spec §1.5.4 Restrictions): there is no heap on the GPU.
// expect: 'new' is not supported
#include <metal_stdlib>
using namespace metal;

kernel void k(device float *out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    thread float *tmp = new float[4];   // <- error
    tmp[0] = out[i];
    out[i] = tmp[0];
    delete[] tmp;   // <- error
}
