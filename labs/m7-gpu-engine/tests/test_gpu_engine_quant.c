// M7 tests, part 2: the quantized GPU engine. Q8_0, Q4_0 and Q4A models of the tiny model against
// Hugging Face's log-probabilities with the same quantized-then-dequantized weights
// (golden/m5/quality.psg), and against this engine's own CPU path (M4's kv_cache_forward on the
// very same quantized Model).
//
// Why the GPU is *closer* to transformers than the CPU engine: M6's kernels multiply the blocks
// by f32 activations, exactly like transformers multiplies dequantized weights by f32 activations.
// The CPU engine (M5) first rounds the activations to 8 bits; that is its whole difference from
// the golden (mean |dlogp| about 0.01), and it is the difference we see between GPU and CPU.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_engine.h"
#include "harness.h"
#include "kvcache.h"
#include "model.h"
#include "quant_model.h"

#define QUALITY "golden/m5/quality.psg"
#define TINY "models/tiny"
#define N_TOKENS 64   // of the golden's 256: the emulator runs ~25 tokens a second
#define ANCHOR(task) "book/m7-gpu-engine.md#" task

typedef struct {
    const char *golden;      // suffix in quality.psg
    DType type;
    double max_mean_dlogp;   // mean |GPU log-prob - HF fake-quantized log-prob|
    double max_dlogp;        // worst token
    double min_top1;         // arg-max agreement with HF fake-quantized
} Bounds;

// Measured on the emulator (book/m7-gpu-engine.md#tests): mean |dlogp| ~1e-6, worst ~1e-5,
// every arg-max equal. The bounds leave a factor ~100 for a GPU's fast math, and are still ten
// times tighter than M5's CPU bound (0.02): a wrong block or nibble order fails them at once.
static const Bounds BOUNDS[] = {
    {"q8_0", DT_Q8_0, 1e-3, 1e-2, 0.97},
    {"q4_0", DT_Q4_0, 1e-3, 1e-2, 0.97},
    {"q4a", DT_Q4A, 1e-3, 1e-2, 0.97},
};

static Model load_quantized(DType type) {
    Model m;
    PS_CHECK(model_load(&m, ps_model("tiny"), PS_MAP_READ) == 0, "cannot load %s", TINY);
    PS_CHECK(quantize_model(&m, type, false) == 0, "quantize_model failed (lab M5)");
    return m;
}

// ---- (c) against transformers with the same quantized weights ----
static void check_hf(const Bounds *b) {
    PsGolden *g = ps_golden_open(QUALITY);
    const int32_t *ids = ps_golden_get(g, "ids")->data;
    char name[32];
    snprintf(name, sizeof name, "logprob_%s", b->golden);
    const float *lp_hf = ps_golden_get(g, name)->data;
    snprintf(name, sizeof name, "top1_%s", b->golden);
    const int32_t *top1_hf = ps_golden_get(g, name)->data;
    Model m = load_quantized(b->type);
    int vocab = m.cfg.vocab_size, n = N_TOKENS;
    float *logits = malloc((size_t)n * vocab * sizeof *logits);
    GpuEngine e;
    PS_CHECK(gpu_engine_init(&e, &m, n) == 0, "gpu_engine_init failed (message above)");
    PS_CHECK(gpu_engine_forward(&e, ids, n, logits, true) == 0, "gpu_engine_forward failed");
    double sum = 0, worst = 0;
    int agree = 0, worst_at = 0;
    for (int t = 0; t < n - 1; t++) {
        double d = fabs(ps_log_prob(logits + (size_t)t * vocab, vocab, ids[t + 1]) - lp_hf[t]);
        sum += d;
        if (d > worst) worst = d, worst_at = t;
        agree += ps_argmax(logits + (size_t)t * vocab, vocab) == top1_hf[t];
    }
    int k = n - 1;
    printf("%s on the GPU engine vs HF with %s weights, %d tokens: mean |dlogp| %.2e, worst %.2e at %d, "
           "top-1 equal %.1f%%\n", b->golden, b->golden, k, sum / k, worst, worst_at, 100.0 * agree / k);
    PS_CHECK(sum / k <= b->max_mean_dlogp, "%s: mean |log-prob difference| %.2e > %.0e", b->golden, sum / k,
             b->max_mean_dlogp);
    PS_CHECK(worst <= b->max_dlogp, "%s: |log-prob difference| %.2e at token %d > %.0e", b->golden, worst, worst_at,
             b->max_dlogp);
    PS_CHECK((double)agree / k >= b->min_top1, "%s: arg-max equals HF's on %.1f%% of tokens (bound %.0f%%)",
             b->golden, 100.0 * agree / k, 100 * b->min_top1);
    gpu_engine_free(&e);
    free(logits);
    model_free(&m);
    ps_golden_close(g);
}

