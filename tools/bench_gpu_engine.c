// bench_gpu_engine: decode time per token of the GPU engine (lab M7) in f32, Q8_0 and Q4_0, next
// to the CPU engine (M4/M5's kv_cache_forward) on the same Model, and the roofline: bytes a
// token must read ÷ memory bandwidth.
//
//   build/tools/bench_gpu_engine [MODEL_DIR]   (default: $PS_BENCH_MODEL, models/qwen3-0.6b if its
//                                               weights are there, else models/tiny)
//   PS_BANDWIDTH_GBS=400 (default 100): the memory bandwidth the roofline ratio assumes (M-series:
//   68-120 GB/s base chips, 150-273 Pro, 300-546 Max; book/m5-quantization.md lists each chip).
//
// On a Mac: tokens per second from wall time, the bandwidth the GPU time implies, and the ratio to
// the roofline. On Linux the kernels run on the MSL CPU emulator: its times are printed as EMULATOR
// time, which is NOT GPU speed (book/appendix-emulator.md) — only how long the tests take here.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu_engine.h"
#include "kvcache.h"
#include "quant.h"
#include "quant_model.h"
#include "timing.h"

#define PREFILL 8
#define DECODE 16

static size_t mat_bytes(const Mat *w) {
    return w->dtype == DT_F32 ? (size_t)w->rows * w->cols * 4 : quant_row_bytes(w->dtype, w->cols) * (size_t)w->rows;
}

// What one decode step reads: every layer's weights, the final norm, the lm_head, one embedding
// row, and the keys and values of `pos` cached positions (f32).
static double bytes_per_token(const Model *m, int pos) {
    const Config *c = &m->cfg;
    double b = mat_bytes(&m->lm_head) + (double)mat_bytes(&m->embed) / c->vocab_size + c->dim * 4.0;
    for (int l = 0; l < c->n_layers; l++) {
        const Layer *L = &m->layers[l];
        b += mat_bytes(&L->wq) + mat_bytes(&L->wk) + mat_bytes(&L->wv) + mat_bytes(&L->wo) +
             mat_bytes(&L->w_gate) + mat_bytes(&L->w_up) + mat_bytes(&L->w_down);
        b += (2.0 * c->dim + 2.0 * c->head_dim) * 4;
    }
    return b + 2.0 * c->n_layers * pos * c->n_kv_heads * c->head_dim * 4;
}

static int bench(const char *dir, const char *format, DType type, double bandwidth) {
    Model m;
    if (model_load(&m, dir, PS_MAP_READ) != 0) return -1;
    if (type != DT_F32 && quantize_model(&m, type, false) != 0) return model_free(&m), -1;
    int32_t ids[PREFILL + DECODE];
    for (int i = 0; i < PREFILL + DECODE; i++) ids[i] = (i * 7919 + 13) % m.cfg.vocab_size;
    float *logits = malloc((size_t)m.cfg.vocab_size * sizeof *logits);
    GpuEngine e;
    KVCache kc;
    if (!logits || gpu_engine_init(&e, &m, PREFILL + DECODE) != 0) return free(logits), model_free(&m), -1;
    if (kv_cache_init(&kc, &m, PREFILL + DECODE, 0) != 0) return gpu_engine_free(&e), free(logits), model_free(&m), -1;
    const char *device = mtl_device_name(gpu_context(e.gpu));
    bool emulator = strstr(device, "emulator") != NULL;
    double wall[DECODE], gpu[DECODE], cpu[DECODE];
    int rc = gpu_engine_forward(&e, ids, PREFILL, logits, false) | kv_cache_forward(&kc, ids, PREFILL, logits, false);
    for (int t = 0; t < DECODE && rc == 0; t++) {
        double g0 = e.gpu_seconds, t0 = ps_now();
        rc |= gpu_engine_forward(&e, ids + PREFILL + t, 1, logits, false);
        double t1 = ps_now();
        rc |= kv_cache_forward(&kc, ids + PREFILL + t, 1, logits, false);
        wall[t] = t1 - t0, gpu[t] = e.gpu_seconds - g0, cpu[t] = ps_now() - t1;
    }
    if (rc == 0) {
        double bytes = bytes_per_token(&m, PREFILL + DECODE / 2), w = ps_median(wall, DECODE);
        double g = ps_median(gpu, DECODE), c = ps_median(cpu, DECODE), roof = bytes / (bandwidth * 1e9);
        printf("bench gpu_engine %-5s %7.1f MB/token  dispatches/token %d\n", format, bytes / 1e6,
               1 + 17 * m.cfg.n_layers + 2);
        if (emulator)
            printf("    EMULATOR (not GPU speed): %.2f ms/token   | CPU engine %.2f ms/token | a GPU at %.0f GB/s: "
                   ">= %.3f ms/token (roofline %.0f tok/s)\n", w * 1e3, c * 1e3, bandwidth, roof * 1e3, 1 / roof);
        else
            printf("    %s: %.1f tok/s (%.3f ms wall, %.3f ms GPU, %.0f GB/s) | roofline at %.0f GB/s: %.0f tok/s, "
                   "reached %.0f%% | CPU engine %.1f tok/s\n", device, 1 / w, w * 1e3, g * 1e3, bytes / g / 1e9,
                   bandwidth, 1 / roof, 100 * roof / w, 1 / c);
    }
    kv_cache_free(&kc);
    gpu_engine_free(&e);
    free(logits);
    model_free(&m);
    return rc;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : getenv("PS_BENCH_MODEL");
    if (!dir) dir = access("models/qwen3-0.6b/model.safetensors", F_OK) == 0 ? "models/qwen3-0.6b" : "models/tiny";
    const char *bw = getenv("PS_BANDWIDTH_GBS");
    double bandwidth = bw ? atof(bw) : 100;
    if (bandwidth <= 0) return fprintf(stderr, "PS_BANDWIDTH_GBS must be a positive number\n"), 2;
    printf("bench_gpu_engine: %s, decode at positions %d..%d, medians of %d tokens\n", dir, PREFILL,
           PREFILL + DECODE - 1, DECODE);
    int rc = bench(dir, "f32", DT_F32, bandwidth) | bench(dir, "q8_0", DT_Q8_0, bandwidth) |
             bench(dir, "q4_0", DT_Q4_0, bandwidth);
    return rc ? 1 : 0;
}
