// Rule: position attributes are uint or ushort, or vectors of them (MSL spec §5.2.3.6).
#include <metal_stdlib>
using namespace metal;

kernel void k(device float *out [[buffer(0)]],
              uint2 gid [[thread_position_in_grid]],
              ushort3 tg [[threadgroup_position_in_grid]],
              const ushort lane [[thread_index_in_simdgroup]],
              uint sg [[simdgroup_index_in_threadgroup]],
              metal::uint3 ntg [[threads_per_threadgroup]]) {
    out[gid.x] = float(tg.x + lane + sg + ntg.x);
}
