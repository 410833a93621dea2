// M5 tests, part 1: the block formats byte for byte against golden/m5/blocks.psg (written by a NumPy
// transcription of llama.cpp's and MLX's rules, tools/oracle_m5.py), dequantization, the 8-bit
// activation rounding, and round-trip error bounds on random rows.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "quant.h"

#define BLOCKS "golden/m5/blocks.psg"

typedef struct {
    const char *name;   // as in the golden file
    DType type;
    const char *book;   // anchor for the failure message
} Format;

static const Format Q8 = {"q8_0", DT_Q8_0, "q8-quantize"};
static const Format Q4 = {"q4_0", DT_Q4_0, "q4-quantize"};
static const Format Q4A_ = {"q4a", DT_Q4A, "q4a-quantize"};

// The golden rows are named in the generator line: "... rows=zeros,outlier,...".
static void row_name(const PsGolden *g, int row, char *out, size_t cap) {
    snprintf(out, cap, "row %d", row);
    const char *p = strstr(g->generator, "rows=");
    if (!p) return;
    p += 5;
    for (int i = 0; i < row && p; i++) {
        p = strchr(p, ',');
        if (p) p++;
    }
    if (!p) return;
    size_t n = strcspn(p, ", ");
    snprintf(out, cap, "row %d (%.*s)", row, (int)n, p);
}

// A block in hex, its f16 header fields (scale, and Q4A's bias) set apart from the quants.
static void hex(const char *label, const uint8_t *p, size_t n, size_t header) {
    fprintf(stderr, "  %s", label);
    for (size_t i = 0; i < n; i++) fprintf(stderr, "%s%02x", i && i % 2 == 0 && i <= header ? " | " : " ", p[i]);
    fputc('\n', stderr);
}

// Quantizes every golden row and compares byte for byte. On a mismatch, prints the first bad
// block: its input values, and the bytes we got and wanted (scale field first, then the quants).
static void check_quantize(const Format *f) {
    PsGolden *g = ps_golden_open(BLOCKS);
    const PsTensor *rows = ps_golden_get(g, "rows"), *want = ps_golden_get(g, f->name);
    int n_rows = (int)rows->dims[0], n = (int)rows->dims[1];
    size_t row_bytes = quant_row_bytes(f->type, n), block_bytes = quant_block_bytes(f->type);
    PS_CHECK(want->dims[0] == n_rows && (size_t)want->dims[1] == row_bytes,
             "golden %s has %lld x %lld bytes, expected %d x %zu", f->name,
             (long long)want->dims[0], (long long)want->dims[1], n_rows, row_bytes);
    uint8_t *got = malloc(row_bytes);
    for (int r = 0; r < n_rows; r++) {
        const float *x = (const float *)rows->data + (size_t)r * n;
        const uint8_t *w = (const uint8_t *)want->data + (size_t)r * row_bytes;
        memset(got, 0xAA, row_bytes);
        quantize_row(f->type, x, got, n);
        if (memcmp(got, w, row_bytes) == 0) continue;
        size_t i = 0;
        while (got[i] == w[i]) i++;
        size_t b = i / block_bytes;
        int len = quant_block_len(f->type);
        char name[64];
        row_name(g, r, name, sizeof name);
        fprintf(stderr, "%s, block %zu (byte %zu of the block differs): input values\n", name, b,
                i % block_bytes);
        for (int j = 0; j < len; j++)
            fprintf(stderr, "%s%.9g%s", j % 8 == 0 ? "   " : " ", (double)x[b * len + j],
                    j % 8 == 7 ? "\n" : "");
        size_t header = f->type == DT_Q4A ? 4 : 2;
        hex("got :", got + b * block_bytes, block_bytes, header);
        hex("want:", w + b * block_bytes, block_bytes, header);
        PS_FAIL("%s does not match the reference bytes (book/m5-quantization.md#%s)", f->name, f->book);
    }
    free(got);
    ps_golden_close(g);
}

