// bench_gpu: how long M6's kernels take through solutions/m6-metal/gpu.h, at Qwen3-0.6B's sizes, next to
// the CPU engine's code for the same op (forward.h / quant.h) measured in the same run.
//
// On a Mac this is the GPU. On Linux the kernels run on the MSL CPU emulator, and the numbers
// are EMULATOR time: they say how long the tests take here, nothing about the speed of a GPU
// (the emulator models Metal's semantics, not its performance; book/appendix-emulator.md).
// Each line: the median over 9 runs of one op, each its own batch (command buffer), wall time
// around gpu_run, and the GPU time Metal reports for the batch.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "gpu.h"
#include "quant.h"
#include "quant_model.h"   // quant_register: the CPU side's Q8_0 and Q4_0 products run through M2's matmul
#include "timing.h"

#define REPS 9
enum { DIM = 1024, FFN = 3072, HEADS = 16, KV_HEADS = 8, HEAD_DIM = 128 };

static void fill(float *x, size_t n, unsigned seed) {
    unsigned s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / 8388608.0f - 1.0f;
    }
}

// One op, described by what it needs to encode itself into a batch.
typedef struct {
    MtlBuffer *buf[4];
    DType type;
    int a, b, c;
} Op;
typedef void (*EncodeFn)(GpuBatch *b, const Op *op);

static Gpu *g;

static void report(const char *name, EncodeFn encode, const Op *op, double cpu_ms) {
    double wall[REPS], gpu[REPS];
    for (int r = 0; r < REPS; r++) {
        GpuBatch *b = gpu_begin(g);
        encode(b, op);
        double t0 = ps_now();
        if (!b || gpu_run(b, &gpu[r]) != 0) {
            fprintf(stderr, "bench_gpu: %s: %s\n", name, gpu_error(g));
            exit(1);
        }
        wall[r] = ps_now() - t0;
    }
    printf("bench gpu %-30s %8.3f ms wall  %8.3f ms gpu   (cpu engine %8.3f ms)\n", name,
           ps_median(wall, REPS) * 1e3, ps_median(gpu, REPS) * 1e3, cpu_ms);
}

// The CPU engine's time for the same op: ms = the median of REPS runs of stmt.
#define CPU_MS(ms, stmt)                                           \
    do {                                                           \
        double t_[REPS];                                           \
        for (int r_ = 0; r_ < REPS; r_++) {                        \
            double t0_ = ps_now();                                 \
            stmt;                                                  \
            t_[r_] = ps_now() - t0_;                               \
        }                                                          \
        ms = ps_median(t_, REPS) * 1e3;                               \
    } while (0)

static GpuRef R(MtlBuffer *b) { return GPU_REF(b, 0); }
static void enc_matvec(GpuBatch *b, const Op *o) { gpu_matvec(b, R(o->buf[2]), R(o->buf[0]), o->type, o->a, o->b, R(o->buf[1])); }
static void enc_rmsnorm(GpuBatch *b, const Op *o) { gpu_rmsnorm(b, R(o->buf[2]), R(o->buf[0]), R(o->buf[1]), o->a, o->b, 1e-6f); }
static void enc_rope(GpuBatch *b, const Op *o) { gpu_rope(b, R(o->buf[0]), o->a, HEAD_DIM, o->b, 1e6f); }
static void enc_swiglu(GpuBatch *b, const Op *o) { gpu_swiglu(b, R(o->buf[2]), R(o->buf[0]), R(o->buf[1]), o->a); }
static void enc_attention(GpuBatch *b, const Op *o) {
    gpu_attention(b, R(o->buf[3]), R(o->buf[0]), R(o->buf[1]), R(o->buf[2]), o->a, KV_HEADS * HEAD_DIM, HEADS, KV_HEADS, HEAD_DIM);
}

static void bench_matvec(DType type, const char *tname, int rows, int cols) {
    float *w = malloc((size_t)rows * cols * 4), *x = malloc((size_t)cols * 4), *y = malloc((size_t)rows * 4);
    fill(w, (size_t)rows * cols, 1);
    fill(x, (size_t)cols, 2);
    size_t row_bytes = type == DT_F32 ? (size_t)cols * 4 : quant_row_bytes(type, cols);
    MtlBuffer *bw = gpu_alloc(g, row_bytes * rows);
    for (int r = 0; r < rows; r++) {
        void *dst = (char *)mtl_buffer_ptr(bw) + r * row_bytes;
        if (type == DT_F32) memcpy(dst, w + (size_t)r * cols, row_bytes);
        else quantize_row(type, w + (size_t)r * cols, dst, cols);
    }
    Op op = {{bw, gpu_upload(g, x, (size_t)cols * 4), gpu_alloc(g, (size_t)rows * 4)}, type, rows, cols, 0};
    Mat m = {type, rows, cols, mtl_buffer_ptr(bw)};
    double cpu;
    CPU_MS(cpu, matmul(y, x, &m, 1));
    char name[64];
    snprintf(name, sizeof name, "matvec_%s_%dx%d", tname, rows, cols);
    report(name, enc_matvec, &op, cpu);
    for (int i = 0; i < 3; i++) gpu_release(g, op.buf[i]);
    free(w), free(x), free(y);
}

