// Your lab's contract, copied by tools/mkskel from solutions/m1-weights/weights.h (do not edit: make skeletons rewrites it).
// Number formats: turning the 16-bit floats a checkpoint stores into the f32 the engine computes in.
//
// bf16 ("brain float") is the top half of an f32: same 8-bit exponent, 7-bit mantissa, so widening
// is a shift. f16 (IEEE half) has a 5-bit exponent and needs re-biasing, with subnormals, inf and NaN.
#ifndef PS_WEIGHTS_H
#define PS_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "safetensors.h"

float bf16_to_f32(uint16_t h);
float f16_to_f32(uint16_t h);

// Converts n little-endian elements of type `from` (F32, BF16 or F16) at src (any alignment) to f32.
// Returns 0, or -1 for a dtype it cannot widen.
int convert_to_f32(float *out, const void *src, DType from, size_t n);

// "label [=====>     ] 42%" on stderr, redrawn in place; only when stderr is a terminal and the
// job is big enough (total >= 64 MiB) for a wait to be noticeable. done == total ends the line.
void progress_bar(const char *label, size_t done, size_t total);

#endif