// Golden bytes in, golden floats out: exact, since d * q and scale * q are exact in float.
static void check_dequantize(const Format *f) {
    PsGolden *g = ps_golden_open(BLOCKS);
    char name[32];
    snprintf(name, sizeof name, "%s_deq", f->name);
    const PsTensor *bytes = ps_golden_get(g, f->name), *want = ps_golden_get(g, name);
    int n_rows = (int)want->dims[0], n = (int)want->dims[1];
    float *got = malloc((size_t)n * sizeof *got);
    for (int r = 0; r < n_rows; r++) {
        dequantize_row(f->type, (const uint8_t *)bytes->data + (size_t)r * bytes->dims[1], got, n);
        const float *w = (const float *)want->data + (size_t)r * n;
        for (int j = 0; j < n; j++) {
            if (memcmp(&got[j], &w[j], sizeof(float)) != 0) {
                char rn[64];
                row_name(g, r, rn, sizeof rn);
                PS_FAIL("%s dequantize, %s, value %d (block %d): got %.9g, want %.9g", f->name, rn, j,
                        j / quant_block_len(f->type), (double)got[j], (double)w[j]);
            }
        }
    }
    free(got);
    ps_golden_close(g);
}

// Every half converts to float and back to itself (NaNs stay NaNs), and a few float -> half cases
// whose rounding is easy to get wrong.
static void check_f16(void) {
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = q_f16_to_f32((uint16_t)h);
        uint16_t back = q_f32_to_f16(f);
        bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (nan ? !isnan(f) || (back & 0x7c00) != 0x7c00 || !(back & 0x3ff) : back != h)
            PS_FAIL("half 0x%04x -> float %.9g -> half 0x%04x", h, (double)f, back);
    }
    static const struct { float f; uint16_t h; } cases[] = {
        {1.0f, 0x3c00}, {-2.0f, 0xc000}, {65504.0f, 0x7bff}, {65520.0f, 0x7c00},   // 65520 ties up to inf
        {1.0f + 0x1p-11f, 0x3c00}, {1.0f + 0x1p-10f + 0x1p-11f, 0x3c02},          // ties to even
        {0x1p-24f, 0x0001}, {0x1p-25f, 0x0000}, {0x1.8p-25f, 0x0001},              // subnormal edges
        {0x1p-14f - 0x1p-25f, 0x0400}, {-0.0f, 0x8000}, {1e-7f, 0x0002},
    };
    for (size_t i = 0; i < PS_COUNT(cases); i++) {
        uint16_t got = q_f32_to_f16(cases[i].f);
        PS_CHECK(got == cases[i].h, "float %a -> half 0x%04x, want 0x%04x", (double)cases[i].f, got,
                 cases[i].h);
    }
}

static void t_q8_quantize(void) { check_quantize(&Q8); }
static void t_q4_quantize(void) { check_quantize(&Q4); }
static void t_q4a_quantize(void) { check_quantize(&Q4A_); }
static void t_q8_dequantize(void) {
    check_dequantize(&Q8);
    check_f16();
}
static void t_q4_dequantize(void) { check_dequantize(&Q4); }
static void t_q4a_dequantize(void) { check_dequantize(&Q4A_); }

static void t_act_quantize(void) {
    PsGolden *g = ps_golden_open(BLOCKS);
    const PsTensor *rows = ps_golden_get(g, "rows");
    const float *want_d = ps_golden_get(g, "act_d")->data;
    const int32_t *want_q = ps_golden_get(g, "act_q")->data;
    int n_rows = (int)rows->dims[0], n = (int)rows->dims[1], nb = n / 32;
    QuantAct *a = malloc((size_t)nb * sizeof *a);
    for (int r = 0; r < n_rows; r++) {
        quantize_act((const float *)rows->data + (size_t)r * n, a, n);
        for (int b = 0; b < nb; b++) {
            int32_t sum = 0;
            for (int j = 0; j < 32; j++) {
                int32_t want = want_q[(size_t)r * n + b * 32 + j];
                sum += want;
                PS_CHECK(a[b].qs[j] == want, "row %d block %d value %d: q %d, want %d (input %.9g)", r, b,
                         j, a[b].qs[j], want, (double)((const float *)rows->data)[(size_t)r * n + b * 32 + j]);
            }
            PS_CHECK(a[b].d == want_d[r * nb + b], "row %d block %d: d %.9g, want %.9g", r, b,
                     (double)a[b].d, (double)want_d[r * nb + b]);
            PS_CHECK(a[b].sum == sum, "row %d block %d: sum of q %d, want %d", r, b, a[b].sum, sum);
        }
    }
    free(a);
    ps_golden_close(g);
}

