// Fibers: the threads of one emulated threadgroup, each with its own small stack, switched by hand.
//
// A GPU threadgroup's threads can all stop at a barrier and wait for each other. On the CPU we
// give every emulated thread a stack and switch between them cooperatively: a thread runs until
// it reaches a barrier or a SIMD collective, then switches back to the scheduler. A switch only
// saves the callee-saved registers (a few nanoseconds); ucontext would also make a signal-mask
// system call each time (~100x slower), so it is only the fallback for unknown CPUs.
#ifndef MSL_FIBER_H
#define MSL_FIBER_H

#include <stddef.h>

typedef struct MslFiber {
    void *sp;                  // saved stack pointer while switched out (hand-written switch)
    void *ucx;                 // ucontext_t * when the fallback is in use
    unsigned char *stack;      // lowest usable address (a guard page sits below it)
    size_t stack_size;
    size_t stagger;            // the stack starts this far below its top (cache sets, see .c)
    void (*fn)(void *);        // entry point, must never return (it switches away at the end)
    void *arg;
    void *asan_fake_stack;     // AddressSanitizer bookkeeping across switches
    const void *asan_bottom;   // where the stack we came from lives, for switching back
    size_t asan_size;
    int asan_clean;            // it last ended normally: its stack holds no stale poison
} MslFiber;

// Allocates a stack of at least stack_size bytes (0 = the default) with a guard page below it.
int msl_fiber_init(MslFiber *f, size_t stack_size);
void msl_fiber_free(MslFiber *f);
// Arranges for the next switch to f to start fn(arg) on f's own stack.
void msl_fiber_prepare(MslFiber *f, void (*fn)(void *), void *arg);
// Saves the running context into `from` and resumes `to`. Either may be a fiber without a stack
// (the scheduler, running on its worker thread's normal stack), or both real fibers: a thread
// that stops hands over straight to the next one. `from_is_done` tells the
// sanitizer that `from` will never be resumed (it will be prepared afresh).
void msl_fiber_switch(MslFiber *from, MslFiber *to, int from_is_done);
// Must be the first thing a fiber entry function calls (sanitizer bookkeeping).
void msl_fiber_started(MslFiber *self);
// "asm" or "ucontext".
const char *msl_fiber_kind(void);

#endif
