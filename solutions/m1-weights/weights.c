// Widening 16-bit floats to f32. Checkpoints store bf16 to halve their size; the engine computes in
// f32 (a later lab keeps some weights packed instead).
#include "weights.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static float f32_from_bits(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);   // the portable way to reinterpret bits (no pointer casts: aliasing rules)
    return f;
}

float bf16_to_f32(uint16_t h) {
    //> M1 bf16
    //? bf16 is the upper 16 bits of an f32 (sign, 8-bit exponent, 7 mantissa bits): put them back on
    //? top and fill the lower 16 bits with zeros. Exact, including inf and NaN.
    return f32_from_bits((uint32_t)h << 16);
    //<
}

float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f;   // 5 bits, bias 15
    uint32_t man = h & 0x3ff;          // 10 bits
    //> M1 f16
    //? Re-bias the exponent from 15 to 127 and move the mantissa to the top of f32's 23 bits. Three
    //? special cases: exp 31 is inf/NaN (f32 exponent 255); exp 0 with man 0 is ±0; exp 0 with man != 0
    //? is a subnormal, value man * 2^-24, which is a normal number in f32: shift man left until its
    //? leading 1 reaches bit 10, lowering the exponent once per shift.
    if (exp == 0x1f) return f32_from_bits(sign | 0x7f800000u | man << 13);
    if (exp == 0) {
        if (man == 0) return f32_from_bits(sign);
        int e = 127 - 15 + 1;          // the exponent of a subnormal, before normalising
        while (!(man & 0x400)) {
            man <<= 1;
            e--;
        }
        return f32_from_bits(sign | (uint32_t)e << 23 | (man & 0x3ff) << 13);
    }
    return f32_from_bits(sign | (exp + 127 - 15) << 23 | man << 13);
    //<
}

// Safetensors data is little-endian and may sit at any byte offset, so elements are assembled from
// bytes rather than read through a uint16_t pointer (which would be misaligned, undefined behaviour).
//[ convert
int convert_to_f32(float *out, const void *src, DType from, size_t n) {
    const unsigned char *p = src;
    switch (from) {
    case DT_F32:
        for (size_t i = 0; i < n; i++) {
            uint32_t bits = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                            (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
            out[i] = f32_from_bits(bits);
        }
        return 0;
    case DT_BF16:
        for (size_t i = 0; i < n; i++) out[i] = bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return 0;
    case DT_F16:
        for (size_t i = 0; i < n; i++) out[i] = f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return 0;
    default:
        return -1;
    }
}
//]

void progress_bar(const char *label, size_t done, size_t total) {
    if (total < ((size_t)64 << 20) || !isatty(STDERR_FILENO)) return;
    int width = 40, filled = (int)((double)done / (double)total * width);
    fprintf(stderr, "\r%s [", label);
    for (int i = 0; i < width; i++) fputc(i < filled ? '=' : i == filled ? '>' : ' ', stderr);
    fprintf(stderr, "] %3d%%%s", (int)(100.0 * (double)done / (double)total), done >= total ? "\n" : "");
    fflush(stderr);
}
