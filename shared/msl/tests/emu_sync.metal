// Test kernels: barriers in helpers, [[threadgroup(n)]], SIMD collectives (divergent, partial),
// 2-D grids. Each is compared with a plain C reference in test_emu.c.
#include <metal_stdlib>
using namespace metal;

// A barrier inside a helper: the pre-pass must classify the *kernel* as full-threadgroup.
static void sync_all() { threadgroup_barrier(mem_flags::mem_threadgroup); }

// Rotate a block of values by one thread through threadgroup memory given by the host
// ([[threadgroup(0)]]), twice, with the barriers inside a helper.
kernel void rotate_twice(device const float *x [[buffer(0)]],
                         device float *y [[buffer(1)]],
                         threadgroup float *scratch [[threadgroup(0)]],
                         uint tid [[thread_index_in_threadgroup]],
                         uint n [[threads_per_threadgroup]],
                         uint gid [[thread_position_in_grid]]) {
    scratch[tid] = x[gid];
    sync_all();
    float v = scratch[(tid + 1) % n];
    sync_all();
    scratch[tid] = v;
    sync_all();
    y[gid] = scratch[(tid + 1) % n];
}

// Collectives inside a helper that is defined before, but runs after, the divergent part.
static float first_plus_max(float v) { return simd_broadcast(v, 0) + simd_max(v); }

// Divergent SIMD collectives: lanes with lane % 3 == 0 sum among themselves, the others among
// themselves; then prefix sums, shuffles and broadcasts over the whole (maybe partial) group.
kernel void simd_mix(device const float *x [[buffer(0)]],
                     device float4 *out [[buffer(1)]],
                     uint gid [[thread_position_in_grid]],
                     ushort lane [[thread_index_in_simdgroup]]) {
    float v = x[gid];
    float branch;
    if (lane % 3 == 0) branch = simd_sum(v);
    else branch = simd_sum(2.0f * v);
    float prefix = simd_prefix_exclusive_sum(v);
    float down = simd_shuffle_down(v, 1);
    float first = first_plus_max(v);
    out[gid] = float4(branch, prefix, down, first);
}

// A 2-D grid: every thread writes its coordinates and what it knows of its threadgroup.
kernel void grid2d(device uint4 *out [[buffer(0)]],
                   constant uint &width [[buffer(1)]],
                   uint2 pos [[thread_position_in_grid]],
                   uint2 tg [[threadgroup_position_in_grid]],
                   uint2 size [[threads_per_threadgroup]],
                   uint2 local [[thread_position_in_threadgroup]]) {
    uint2 back = tg * uint2(4, 8) + local;  // the dispatch uses 4x8 threadgroups
    out[pos.y * width + pos.x] = uint4(pos.x, pos.y, back.x == pos.x && back.y == pos.y, size.x * size.y);
}

// Threadgroup reduction that first reduces within SIMD-groups (the usual GPU pattern).
kernel void simd_tg_sum(device const float *x [[buffer(0)]],
                        device float *out [[buffer(1)]],
                        constant uint &n [[buffer(2)]],
                        uint tid [[thread_index_in_threadgroup]],
                        uint lane [[thread_index_in_simdgroup]],
                        uint sg [[simdgroup_index_in_threadgroup]],
                        uint nsg [[simdgroups_per_threadgroup]],
                        uint tgsize [[threads_per_threadgroup]]) {
    threadgroup float partial[32];
    float s = 0.0f;
    for (uint i = tid; i < n; i += tgsize) s += x[i];
    s = simd_sum(s);
    if (lane == 0) partial[sg] = s;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    if (sg == 0) {
        s = lane < nsg ? partial[lane] : 0.0f;
        s = simd_sum(s);
        if (lane == 0) out[0] = s;
    }
}

// The collectives whose result every lane shares (computed once per rendezvous by the emulator),
// in two branches that diverge and meet again: each must see its own lanes only.
kernel void simd_votes(device const float *x [[buffer(0)]],
                       device float4 *out [[buffer(1)]],
                       device uint4 *votes [[buffer(2)]],
                       uint gid [[thread_position_in_grid]],
                       ushort lane [[thread_index_in_simdgroup]]) {
    float v = x[gid], a, b;
    if (lane & 1) {
        a = simd_min(v);
        b = simd_product(1.0f + 0.1f * v);
    } else {
        a = simd_max(v);
        b = simd_sum(v);
    }
    bool pos = v > 0.0f;
    uint bits = uint(simd_vote::vote_t(simd_ballot(pos)));
    out[gid] = float4(a, b, float(simd_all(v > -2.0f)), float(simd_any(v > 2.0f)));
    votes[gid] = uint4(bits, simd_all(pos) ? 1 : 0, simd_any(pos) ? 1 : 0, 0);
}
