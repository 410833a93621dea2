// The three block formats: half-precision scales, then quantize and dequantize for Q8_0, Q4_0 and
// Q4A (layouts in quant.h, the why in book/m5-quantization.md).
//
// Quantizers must give the same bytes as llama.cpp and MLX, so each one follows its published rule
// step by step, in float32, with the same rounding: roundf (halves away from zero) for Q8_0,
// "+8.5 then truncate" for Q4_0, rintf (halves to even) for Q4A. Each intermediate product gets its
// own statement: C allows a compiler to fuse `a * b + c` inside one expression into an FMA with a
// different rounding (clang does by default), never across statements.
#include "quant.h"

#include <math.h>
#include <string.h>

// ---- half precision ----

// Rounds `kept` (the bits that survive) using `dropped`, the `n_dropped` low bits cut off:
// nearest, ties to even. A carry out of the mantissa bumps the exponent, which is what we want.
static uint32_t round_nearest_even(uint32_t kept, uint32_t dropped, int n_dropped) {
    uint32_t half = 1u << (n_dropped - 1);
    if (dropped > half || (dropped == half && (kept & 1))) kept++;
    return kept;
}

uint16_t q_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    int exp = (int)((x >> 23) & 0xff);
    uint32_t mant = x & 0x7fffff;
    if (exp == 0xff)   // infinity stays infinity; NaN stays a (quiet) NaN
        return sign | 0x7c00 | (mant ? 0x200 | (uint16_t)(mant >> 13) : 0);
    int e16 = exp - 127 + 15;   // the half's exponent field, if the value is a normal half
    if (e16 >= 31) return sign | 0x7c00;   // too large: infinity
    if (e16 >= 1) {
        uint32_t h = round_nearest_even((uint32_t)e16 << 10 | mant >> 13, mant & 0x1fff, 13);
        return sign | (uint16_t)h;   // h == 0x7c00 after rounding up is infinity: correct
    }
    // A subnormal half (or zero) counts units of 2^-24. Below 2^-25 everything rounds to zero.
    if (e16 < -10) return sign;
    uint32_t full = mant | 0x800000;   // the implicit leading 1
    int shift = 14 - e16;              // 14 ... 24
    uint32_t h = round_nearest_even(full >> shift, full & ((1u << shift) - 1), shift);
    return sign | (uint16_t)h;         // rounding up to 0x400 gives the smallest normal: correct
}

static void put_f16(uint8_t p[2], float f) {
    uint16_t h = q_f32_to_f16(f);
    p[0] = (uint8_t)(h & 0xff);
    p[1] = (uint8_t)(h >> 8);
}

// ---- Q8_0: 32 weights, x = d * q, q in -127..127 ----

void quantize_row_q8_0(const float *x, BlockQ8_0 *y, int n) {
    for (int b = 0; b < n / QK8_0; b++, x += QK8_0) {
        //> M5 q8-quantize
        //? The scale maps the largest |x| of the block to 127: d = amax / 127. Store d as f16 but
        //? quantize with the float d (llama.cpp does), q = roundf(x * (1/d)); an all-zero block
        //? gets d = 0 and q = 0.
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        put_f16(y[b].d, d);
        for (int j = 0; j < QK8_0; j++) y[b].qs[j] = (int8_t)roundf(x[j] * id);
        //<
    }
}

void dequantize_row_q8_0(const BlockQ8_0 *x, float *y, int n) {
    for (int b = 0; b < n / QK8_0; b++, y += QK8_0) {
        //> M5 q8-dequantize
        //? x = d * q, with d read back from its two f16 bytes (q_f16_at).
        const float d = q_f16_at(x[b].d);
        for (int j = 0; j < QK8_0; j++) y[j] = d * x[b].qs[j];
        //<
    }
}

// ---- Q4_0: 32 weights, x = d * (q - 8), q in 0..15 ----

void quantize_row_q4_0(const float *x, BlockQ4_0 *y, int n) {
    for (int b = 0; b < n / QK4_0; b++, x += QK4_0) {
        //> M5 q4-quantize
        //? Find the value with the largest magnitude, keeping its sign (the first one on ties):
        //? d = that / -8, so it lands exactly on q = 0 (-8 after the offset). q = x/d + 8.5
        //? truncated, at most 15. Low nibble of byte j: weight j; high nibble: weight j + 16.
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK4_0; j++) {
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        const float d = max / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        put_f16(y[b].d, d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            const float lo = x[j] * id, hi = x[j + QK4_0 / 2] * id;
            // lo + 8.5 lies in [0.5, 16.5]: truncating is rounding half up onto 0..16, and only
            // the far end of the side opposite to max can reach 16, which is clamped to 15.
            int q_lo = (int)(lo + 8.5f), q_hi = (int)(hi + 8.5f);
            if (q_lo > 15) q_lo = 15;
            if (q_hi > 15) q_hi = 15;
            y[b].qs[j] = (uint8_t)(q_lo | q_hi << 4);
        }
        //<
    }
}

