// M5 tests, part 3: what quantization costs in quality, on the tiny model and held-out text (the
// corpus's last books, never seen in training). golden/m5/quality.psg holds, from Hugging Face
// transformers in float32 (tools/oracle_m5.py): the token ids, the log-probability of each next
// token and the arg-max for the f32 model, and the same for the model whose weights were replaced
// by their quantized-then-dequantized values. Our quantized engine must
//   - stay close to that fake-quantized HF model, token by token (the only differences left are
//     our 8-bit activations and float rounding), and
//   - keep perplexity and top-1 agreement with the f32 model within the bounds below (the table in
//     book/m5-quantization.md#quality).
// Then the quantized model directory: written, loaded back, same logits as quantizing in memory.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forward.h"
#include "harness.h"
#include "model.h"
#include "quant_model.h"

#define QUALITY "golden/m5/quality.psg"
#define TINY "models/tiny"

typedef struct {
    const char *golden;        // suffix in quality.psg
    DType type;
    double max_ppl_ratio;      // our perplexity / HF f32 perplexity
    double min_top1;           // agreement of our arg-max with HF f32's
    double max_mean_dlogp;     // mean |our log-prob - HF fake-quantized log-prob|
} Bounds;

// Measured (book/m5-quantization.md#quality): perplexity +0.2% (Q8_0), +1.6% (Q4_0, Q4A); top-1
// 97.6%, 89.8%, 86.7%; mean |dlogp| about 0.010 for all three (the 8-bit activations' share).
static const Bounds BOUNDS[] = {
    {"q8_0", DT_Q8_0, 1.010, 0.95, 0.02},
    {"q4_0", DT_Q4_0, 1.040, 0.83, 0.02},
    {"q4a", DT_Q4A, 1.040, 0.83, 0.02},
};

static Model load_tiny(void) {
    Model m;
    PS_CHECK(model_load(&m, ps_model("tiny"), PS_MAP_READ) == 0, "cannot load %s", TINY);
    return m;
}

static void check_quality(const Bounds *b) {
    PsGolden *g = ps_golden_open(QUALITY);
    const PsTensor *ids_t = ps_golden_get(g, "ids");
    const int32_t *ids = ids_t->data, *top1_f32 = ps_golden_get(g, "top1_f32")->data;
    const float *lp_f32 = ps_golden_get(g, "logprob_f32")->data;
    char name[32];
    snprintf(name, sizeof name, "logprob_%s", b->golden);
    const float *lp_hf = ps_golden_get(g, name)->data;
    snprintf(name, sizeof name, "top1_%s", b->golden);
    const int32_t *top1_hf = ps_golden_get(g, name)->data;
    int n = (int)ids_t->count;

    Model m = load_tiny();
    PS_CHECK(quantize_model(&m, b->type, false) == 0, "quantize_model failed");
    int vocab = m.cfg.vocab_size;
    float *logits = malloc((size_t)n * vocab * sizeof *logits);
    PS_CHECK(logits && forward(&m, ids, n, logits, NULL) == 0, "forward failed");

    double nll = 0, nll_f32 = 0, nll_hf = 0, dlogp = 0, worst = 0;
    int agree_f32 = 0, agree_hf = 0, worst_at = 0;
    for (int t = 0; t < n - 1; t++) {
        double lp = ps_log_prob(logits + (size_t)t * vocab, vocab, ids[t + 1]);
        nll -= lp;
        nll_f32 -= lp_f32[t];
        nll_hf -= lp_hf[t];
        double d = fabs(lp - lp_hf[t]);
        dlogp += d;
        if (d > worst) worst = d, worst_at = t;
        int top = ps_argmax(logits + (size_t)t * vocab, vocab);
        agree_f32 += top == top1_f32[t];
        agree_hf += top == top1_hf[t];
    }
    int k = n - 1;
    double ppl = exp(nll / k), ppl_f32 = exp(nll_f32 / k), ppl_hf = exp(nll_hf / k);
    printf("%-5s perplexity %.3f (HF f32 %.3f, HF with %s weights %.3f); top-1 = HF f32 %.1f%%, "
           "= HF %s %.1f%%; mean |dlogp| vs HF %s %.4f (worst %.3f at token %d)\n",
           b->golden, ppl, ppl_f32, b->golden, ppl_hf, 100.0 * agree_f32 / k, b->golden,
           100.0 * agree_hf / k, b->golden, dlogp / k, worst, worst_at);
    PS_CHECK(dlogp / k <= b->max_mean_dlogp, "%s: mean |log-prob difference| with the fake-quantized HF "
             "model is %.4f > %.4f: the quantized products are off", b->golden, dlogp / k, b->max_mean_dlogp);
    PS_CHECK(ppl / ppl_f32 <= b->max_ppl_ratio, "%s: perplexity %.3f is %.2f%% above f32's %.3f (bound %.1f%%)",
             b->golden, ppl, 100 * (ppl / ppl_f32 - 1), ppl_f32, 100 * (b->max_ppl_ratio - 1));
    PS_CHECK((double)agree_f32 / k >= b->min_top1, "%s: top-1 agrees with f32 on %.1f%% of tokens (bound %.0f%%)",
             b->golden, 100.0 * agree_f32 / k, 100 * b->min_top1);
    free(logits);
    model_free(&m);
    ps_golden_close(g);
}