static void t_hf_q8(void) { check_hf(&BOUNDS[0]); }
static void t_hf_q4(void) { check_hf(&BOUNDS[1]); }
static void t_hf_q4a(void) { check_hf(&BOUNDS[2]); }

// ---- (d) against the CPU engine on the same Model ----
// f32: the same arithmetic in another order (atol = rtol = 1e-4, as M2 vs HF). Quantized: the CPU
// rounds activations to 8 bits, the GPU does not; the logits differ by that rounding, measured
// ~1e-2 relative (rel. L2 over the vocabulary), so the bound is 5e-2, and the log-prob of the
// next token by at most ~0.05.
static void check_cpu(DType type, double max_rel_l2) {
    Model m;
    if (type == DT_F32) {
        PS_CHECK(model_load(&m, ps_model("tiny"), PS_MAP_READ) == 0, "cannot load %s", TINY);
    } else {
        m = load_quantized(type);
    }
    PsGolden *g = ps_golden_open(QUALITY);
    const int32_t *ids = ps_golden_get(g, "ids")->data;
    int n = 24, vocab = m.cfg.vocab_size;
    float *gpu = malloc((size_t)n * vocab * sizeof *gpu), *cpu = malloc((size_t)n * vocab * sizeof *cpu);
    GpuEngine e;
    PS_CHECK(gpu_engine_init(&e, &m, n) == 0, "gpu_engine_init failed (message above)");
    PS_CHECK(gpu_engine_forward(&e, ids, n, gpu, true) == 0, "gpu_engine_forward failed");
    KVCache kc;
    PS_CHECK(kv_cache_init(&kc, &m, n, 0) == 0, "kv_cache_init failed");
    PS_CHECK(kv_cache_forward(&kc, ids, n, cpu, true) == 0, "kv_cache_forward failed");
    double worst = 0;
    for (int t = 0; t < n; t++) {
        const float *a = gpu + (size_t)t * vocab, *b = cpu + (size_t)t * vocab;
        char what[96];
        snprintf(what, sizeof what, "%s: GPU vs CPU logits at position %d", mat_type_name(type), t);
        if (type == DT_F32) {
            PS_CHECK_CLOSE(what, a, b, (size_t)vocab, 1e-4, 1e-4);
            continue;
        }
        double diff = 0, norm = 0;
        for (int i = 0; i < vocab; i++) diff += (a[i] - b[i]) * (double)(a[i] - b[i]), norm += (double)b[i] * b[i];
        double rel = sqrt(diff / norm);
        if (rel > worst) worst = rel;
        PS_CHECK(rel <= max_rel_l2, "%s: relative L2 difference %.3g > %.3g", what, rel, max_rel_l2);
    }
    if (type != DT_F32) printf("%s: GPU vs CPU logits, worst relative L2 difference %.2e\n", mat_type_name(type), worst);
    kv_cache_free(&kc);
    gpu_engine_free(&e);
    free(gpu), free(cpu);
    model_free(&m);
    ps_golden_close(g);
}

static void t_cpu_f32(void) { check_cpu(DT_F32, 0); }
static void t_cpu_q8(void) { check_cpu(DT_Q8_0, 5e-2); }
static void t_cpu_q4(void) { check_cpu(DT_Q4_0, 5e-2); }
static void t_cpu_q4a(void) { check_cpu(DT_Q4A, 5e-2); }

static const PsTest TESTS[] = {
    {"gpu_engine.hf_q8_0", t_hf_q8, ANCHOR("encode-mlp"), 60},
    {"gpu_engine.hf_q4_0", t_hf_q4, ANCHOR("encode-mlp"), 60},
    {"gpu_engine.hf_q4a", t_hf_q4a, ANCHOR("encode-mlp"), 60},
    {"gpu_engine.cpu_f32", t_cpu_f32, ANCHOR("encode-attention"), 30},
    {"gpu_engine.cpu_q8_0", t_cpu_q8, ANCHOR("encode-attention"), 30},
    {"gpu_engine.cpu_q4_0", t_cpu_q4, ANCHOR("encode-attention"), 30},
    {"gpu_engine.cpu_q4a", t_cpu_q4a, ANCHOR("encode-attention"), 30},
};

int main(int argc, char **argv) { return ps_main("M7", TESTS, PS_COUNT(TESTS), argc, argv); }
