// Rule: atomic_float has load, store, exchange, compare_exchange, fetch_add and fetch_sub only
// (MSL spec §6.15.4 Atomic functions).
// expect: atomic_fetch_max_explicit on atomic_float 'best'
#include <metal_stdlib>
using namespace metal;

kernel void k(device float *in [[buffer(0)]], device atomic_float *best [[buffer(1)]],
              uint i [[thread_position_in_grid]]) {
    atomic_fetch_max_explicit(best, in[i], memory_order_relaxed);   // <- error
    atomic_fetch_min_explicit(&best[1], in[i], memory_order_relaxed);   // <- error
}
