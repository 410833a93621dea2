// A catalogue of small wrong kernels, one per class of bug the checking build must report
// (issue 16), and the valid forms it must accept. test_emu_bugs.c asserts each report.
#include <metal_stdlib>
using namespace metal;

struct Pair { float a; int b; };

// Through a pointer passed to a helper: the helper's missing barrier is a race on 'partial'.
static float helper_sum(float v, threadgroup float *partial, uint tid) {
    partial[tid] = v;
    return partial[tid ^ 1];
}
kernel void race_helper(device float *y [[buffer(0)]], uint tid [[thread_index_in_threadgroup]]) {
    threadgroup float partial[64];
    y[tid] = helper_sum(float(tid), partial, tid);
}

// A [[threadgroup(0)]] buffer, float4 elements, a member written and another thread's read.
kernel void race_tgbuf_float4(device float *y [[buffer(0)]],
                              threadgroup float4 *buf [[threadgroup(0)]],
                              uint tid [[thread_index_in_threadgroup]]) {
    buf[tid].x = float(tid);
    y[tid] = buf[(tid + 1) % 32].x;
}

// An array of structs, and pointer arithmetic: `threadgroup Pair *p = pairs + 16;`.
kernel void race_struct_ptr(device float *y [[buffer(0)]], uint tid [[thread_index_in_threadgroup]]) {
    threadgroup Pair pairs[64];
    threadgroup Pair *upper = pairs + 16;
    pairs[tid].a = float(tid);
    y[tid] = tid < 16 ? upper[tid].a : 0.0f;
}

// mem_flags::mem_none synchronizes execution only: threadgroup memory is not ordered.
kernel void race_mem_none(device float *y [[buffer(0)]], uint tid [[thread_index_in_threadgroup]]) {
    threadgroup float sh[64];
    sh[tid] = float(tid);
    threadgroup_barrier(mem_flags::mem_none);
    y[tid] = sh[tid ^ 1];
}

// A barrier in a helper called from both sides of a branch: two different barriers on the GPU.
static void sync_helper() { threadgroup_barrier(mem_flags::mem_threadgroup); }
kernel void diverge_helper(device float *y [[buffer(0)]], uint tid [[thread_index_in_threadgroup]]) {
    if (tid < 32) sync_helper();
    else sync_helper();
    y[tid] = 1.0f;
}

// A loop's barrier skipped by a thread-dependent continue: each thread passes three barriers,
// but not the same three.
kernel void diverge_continue(device float *y [[buffer(0)]], uint tid [[thread_index_in_threadgroup]]) {
    threadgroup float sh[64];
    for (uint i = 0; i < 4; i++) {
        if (i == (tid & 1)) continue;
        sh[tid] = float(i);
        threadgroup_barrier(mem_flags::mem_threadgroup);
    }
    y[tid] = sh[tid];
}

// simdgroup_barrier in divergent code.
kernel void diverge_simd_barrier(device float *y [[buffer(0)]], uint lane [[thread_index_in_simdgroup]]) {
    if (lane < 16) simdgroup_barrier(mem_flags::mem_none);
    y[lane] = 1.0f;
}

// Lanes reaching one simd_sum in different iterations are different collectives: even lanes
// sum in iteration 0, odd lanes in iteration 1, 16 lanes each (not 32 merged). Valid code.
kernel void simd_sum_iterations(device float *y [[buffer(0)]], uint lane [[thread_index_in_simdgroup]]) {
    float s = 0.0f;
    for (uint i = 0; i < 2; i++) {
        if ((lane & 1) == i) s += simd_sum(1.0f);
    }
    y[lane] = s;
}

// Reads 64 floats of a threadgroup(0) buffer whatever its length (the host gives it 128 bytes).
kernel void tg_too_small(device float *y [[buffer(0)]],
                         threadgroup float *scores [[threadgroup(0)]],
                         uint tid [[thread_index_in_threadgroup]]) {
    scores[tid] = 1.0f;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    y[tid] = scores[tid];
}

// A broadcast from a lane that does not exist in a group of 8 threads.
kernel void lane_missing(device float *y [[buffer(0)]], uint lane [[thread_index_in_simdgroup]]) {
    y[lane] = simd_broadcast(float(lane), 20);
}

// Valid forms: a scalar threadgroup variable, and a pointer into the middle of an array.
kernel void valid_scalar_ptr(device float *y [[buffer(0)]], uint tid [[thread_index_in_threadgroup]]) {
    threadgroup float total;
    threadgroup float sh[64];
    threadgroup float *upper = sh + 32;
    if (tid == 0) total = 0.5f;
    sh[tid] = float(tid);
    threadgroup_barrier(mem_flags::mem_threadgroup);
    y[tid] = (tid < 32 ? upper[tid] : sh[tid - 32]) + total;
}

// A device buffer overrun: 64 floats bound, threads 4..7 write past the end.
kernel void dev_overrun(device float *y [[buffer(0)]], uint tid [[thread_index_in_threadgroup]]) {
    device float *tail = y + 60;
    tail[tid] = 1.0f;
}

// Device memory: a thread reads what its neighbour writes, with no barrier in between.
kernel void dev_race_neighbour(device float *y [[buffer(0)]], uint tid [[thread_index_in_threadgroup]]) {
    y[tid] = float(tid);
    float next = y[(tid + 1) % 32];
    y[32 + tid] = next;
}

// Across threadgroups a barrier does not help: group 1 reads what group 0 writes.
kernel void dev_race_groups(device float *y [[buffer(0)]], uint gid [[thread_position_in_grid]],
                            uint lane [[thread_index_in_threadgroup]]) {
    y[gid] = 1.0f;
    threadgroup_barrier(mem_flags::mem_device);
    if (gid >= 32) y[gid] += y[lane];
}

// Valid: inside one threadgroup a barrier with mem_device orders device memory.
kernel void dev_barrier_ok(device float *y [[buffer(0)]], uint tid [[thread_index_in_threadgroup]]) {
    y[tid] = float(tid);
    threadgroup_barrier(mem_flags::mem_device);
    float next = y[(tid + 1) % 32];
    threadgroup_barrier(mem_flags::mem_device);
    y[tid] = next;
}
