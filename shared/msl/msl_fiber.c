// Fibers for the MSL emulator: a 20-instruction context switch for x86-64 and arm64, ucontext
// elsewhere (or with -DMSL_UCONTEXT), and the AddressSanitizer annotations that keep ASan from
// mistaking a stack switch for a stack overflow.
#include "msl_fiber.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if !defined(MSL_UCONTEXT) && !defined(__x86_64__) && !defined(__aarch64__)
#define MSL_UCONTEXT 1
#endif
#ifdef MSL_UCONTEXT
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define MSL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MSL_ASAN 1
#endif
#endif
#ifdef MSL_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define DEFAULT_STACK (256 * 1024)  // ASan's redzones make frames much larger
#else
#define DEFAULT_STACK (64 * 1024)
#endif

// The stack we switched away from when the current fiber started: the scheduler's own stack,
// which ASan must be told about when we switch back to it.
// Fibers also switch straight to each other, so only a switch that came from the scheduler
// tells where its stack is: tl_from_sched says whether the last switch did.
#ifdef MSL_ASAN
static _Thread_local const void *tl_sched_bottom;
static _Thread_local size_t tl_sched_size;
static _Thread_local int tl_from_sched;
#endif

#ifndef MSL_UCONTEXT
// msl_ctx_switch(&from->sp, to->sp): push the callee-saved registers on the current stack, save
// the stack pointer, load the other one, pop its registers and return into its code.
// msl_fiber_entry: where a fresh fiber "returns" to; it calls fn(arg), which never returns.
#ifdef __APPLE__
#define SYM(n) "_" #n
#else
#define SYM(n) #n
#endif
void msl_ctx_switch(void **save_sp, void *new_sp);
void msl_fiber_entry(void);
#if defined(__x86_64__)
__asm__(".text\n.p2align 4\n.globl " SYM(msl_ctx_switch) "\n" SYM(msl_ctx_switch) ":\n"
        "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
        "  movq %rsp, (%rdi)\n  movq %rsi, %rsp\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
        "  ret\n"
        ".globl " SYM(msl_fiber_entry) "\n" SYM(msl_fiber_entry) ":\n"
        "  movq %r12, %rdi\n  callq *%r13\n  ud2\n");
enum { FRAME_WORDS = 7, ARG_SLOT = 3, FN_SLOT = 2, RET_SLOT = 6 };  // r15 r14 r13 r12 rbx rbp ret
#else  // arm64: x19-x30 and d8-d15 are callee-saved (x18 is the platform's, never touched)
__asm__(".text\n.p2align 4\n.globl " SYM(msl_ctx_switch) "\n" SYM(msl_ctx_switch) ":\n"
        "  sub sp, sp, #160\n"
        "  stp x19, x20, [sp, #0]\n  stp x21, x22, [sp, #16]\n  stp x23, x24, [sp, #32]\n"
        "  stp x25, x26, [sp, #48]\n  stp x27, x28, [sp, #64]\n  stp x29, x30, [sp, #80]\n"
        "  stp d8, d9, [sp, #96]\n  stp d10, d11, [sp, #112]\n  stp d12, d13, [sp, #128]\n"
        "  stp d14, d15, [sp, #144]\n"
        "  mov x9, sp\n  str x9, [x0]\n  mov sp, x1\n"
        "  ldp x19, x20, [sp, #0]\n  ldp x21, x22, [sp, #16]\n  ldp x23, x24, [sp, #32]\n"
        "  ldp x25, x26, [sp, #48]\n  ldp x27, x28, [sp, #64]\n  ldp x29, x30, [sp, #80]\n"
        "  ldp d8, d9, [sp, #96]\n  ldp d10, d11, [sp, #112]\n  ldp d12, d13, [sp, #128]\n"
        "  ldp d14, d15, [sp, #144]\n"
        "  add sp, sp, #160\n  ret\n"
        ".globl " SYM(msl_fiber_entry) "\n" SYM(msl_fiber_entry) ":\n"
        "  mov x0, x19\n  blr x20\n  brk #0\n");
enum { FRAME_WORDS = 20, ARG_SLOT = 0, FN_SLOT = 1, RET_SLOT = 11 };  // x19 x20 .. x29 x30 d8..
#endif
#else
static _Thread_local MslFiber *tl_starting;
static void ucontext_entry(void) {
    MslFiber *f = tl_starting;
    f->fn(f->arg);
    abort();  // fn switches away for good at its end
}
#endif