void dequantize_row_q4_0(const BlockQ4_0 *x, float *y, int n) {
    for (int b = 0; b < n / QK4_0; b++, y += QK4_0) {
        //> M5 q4-dequantize
        //? x = d * (q - 8); byte j holds weight j (low nibble) and weight j + 16 (high nibble).
        const float d = q_f16_at(x[b].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            y[j] = d * ((x[b].qs[j] & 0x0f) - 8);
            y[j + QK4_0 / 2] = d * ((x[b].qs[j] >> 4) - 8);
        }
        //<
    }
}

// ---- Q4A: 64 weights, x = scale * q + bias, q in 0..15 (MLX's affine rule) ----

void quantize_row_q4a(const float *x, BlockQ4A *y, int n) {
    for (int b = 0; b < n / QK4A; b++, x += QK4A) {
        //> M5 q4a-quantize
        //? 15 steps span [min, max]. The end with the larger magnitude (the "edge") must be exact:
        //? scale = (max - min) / 15 (at least 1e-7), negated when the edge is max; q0 =
        //? rintf(edge / scale); if q0 != 0, scale = edge / q0 and bias = edge, else bias = 0.
        //? Then q = rintf((x - bias) / scale) clamped to 0..15, weight 2j in the low nibble.
        float min = INFINITY, max = -INFINITY;
        for (int j = 0; j < QK4A; j++) {
            min = fminf(min, x[j]);
            max = fmaxf(max, x[j]);
        }
        const bool edge_is_min = fabsf(min) > fabsf(max);
        float scale = fmaxf((max - min) / 15, 1e-7f);
        if (!edge_is_min) scale = -scale;   // q counts down from max
        const float edge = edge_is_min ? min : max;
        const float q0 = rintf(edge / scale);
        float bias = 0.0f;
        if (q0 != 0.0f) {   // stretch the step so the edge is hit exactly (and 0 at q = -q0)
            scale = edge / q0;
            bias = edge;
        }
        put_f16(y[b].scale, scale);
        put_f16(y[b].bias, bias);
        for (int j = 0; j < QK4A / 2; j++) {
            float q[2];
            for (int k = 0; k < 2; k++) {
                const float shifted = x[2 * j + k] - bias;
                q[k] = fminf(fmaxf(rintf(shifted / scale), 0.0f), 15.0f);
            }
            y[b].qs[j] = (uint8_t)((int)q[0] | (int)q[1] << 4);
        }
        //<
    }
}

void dequantize_row_q4a(const BlockQ4A *x, float *y, int n) {
    for (int b = 0; b < n / QK4A; b++, y += QK4A) {
        //> M5 q4a-dequantize
        //? x = scale * q + bias; byte j holds weight 2j (low nibble) and weight 2j + 1 (high).
        const float scale = q_f16_at(x[b].scale), bias = q_f16_at(x[b].bias);
        for (int j = 0; j < QK4A / 2; j++) {
            y[2 * j] = scale * (x[b].qs[j] & 0x0f) + bias;
            y[2 * j + 1] = scale * (x[b].qs[j] >> 4) + bias;
        }
        //<
    }
}

// ---- dispatch on the type ----

bool dtype_is_quantized(DType t) { return t == DT_Q8_0 || t == DT_Q4_0 || t == DT_Q4A; }

int quant_block_len(DType t) {
    switch (t) {
    case DT_Q8_0: return QK8_0;
    case DT_Q4_0: return QK4_0;
    case DT_Q4A: return QK4A;
    default: return 0;
    }
}

size_t quant_block_bytes(DType t) {
    switch (t) {
    case DT_Q8_0: return sizeof(BlockQ8_0);
    case DT_Q4_0: return sizeof(BlockQ4_0);
    case DT_Q4A: return sizeof(BlockQ4A);
    default: return 0;
    }
}

size_t quant_row_bytes(DType t, int n) {
    int len = quant_block_len(t);
    return len ? (size_t)(n / len) * quant_block_bytes(t) : 0;
}

void quantize_row(DType t, const float *x, void *y, int n) {
    switch (t) {
    case DT_Q8_0: quantize_row_q8_0(x, y, n); break;
    case DT_Q4_0: quantize_row_q4_0(x, y, n); break;
    case DT_Q4A: quantize_row_q4a(x, y, n); break;
    default: break;
    }
}

void dequantize_row(DType t, const void *x, float *y, int n) {
    switch (t) {
    case DT_Q8_0: dequantize_row_q8_0(x, y, n); break;
    case DT_Q4_0: dequantize_row_q4_0(x, y, n); break;
    case DT_Q4A: dequantize_row_q4a(x, y, n); break;
    default: break;
    }
}

_Static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4A) == 36,
               "blocks must have no padding: their bytes are the file format");
