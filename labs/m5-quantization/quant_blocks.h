// Your lab's contract, copied by tools/mkskel from solutions/m5-quantization/quant_blocks.h (do not edit: make skeletons rewrites it).
// The quantized block formats, defined once for both sides: the C engine (quant.h includes this)
// and the Metal kernels that read the same bytes in place (shaders/matvec.metal and embed.metal
// include it, by its path from the repository root; see shared/mtl.h for how a .metal file's
// includes are found on a Mac and by the emulator). A matrix row is a run of these blocks, with no
// padding between them: the asserts under each struct stop the two sides from ever disagreeing.
//
// Only the type of the f16 fields differs. Metal reads one as a `half` (2-byte aligned, which every
// block keeps: 34, 18 and 36 bytes are even). C reads its two little-endian bytes itself
// (q_f16_at in quant.h), so a block needs no alignment there and may start at any byte.
#ifndef PS_QUANT_BLOCKS_H
#define PS_QUANT_BLOCKS_H

#ifdef __METAL_VERSION__
typedef half block_f16;        // the Metal compiler converts it to float: float(b.d)
#else
#include <assert.h>            // static_assert, C11's spelling of _Static_assert (C++'s keyword in MSL)
#include <stdint.h>
typedef uint8_t block_f16[2];  // little-endian bytes of an IEEE half
#endif

#define QK8_0 32   // weights per block
#define QK4_0 32
#define QK4A 64

//[ q-blocks
typedef struct {
    block_f16 d;       // scale
    int8_t qs[QK8_0];  // weight i = d * qs[i]
} BlockQ8_0;
static_assert(sizeof(BlockQ8_0) == 34, "BlockQ8_0 is llama.cpp's block_q8_0: 2 + 32 bytes");

typedef struct {
    block_f16 d;            // scale
    uint8_t qs[QK4_0 / 2];  // byte j: weight j in its low nibble, weight j + 16 in its high one; w = d * (q - 8)
} BlockQ4_0;
static_assert(sizeof(BlockQ4_0) == 18, "BlockQ4_0 is llama.cpp's block_q4_0: 2 + 16 bytes");
//]

typedef struct {
    block_f16 scale, bias;
    uint8_t qs[QK4A / 2];   // byte j: weight 2j in its low nibble, weight 2j + 1 in its high one; w = scale * q + bias
} BlockQ4A;
static_assert(sizeof(BlockQ4A) == 36, "BlockQ4A: 2 + 2 + 32 bytes");

#endif