int msl_fiber_init(MslFiber *f, size_t stack_size) {
    memset(f, 0, sizeof *f);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (!stack_size) stack_size = DEFAULT_STACK;
    stack_size = (stack_size + page - 1) / page * page;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
#ifdef MAP_NORESERVE
    flags |= MAP_NORESERVE;  // only the pages a thread touches ever become real memory
#endif
    unsigned char *m = mmap(NULL, stack_size + page, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (m == MAP_FAILED) return -1;
    mprotect(m, page, PROT_NONE);  // a stack overflow faults here instead of corrupting memory
    f->stack = m + page;
    f->stack_size = stack_size;
    static _Atomic unsigned count;
    f->stagger = (count++ % 61) * 64;  // 61: prime, so neighbours land in different sets
#ifdef MSL_UCONTEXT
    f->ucx = calloc(1, sizeof(ucontext_t));
    if (!f->ucx) return -1;
#endif
    return 0;
}

void msl_fiber_free(MslFiber *f) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (f->stack) munmap(f->stack - page, f->stack_size + page);
    free(f->ucx);
    memset(f, 0, sizeof *f);
}

void msl_fiber_prepare(MslFiber *f, void (*fn)(void *), void *arg) {
    f->fn = fn;
    f->arg = arg;
#ifdef MSL_ASAN
    // A fiber abandoned mid-kernel (a dispatch stopped by an error: divergence, a race, a bounds
    // report) leaves its frames' redzones poisoned; the next kernel on this stack lays out other
    // frames there, and ASan would call their accesses overflows.
    if (!f->asan_clean) __asan_unpoison_memory_region(f->stack, f->stack_size);
    f->asan_clean = 0;
#endif
#ifdef MSL_UCONTEXT
    ucontext_t *uc = f->ucx;
    getcontext(uc);
    uc->uc_stack.ss_sp = f->stack;
    uc->uc_stack.ss_size = f->stack_size;
    uc->uc_link = NULL;
    makecontext(uc, ucontext_entry, 0);
#else
    // Build the frame msl_ctx_switch expects to pop: saved registers, then the return address.
    // After popping it the stack pointer is top - 16, 16-byte aligned as both ABIs require.
    // Stacks are all the same size apart, so their tops would share one L1 cache set and evict
    // each other on every switch; starting each at a different offset spreads them out.
    uintptr_t top = ((uintptr_t)(f->stack + f->stack_size - f->stagger)) & ~(uintptr_t)15;
    void **frame = (void **)(top - 16 - sizeof(void *) * FRAME_WORDS);
    memset(frame, 0, sizeof(void *) * FRAME_WORDS);
    frame[FN_SLOT] = (void *)(uintptr_t)f->fn;
    frame[ARG_SLOT] = arg;
    frame[RET_SLOT] = (void *)(uintptr_t)msl_fiber_entry;
    f->sp = frame;
#endif
}

void msl_fiber_started(MslFiber *self) {
    (void)self;
#ifdef MSL_ASAN
    const void *prev_bottom;
    size_t prev_size;
    __sanitizer_finish_switch_fiber(NULL, &prev_bottom, &prev_size);
    if (tl_from_sched) {
        tl_sched_bottom = prev_bottom;
        tl_sched_size = prev_size;
    }
#endif
}

void msl_fiber_switch(MslFiber *from, MslFiber *to, int from_is_done) {
    (void)from_is_done;
#ifdef MSL_ASAN
    const void *bottom = to->stack ? (const void *)to->stack : tl_sched_bottom;
    size_t size = to->stack ? to->stack_size : tl_sched_size;
    __sanitizer_start_switch_fiber(from_is_done ? NULL : &from->asan_fake_stack, bottom, size);
    tl_from_sched = from->stack == NULL;
    if (from_is_done) from->asan_clean = 1;
#endif
#ifdef MSL_UCONTEXT
    if (!from->ucx) from->ucx = calloc(1, sizeof(ucontext_t));
    if (!from->ucx) abort();
    tl_starting = to;
    swapcontext(from->ucx, to->ucx);
#else
    msl_ctx_switch(&from->sp, to->sp);
#endif
#ifdef MSL_ASAN
    const void *prev_bottom;
    size_t prev_size;
    __sanitizer_finish_switch_fiber(from->asan_fake_stack, &prev_bottom, &prev_size);
    if (from->stack && tl_from_sched) {  // a fiber resumed by the scheduler: note its stack
        tl_sched_bottom = prev_bottom;
        tl_sched_size = prev_size;
    }
#endif
}

const char *msl_fiber_kind(void) {
#ifdef MSL_UCONTEXT
    return "ucontext";
#else
    return "asm";
#endif
}
