// Rule: atomic_float has no fetch_max (MSL spec §6.15.4): the maximum of non-negative floats as
// the maximum of their bit patterns, on atomic_uint; fetch_add and exchange on atomic_float.
#include <metal_stdlib>
using namespace metal;

kernel void k(device float *in [[buffer(0)]], device atomic_uint *best [[buffer(1)]],
              device atomic_float *sum [[buffer(2)]], uint i [[thread_position_in_grid]]) {
    atomic_fetch_max_explicit(best, as_type<uint>(fabs(in[i])), memory_order_relaxed);
    atomic_fetch_add_explicit(sum, in[i], memory_order_relaxed);
    atomic_exchange_explicit(&sum[1], in[i], memory_order_relaxed);
}