int main(void) {
    if (quant_register() != 0) return 1;   // else matmul has no kernels for the Q8_0 and Q4_0 rows below
    if (!(g = gpu_new())) return 1;
    printf("device: %s%s\n", mtl_device_name(gpu_context(g)),
           strstr(mtl_device_name(gpu_context(g)), "mulator") ? "  (emulator time: NOT GPU speed)" : "");
    bench_matvec(DT_F32, "f32", FFN, DIM);
    bench_matvec(DT_Q8_0, "q8_0", FFN, DIM);
    bench_matvec(DT_Q4_0, "q4_0", FFN, DIM);
    bench_matvec(DT_Q8_0, "q8_0", DIM, FFN);

    float *x = malloc(FFN * 4), *w = malloc(FFN * 4), *out = malloc(FFN * 4);
    fill(x, FFN, 3);
    fill(w, FFN, 4);
    Op norm = {{gpu_upload(g, x, DIM * 4), gpu_upload(g, w, DIM * 4), gpu_alloc(g, DIM * 4)}, DT_F32, 1, DIM, 0};
    double cpu;
    CPU_MS(cpu, rmsnorm(out, x, w, DIM, 1e-6f));
    report("rmsnorm_1x1024", enc_rmsnorm, &norm, cpu);
    Op qk = {{gpu_upload(g, x, HEADS * HEAD_DIM * 4), gpu_upload(g, w, HEAD_DIM * 4), gpu_alloc(g, HEADS * HEAD_DIM * 4)},
             DT_F32, HEADS, HEAD_DIM, 0};
    CPU_MS(cpu, for (int h = 0; h < HEADS; h++) rmsnorm(out + h * HEAD_DIM, x + h * HEAD_DIM, w, HEAD_DIM, 1e-6f));
    report("qk_norm_16x128", enc_rmsnorm, &qk, cpu);
    Op rp = {{gpu_upload(g, x, HEADS * HEAD_DIM * 4)}, DT_F32, HEADS, 1000, 0};
    CPU_MS(cpu, rope(out, HEADS, HEAD_DIM, 1000, 1e6f));
    report("rope_16x128", enc_rope, &rp, cpu);
    Op sw = {{gpu_upload(g, x, FFN * 4), gpu_upload(g, w, FFN * 4), gpu_alloc(g, FFN * 4)}, DT_F32, FFN, 0, 0};
    CPU_MS(cpu, swiglu(out, x, w, FFN));
    report("swiglu_3072", enc_swiglu, &sw, cpu);

    const int positions[] = {512, 2048};
    for (int i = 0; i < 2; i++) {
        int n = positions[i];
        size_t kv = (size_t)n * KV_HEADS * HEAD_DIM;
        float *k = malloc(kv * 4), *v = malloc(kv * 4), *q = malloc(HEADS * HEAD_DIM * 4), *o = malloc(HEADS * HEAD_DIM * 4);
        float *scores = malloc((size_t)n * 4);
        fill(k, kv, 5), fill(v, kv, 6), fill(q, HEADS * HEAD_DIM, 7);
        Op at = {{gpu_upload(g, q, HEADS * HEAD_DIM * 4), gpu_upload(g, k, kv * 4), gpu_upload(g, v, kv * 4),
                  gpu_alloc(g, HEADS * HEAD_DIM * 4)}, DT_F32, n, 0, 0};
        char name[64];
        snprintf(name, sizeof name, "attention_16q_8kv_x128_%dpos", n);
        CPU_MS(cpu, attention(o, q, k, v, n, KV_HEADS * HEAD_DIM, HEADS, KV_HEADS, HEAD_DIM, scores));
        report(name, enc_attention, &at, cpu);
        for (int b = 0; b < 4; b++) gpu_release(g, at.buf[b]);
        free(k), free(v), free(q), free(o), free(scores);
    }
    free(x), free(w), free(out);
    gpu_free(g);
    return 0;
}
