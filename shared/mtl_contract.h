// The encoding contracts of shared/mtl.h that both backends check in the same words: the
// emulator (shared/mtl_emu.c) and real Metal (shared/mtl_macos.c), where Metal itself would
// dereference a NULL object or stop at its validation layer only when that is switched on.
// Each returns 0, or -1 with the message in msg; the backend records it in the command buffer,
// and mtl_commit / mtl_wait report it, so encoding calls need no checks of their own.
#ifndef MTL_CONTRACT_H
#define MTL_CONTRACT_H

#include <stdio.h>

#include "mtl.h"

static inline int mtl_contract_buffer(int index, int is_null, size_t size, size_t offset, char *msg,
                                      size_t cap) {
    if (is_null) snprintf(msg, cap, "mtl_set_buffer(%d): NULL buffer", index);
    else if (offset > size) snprintf(msg, cap, "mtl_set_buffer(%d): offset %zu past the end (%zu bytes)", index, offset, size);
    else return 0;
    return -1;
}

// setBytes:length:atIndex: is for "single-use data smaller than 4 KB" (Apple's documentation).
static inline int mtl_contract_bytes(int index, const void *data, size_t len, char *msg, size_t cap) {
    if (len > MTL_SET_BYTES_MAX)
        snprintf(msg, cap, "mtl_set_bytes(%d): %zu bytes; Metal allows %d, use a buffer", index, len,
                 MTL_SET_BYTES_MAX);
    else if (!data) snprintf(msg, cap, "mtl_set_bytes(%d): NULL data", index);
    else return 0;
    return -1;
}

static inline int mtl_contract_pipeline(int is_null, char *msg, size_t cap) {
    if (!is_null) return 0;
    snprintf(msg, cap, "mtl_set_pipeline: NULL pipeline (did mtl_pipeline_new fail?)");
    return -1;
}

#endif
