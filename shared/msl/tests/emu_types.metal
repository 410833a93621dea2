// Test kernels: half and bfloat conversions, vector types, atomics.
#include <metal_stdlib>
using namespace metal;

// Every half bit pattern to float, and float to half (rounded) back to bits.
kernel void half_roundtrip(device const ushort *bits [[buffer(0)]],
                           device float *as_float [[buffer(1)]],
                           device const float *values [[buffer(2)]],
                           device ushort *to_half [[buffer(3)]],
                           device ushort *to_bfloat [[buffer(4)]],
                           uint i [[thread_position_in_grid]]) {
    half h = as_type<half>(bits[i]);
    as_float[i] = float(h);
    to_half[i] = as_type<ushort>(half(values[i]));
    to_bfloat[i] = as_type<ushort>(bfloat(values[i]));
}

// half arithmetic rounds like the GPU; vectors have Metal's sizes.
kernel void half_math(device const half4 *a [[buffer(0)]],
                      device float *out [[buffer(1)]],
                      uint i [[thread_position_in_grid]]) {
    half4 v = a[i] * 2.0h + half4(1.0h);
    float2 lo = float2(v.xy);
    out[i * 4 + 0] = lo.x + lo.y;
    out[i * 4 + 1] = dot(float4(v), float4(1.0f));
    out[i * 4 + 2] = float(max(v.z, v.w));
    out[i * 4 + 3] = sizeof(float3) + sizeof(half3) * 100 + sizeof(half4) * 10000;
}

// A histogram with device atomics, from many threadgroups at once.
kernel void histogram(device const uint *x [[buffer(0)]],
                      device atomic_uint *bins [[buffer(1)]],
                      uint i [[thread_position_in_grid]]) {
    atomic_fetch_add_explicit(&bins[x[i] % 16], 1, memory_order_relaxed);
}