static void t_q8(void) { check_quality(&BOUNDS[0]); }
static void t_q4(void) { check_quality(&BOUNDS[1]); }
static void t_q4a(void) { check_quality(&BOUNDS[2]); }

// protostar quantize's directory, loaded by model_load, gives the very logits of quantize_model.
static void t_saved_model(void) {
    Model mem = load_tiny();
    // A folder inside the test's own: the writer's stand-in (DIR.partial-PID, beside DIR) is then
    // inside it too and goes with it, also when an unfinished lab stops the writer halfway.
    char dir[600];
    snprintf(dir, sizeof dir, "%s/saved", ps_test_dir());
    PS_CHECK(quant_register() == 0, "quant_register failed");   // model_load must know the formats
    int rc = quant_model_write(TINY, dir, DT_Q4A, false);
    Model disk;
    int loaded = rc == 0 ? model_load(&disk, dir, PS_MAP_READ) : -1;
    PS_CHECK(rc == 0, "quant_model_write failed (see above)");
    PS_CHECK(loaded == 0, "the written model does not load (see above)");
    PS_CHECK(disk.embed.dtype == DT_Q4A && disk.layers[0].w_down.dtype == DT_Q4A && disk.lm_head_is_embed,
             "loaded matrices: embed %s, w_down %s, lm_head shared %d; want Q4A, Q4A, 1",
             mat_type_name(disk.embed.dtype), mat_type_name(disk.layers[0].w_down.dtype), disk.lm_head_is_embed);
    PS_CHECK(quantize_model(&mem, DT_Q4A, false) == 0, "quantize_model failed");
    const int32_t ids[] = {100, 2000, 33, 4000, 5};
    int n = (int)PS_COUNT(ids), vocab = mem.cfg.vocab_size;
    float *a = malloc((size_t)n * vocab * sizeof *a), *b = malloc((size_t)n * vocab * sizeof *b);
    PS_CHECK(forward(&mem, ids, n, a, NULL) == 0 && forward(&disk, ids, n, b, NULL) == 0, "forward failed");
    PS_CHECK(memcmp(a, b, (size_t)n * vocab * sizeof *a) == 0,
             "logits of the saved model differ from quantizing in memory");
    free(a);
    free(b);
    model_free(&mem);
    model_free(&disk);
}

static const PsTest TESTS[] = {
    {"quality.q8_0", t_q8, "book/m5-quantization.md#quality", 60},
    {"quality.q4_0", t_q4, "book/m5-quantization.md#quality", 60},
    {"quality.q4a", t_q4a, "book/m5-quantization.md#quality", 60},
    {"quality.saved-model", t_saved_model, "book/m5-quantization.md#quantize-command", 30},
};

int main(int argc, char **argv) { return ps_main("M5", TESTS, PS_COUNT(TESTS), argc, argv); }