// ---- round trip on random rows: |x - dequant(quant(x))| within what the format promises ----

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float uniform(void) {   // xorshift64*, [0, 1)
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (float)((rng_state * 0x2545F4914F6CDD1Dull) >> 40) * 0x1p-24f;
}
static float gaussian(void) {
    float u = uniform() + 0x1p-25f, v = uniform();
    return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

// Per block: the worst error allowed, and the mean squared error a uniform rounding would give
// (step^2 / 12); the measured mean must stay below 1.5x that over the whole row.
static void roundtrip(DType t, const char *name) {
    enum { N = 64 * 512 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    uint8_t *q = malloc(quant_row_bytes(t, N));
    for (int j = 0; j < N; j++) x[j] = gaussian() * (j % 3 == 0 ? 0.02f : 0.1f);
    x[1234] = 3.0f;   // an outlier: its block has a coarse step, the others must not care
    quantize_row(t, x, q, N);
    dequantize_row(t, q, y, N);
    int len = quant_block_len(t);
    double sq_err = 0, sq_expected = 0;
    for (int b = 0; b < N / len; b++) {
        const float *xb = x + b * len, *yb = y + b * len;
        float amax = 0, min = xb[0], max = xb[0];
        for (int j = 0; j < len; j++) {
            amax = fmaxf(amax, fabsf(xb[j]));
            min = fminf(min, xb[j]);
            max = fmaxf(max, xb[j]);
        }
        // step: the distance between neighbouring levels. Bound: half a step from rounding, plus
        // the f16 rounding of the scale (2^-11 relative) times the largest level. Both 4-bit
        // formats can be almost a whole step off at the far end: Q4_0 has no +8 (clamped to +7),
        // and Q4A's step, stretched so the edge is exact, can fall short of the other end.
        double step, bound;
        if (t == DT_Q8_0) step = amax / 127.0, bound = step * (0.5 + 127 * 0x1p-11);
        else if (t == DT_Q4_0) step = amax / 8.0, bound = step * (1.0 + 8 * 0x1p-11);
        else step = (max - min) / 15.0, bound = step * (1.0 + 16 * 0x1p-11) + amax * 0x1p-11;
        for (int j = 0; j < len; j++) {
            double err = fabs((double)xb[j] - yb[j]);
            if (err > bound + 1e-12)
                PS_FAIL("%s round trip: value %d = %.9g came back as %.9g (error %.3g > bound %.3g, "
                        "step %.3g)", name, b * len + j, (double)xb[j], (double)yb[j], err, bound, step);
            sq_err += err * err;
        }
        sq_expected += len * step * step / 12;
    }
    printf("%s: rms error %.3g, uniform-rounding estimate %.3g\n", name, sqrt(sq_err / N),
           sqrt(sq_expected / N));
    PS_CHECK(sq_err <= 1.5 * sq_expected, "%s: mean squared error %.3g is above 1.5x the %.3g that "
             "rounding to the nearest level gives", name, sq_err / N, sq_expected / N);
    free(x);
    free(y);
    free(q);
}

static void t_q8_roundtrip(void) { roundtrip(DT_Q8_0, "q8_0"); }
static void t_q4_roundtrip(void) { roundtrip(DT_Q4_0, "q4_0"); }
static void t_q4a_roundtrip(void) { roundtrip(DT_Q4A, "q4a"); }

static const PsTest TESTS[] = {
    {"quant.q8_0-bytes", t_q8_quantize, "book/m5-quantization.md#q8-quantize", 0},
    {"quant.q8_0-dequantize", t_q8_dequantize, "book/m5-quantization.md#q8-dequantize", 0},
    {"quant.q8_0-roundtrip", t_q8_roundtrip, "book/m5-quantization.md#q8-quantize", 0},
    {"quant.q4_0-bytes", t_q4_quantize, "book/m5-quantization.md#q4-quantize", 0},
    {"quant.q4_0-dequantize", t_q4_dequantize, "book/m5-quantization.md#q4-dequantize", 0},
    {"quant.q4_0-roundtrip", t_q4_roundtrip, "book/m5-quantization.md#q4-quantize", 0},
    {"quant.q4a-bytes", t_q4a_quantize, "book/m5-quantization.md#q4a-quantize", 0},
    {"quant.q4a-dequantize", t_q4a_dequantize, "book/m5-quantization.md#q4a-dequantize", 0},
    {"quant.q4a-roundtrip", t_q4a_roundtrip, "book/m5-quantization.md#q4a-quantize", 0},
    {"quant.act-quantize", t_act_quantize, "book/m5-quantization.md#act-quantize", 0},
};

int main(int argc, char **argv) { return ps_main("M5", TESTS, PS_COUNT(TESTS), argc, argv); }
