// Rule: position attributes are uint or ushort, or vectors of them (MSL spec §5.2.3.6 Kernel
// function input attributes).
// expect: [[thread_position_in_grid]] parameter 'gid' must be uint or ushort
#include <metal_stdlib>
using namespace metal;

kernel void k(device float *out [[buffer(0)]],
              float gid [[thread_position_in_grid]],   // <- error
              int2 tg [[threadgroup_position_in_grid]],   // <- error
              uint2 lane [[thread_index_in_simdgroup]]) {   // <- error
    out[uint(gid)] = float(tg.x + lane.x);
}
