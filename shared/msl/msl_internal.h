// Runtime-internal state shared by msl_rt.c (scheduler) and msl_check.c (race checker, registry).
#ifndef MSL_INTERNAL_H
#define MSL_INTERNAL_H

#include "msl_rt.h"

// Per worker: what the race checker needs to know about the threadgroup it is running.
typedef struct {
    uint32_t epoch;               // bumped at each threadgroup start and each barrier release
    void *shadow;                 // msl_check.c's per-byte access records, allocated on first use
    const unsigned char *arena;   // this worker's threadgroup memory
    const char *kernel;           // for messages
    uint32_t group[3];
} MslCheckState;

void msl_check_report(const char *msg);  // records the dispatch's first error (thread-safe)
void msl_check_free(MslCheckState *c);

#endif
