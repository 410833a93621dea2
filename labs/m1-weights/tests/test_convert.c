// M1 tests, part 2: 16-bit floats to f32. Golden: every f16 bit pattern and a sample of bf16 ones,
// widened by PyTorch (golden/m1/dtypes.psg). The results must be bit-exact: widening loses nothing.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "weights.h"

#define DTYPES "golden/m1/dtypes.psg"

static uint32_t bits_of(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

// Same bits, or both NaN (a NaN's payload is not something a model can depend on).
static void check_same(const char *kind, uint32_t pattern, float got, float want) {
    if (isnan(want) && isnan(got)) return;
    PS_CHECK(bits_of(got) == bits_of(want), "%s 0x%04x: got %.9g (bits 0x%08x), PyTorch gives %.9g (0x%08x)", kind,
             (unsigned)pattern, got, (unsigned)bits_of(got), want, (unsigned)bits_of(want));
}

static void t_f16_all(void) {
    PsGolden *g = ps_golden_open(DTYPES);
    const PsTensor *t = ps_golden_get(g, "f16_to_f32");
    PS_CHECK(t->count == 65536 && t->dtype == PS_F32, "golden f16_to_f32 must hold 65536 f32 values");
    const float *want = t->data;
    for (uint32_t h = 0; h < 65536; h++) check_same("f16", h, f16_to_f32((uint16_t)h), want[h]);
    ps_golden_close(g);
}

static void t_bf16_sample(void) {
    PsGolden *g = ps_golden_open(DTYPES);
    const PsTensor *pat = ps_golden_get(g, "bf16_patterns"), *val = ps_golden_get(g, "bf16_to_f32");
    PS_CHECK(pat->count == val->count && pat->dtype == PS_I32, "bf16 golden: patterns and values must pair up");
    const int32_t *p = pat->data;
    const float *want = val->data;
    for (size_t i = 0; i < pat->count; i++) check_same("bf16", (uint32_t)p[i], bf16_to_f32((uint16_t)p[i]), want[i]);
    ps_golden_close(g);
}

// Bytes as they sit in a file: little-endian, at an odd address (no alignment can be assumed).
static void t_unaligned_buffer(void) {
    unsigned char raw[1 + 3 * 4];
    const uint16_t halves[3] = {0x3f80, 0xc000, 0x0001};   // bf16 1.0, -2.0, the smallest subnormal
    for (int i = 0; i < 3; i++) raw[1 + 2 * i] = halves[i] & 0xff, raw[2 + 2 * i] = halves[i] >> 8;
    float out[3];
    PS_CHECK(convert_to_f32(out, raw + 1, DT_BF16, 3) == 0, "BF16 is convertible");
    PS_CHECK(out[0] == 1.0f && out[1] == -2.0f && out[2] == ldexpf(1.0f, -133), "bf16 from bytes: %g %g %g", out[0],
             out[1], out[2]);
    const uint16_t f16[3] = {0x3c00, 0x7bff, 0x0001};       // f16 1.0, 65504 (the largest), 2^-24
    for (int i = 0; i < 3; i++) raw[1 + 2 * i] = f16[i] & 0xff, raw[2 + 2 * i] = f16[i] >> 8;
    PS_CHECK(convert_to_f32(out, raw + 1, DT_F16, 3) == 0, "F16 is convertible");
    PS_CHECK(out[0] == 1.0f && out[1] == 65504.0f && out[2] == ldexpf(1.0f, -24), "f16 from bytes: %g %g %g", out[0],
             out[1], out[2]);
    const float f32[3] = {0.1f, -3.5f, 1e30f};
    for (int i = 0; i < 3; i++) {
        uint32_t b = bits_of(f32[i]);
        for (int k = 0; k < 4; k++) raw[1 + 4 * i + k] = (unsigned char)(b >> (8 * k));
    }
    PS_CHECK(convert_to_f32(out, raw + 1, DT_F32, 3) == 0, "F32 is convertible");
    PS_CHECK(memcmp(out, f32, sizeof f32) == 0, "f32 from little-endian bytes: %g %g %g", out[0], out[1], out[2]);
}

static const PsTest TESTS[] = {
    {"convert.f16-all", t_f16_all, "book/m1-weights.md#f16", 0},
    {"convert.bf16", t_bf16_sample, "book/m1-weights.md#bf16", 0},
    {"convert.unaligned", t_unaligned_buffer, "book/m1-weights.md#bf16", 0},
};

int main(int argc, char **argv) { return ps_main("M1", TESTS, PS_COUNT(TESTS), argc, argv); }
