// mtl.h on real Metal, from plain C through the Objective-C runtime. No .m files, no wrapper
// library: this is all it takes to drive an Apple GPU, and it is meant to be read.
//
// How to send an Objective-C message from C: `[device newCommandQueue]` is
//     ((id (*)(id, SEL))objc_msgSend)(device, sel("newCommandQueue"))
// objc_msgSend finds the method for the selector and jumps to it with our arguments untouched,
// so we must call it through a pointer of the method's exact type. Never call it variadically:
// on arm64 variadic arguments go on the stack, where the method does not look for them.
//
// Memory: objects from alloc/new*/copy are ours and are released; everything else (command
// buffers, encoders, NSStrings from factories) is autoreleased, so each function here runs
// inside its own autorelease pool and retains what must outlive it.
#if (defined(__APPLE__) && !defined(MTL_EMULATOR)) || defined(MTL_OBJC_STUB)

#include "mtl.h"
#include "mtl_contract.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef MTL_OBJC_STUB
#include "mtl_objc_stub.h"
#else
#include <objc/message.h>
#include <objc/runtime.h>
#endif

typedef unsigned long NSUInteger;
typedef double CFTimeInterval;
typedef struct { NSUInteger width, height, depth; } MTLSize;  // Metal's struct, by value
id MTLCreateSystemDefaultDevice(void);                         // a plain C function in Metal

enum {
    MTLResourceStorageModeShared = 0,      // CPU and GPU see the same memory (unified memory)
    MTLCommandBufferStatusCompleted = 4,
    MTLCommandBufferStatusError = 5,
};

// The method types we send, one typedef per prototype. SEND(t) casts objc_msgSend to one.
typedef id (*msg_id)(id, SEL);
typedef void (*msg_void)(id, SEL);
typedef NSUInteger (*msg_uint)(id, SEL);
typedef void *(*msg_ptr)(id, SEL);
typedef const char *(*msg_cstr)(id, SEL);
typedef CFTimeInterval (*msg_time)(id, SEL);
typedef id (*msg_id_cstr)(id, SEL, const char *);
typedef id (*msg_id_uint_uint)(id, SEL, NSUInteger, NSUInteger);
typedef id (*msg_id_ptr_uint_uint_id)(id, SEL, void *, NSUInteger, NSUInteger, id);
typedef id (*msg_id_id_id_err)(id, SEL, id, id, id *);
typedef id (*msg_id_id_err)(id, SEL, id, id *);
typedef id (*msg_id_id)(id, SEL, id);
typedef void (*msg_void_id)(id, SEL, id);
typedef void (*msg_void_id_uint_uint)(id, SEL, id, NSUInteger, NSUInteger);
typedef void (*msg_void_ptr_uint_uint)(id, SEL, const void *, NSUInteger, NSUInteger);
typedef void (*msg_void_uint_uint)(id, SEL, NSUInteger, NSUInteger);
typedef void (*msg_void_size_size)(id, SEL, MTLSize, MTLSize);
// Cast the *address* kept in a variable: gcc (unlike clang) warns about, and may even trap on,
// a direct call through a cast of the function itself, since it knows its declared type.
static void (*msg_send)(void) = objc_msgSend;
#define SEND(type) ((type)msg_send)

// Every selector goes through here, written as a literal: shared/msl/tests/test_selectors.c
// checks each one against shared/mtl_selectors.txt (from Apple's documentation).
static SEL sel(const char *name) { return sel_registerName(name); }
static id cls(const char *name) { return (id)objc_getClass(name); }

struct MtlContext { id device, queue; char name[128]; };
struct MtlBuffer { id buf; void *ptr; size_t size; };
struct MtlLibrary { id lib; char path[512]; };
struct MtlPipeline { id pso; };
// failed/err: the first encoding mistake (shared/mtl_contract.h), reported by commit and wait.
struct MtlCmd { id cb, enc; int committed, failed, has_pipeline; char err[1024]; };

// Each backend is one self-contained file and only one is linked, so this small error setter is
// written in both (shared/mtl_emu.c, shared/mtl_macos.c).
static _Thread_local char last_error[2048];
const char *mtl_error(void) { return last_error; }
__attribute__((format(printf, 1, 2))) static void set_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

static id pool_push(void) {
    return SEND(msg_id)(SEND(msg_id)(cls("NSAutoreleasePool"), sel("alloc")), sel("init"));
}
static void pool_pop(id pool) { SEND(msg_void)(pool, sel("drain")); }
static void release(id o) {
    if (o) SEND(msg_void)(o, sel("release"));
}
static const char *describe(id error) {  // NSError -> UTF-8 (valid until the pool drains)
    if (!error) return "unknown error";
    id s = SEND(msg_id)(error, sel("localizedDescription"));
    return s ? SEND(msg_cstr)(s, sel("UTF8String")) : "unknown error";
}

MtlContext *mtl_context_new(void) {
    id pool = pool_push();
    MtlContext *ctx = calloc(1, sizeof *ctx);
    id dev = MTLCreateSystemDefaultDevice();  // retained: ours to release
    if (!ctx || !dev) {
        set_error(dev ? "mtl_context_new: out of memory" : "mtl_context_new: no Metal GPU found");
        free(ctx);
        release(dev);
        pool_pop(pool);
        return NULL;
    }
    ctx->device = dev;
    ctx->queue = SEND(msg_id)(dev, sel("newCommandQueue"));
    id name = SEND(msg_id)(dev, sel("name"));
    snprintf(ctx->name, sizeof ctx->name, "%s", name ? SEND(msg_cstr)(name, sel("UTF8String")) : "?");
    pool_pop(pool);
    if (!ctx->queue) {
        set_error("mtl_context_new: cannot create a command queue");
        mtl_context_free(ctx);
        return NULL;
    }
    return ctx;
}

void mtl_context_free(MtlContext *ctx) {
    if (!ctx) return;
    release(ctx->queue);
    release(ctx->device);
    free(ctx);
}
const char *mtl_device_name(const MtlContext *ctx) { return ctx->name; }

static MtlBuffer *wrap_buffer(id buf, size_t bytes, const char *what) {
    MtlBuffer *b = buf ? calloc(1, sizeof *b) : NULL;
    if (!b) {
        set_error("%s: cannot create a buffer of %zu bytes", what, bytes);
        release(buf);
        return NULL;
    }
    b->buf = buf;
    b->ptr = SEND(msg_ptr)(buf, sel("contents"));
    b->size = bytes;
    return b;
}

MtlBuffer *mtl_buffer_new(MtlContext *ctx, size_t bytes) {
    id buf = SEND(msg_id_uint_uint)(ctx->device, sel("newBufferWithLength:options:"),
                                    bytes ? bytes : 1, MTLResourceStorageModeShared);
    return wrap_buffer(buf, bytes, "mtl_buffer_new");  // Metal zero-fills new buffers
}

MtlBuffer *mtl_buffer_wrap(MtlContext *ctx, void *ptr, size_t bytes) {
    size_t page = (size_t)getpagesize();  // 16 KB on Apple Silicon
    if (!ptr || (uintptr_t)ptr % page || bytes == 0 || bytes % page) {
        set_error("mtl_buffer_wrap: pointer %p and length %zu must both be multiples of the page "
                  "size (%zu); round the mapping up", ptr, bytes, page);
        return NULL;
    }
    id buf = SEND(msg_id_ptr_uint_uint_id)(ctx->device,
                                           sel("newBufferWithBytesNoCopy:length:options:deallocator:"),
                                           ptr, bytes, MTLResourceStorageModeShared, nil);
    return wrap_buffer(buf, bytes, "mtl_buffer_wrap");
}

void *mtl_buffer_ptr(MtlBuffer *b) { return b->ptr; }
size_t mtl_buffer_size(const MtlBuffer *b) { return b->size; }
void mtl_buffer_free(MtlBuffer *b) {
    if (!b) return;
    release(b->buf);
    free(b);
}

// ---- a .metal file's source, its includes inlined ----
// newLibraryWithSource: compiles one string, with no file system behind it: an `#include "x.h"`
// would not be found. So the source goes to it with each such line replaced by the text of x.h
// (found, like the emulator's preprocessor finds it, beside the including file first, then from
// the repository root), between #line directives that keep the compiler's messages pointing at
// the right file and line. Every such line is inlined, inside an #if or not: a header shared with
// C keeps its C-only includes in angle brackets. `#include <...>` lines (metal_stdlib) are the
// compiler's own.

typedef struct { char *text; size_t len, cap; } Source;

static bool append(Source *s, const char *text, size_t len) {
    if (s->len + len + 1 > s->cap) {
        size_t cap = (s->len + len + 1) * 2;
        char *grown = realloc(s->text, cap);
        if (!grown) return false;
        s->text = grown, s->cap = cap;
    }
    memcpy(s->text + s->len, text, len);
    s->len += len;
    s->text[s->len] = 0;
    return true;
}

static char *read_whole(const char *path) {  // NULL when it cannot be opened or read
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *text = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)n + 1))) {
        if (fread(text, 1, (size_t)n, f) == (size_t)n) text[n] = 0;
        else free(text), text = NULL;
    }
    fclose(f);
    return text;
}

#define MAX_INCLUDE_DEPTH 8

// Appends the file at `path` to out, includes inlined. false (message set) on any failure.
static bool add_file(Source *out, const char *path, int depth) {
    if (depth > MAX_INCLUDE_DEPTH) {
        set_error("mtl_library_new: includes nested deeper than %d at %s", MAX_INCLUDE_DEPTH, path);
        return false;
    }
    char *text = read_whole(path);
    if (!text) {
        set_error("mtl_library_new: cannot read %s (paths are relative to the repository root)", path);
        return false;
    }
    bool ok = true;
    int line_no = 1;
    for (char *line = text; ok && *line; line_no++) {
        char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line + 1) : strlen(line);
        const char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        char name[512], found[1024], marker[1200];
        if (sscanf(p, "#include \"%511[^\"]\"", name) == 1) {
            // beside the including file, then from the repository root (the working directory)
            const char *slash = strrchr(path, '/');
            snprintf(found, sizeof found, "%.*s%s", slash ? (int)(slash - path + 1) : 0, path, name);
            FILE *probe = fopen(found, "rb");
            if (probe) fclose(probe);
            else snprintf(found, sizeof found, "%s", name);
            snprintf(marker, sizeof marker, "#line 1 \"%s\"\n", found);
            ok = append(out, marker, strlen(marker)) && add_file(out, found, depth + 1);
            snprintf(marker, sizeof marker, "\n#line %d \"%s\"\n", line_no + 1, path);
            ok = ok && append(out, marker, strlen(marker));
        } else {
            ok = append(out, line, len);
        }
        line += len;
    }
    if (!ok && !mtl_error()[0]) set_error("mtl_library_new: out of memory reading %s", path);
    free(text);
    return ok;
}

MtlLibrary *mtl_library_new(MtlContext *ctx, const char *metal_path) {
    Source source_text = {0};
    set_error("%s", "");
    if (!add_file(&source_text, metal_path, 0) || !source_text.text) {
        if (!mtl_error()[0]) set_error("mtl_library_new: %s is empty", metal_path);
        free(source_text.text);
        return NULL;
    }
    char *src = source_text.text;
    id pool = pool_push();
    id source = SEND(msg_id_cstr)(cls("NSString"), sel("stringWithUTF8String:"), src);
    id error = nil;
    id lib = SEND(msg_id_id_id_err)(ctx->device, sel("newLibraryWithSource:options:error:"),
                                    source, nil, &error);
    free(src);
    MtlLibrary *l = lib ? calloc(1, sizeof *l) : NULL;
    if (!l) {  // the object decides; error may hold mere warnings when lib is non-nil
        set_error("mtl_library_new: %s does not compile:\n%s", metal_path, describe(error));
        release(lib);
    } else {
        l->lib = lib;
        snprintf(l->path, sizeof l->path, "%s", metal_path);
    }
    pool_pop(pool);
    return l;
}

void mtl_library_free(MtlLibrary *lib) {
    if (!lib) return;
    release(lib->lib);
    free(lib);
}

MtlPipeline *mtl_pipeline_new(MtlLibrary *lib, const char *kernel_name) {
    id pool = pool_push();
    id name = SEND(msg_id_cstr)(cls("NSString"), sel("stringWithUTF8String:"), kernel_name);
    id fn = SEND(msg_id_id)(lib->lib, sel("newFunctionWithName:"), name);
    MtlPipeline *p = NULL;
    if (!fn) {
        set_error("mtl_pipeline_new: no kernel function '%s' in %s", kernel_name, lib->path);
    } else {
        id error = nil, dev = SEND(msg_id)(lib->lib, sel("device"));
        id pso = SEND(msg_id_id_err)(dev, sel("newComputePipelineStateWithFunction:error:"), fn,
                                     &error);
        p = pso ? calloc(1, sizeof *p) : NULL;
        if (p) p->pso = pso;
        else set_error("mtl_pipeline_new: '%s': %s", kernel_name, describe(error));
        release(fn);
    }
    pool_pop(pool);
    return p;
}

void mtl_pipeline_free(MtlPipeline *p) {
    if (!p) return;
    release(p->pso);
    free(p);
}
int mtl_pipeline_max_threads(const MtlPipeline *p) {
    return (int)SEND(msg_uint)(p->pso, sel("maxTotalThreadsPerThreadgroup"));
}
int mtl_pipeline_simd_width(const MtlPipeline *p) {
    return (int)SEND(msg_uint)(p->pso, sel("threadExecutionWidth"));
}

MtlCmd *mtl_cmd_new(MtlContext *ctx) {
    MtlCmd *c = calloc(1, sizeof *c);
    if (!c) {
        set_error("mtl_cmd_new: out of memory");
        return NULL;
    }
    id pool = pool_push();
    // Both are autoreleased: retain them so they survive this pool.
    c->cb = SEND(msg_id)(SEND(msg_id)(ctx->queue, sel("commandBuffer")), sel("retain"));
    c->enc = SEND(msg_id)(SEND(msg_id)(c->cb, sel("computeCommandEncoder")), sel("retain"));
    pool_pop(pool);
    return c;
}

// An encoding mistake is kept for mtl_commit / mtl_wait, in the emulator's words, instead of a
// NULL sent to Metal (a crash) or a limit only the validation layer would catch.
static int encode_ok(MtlCmd *c, int rc, const char *msg) {
    if (c->committed) {  // the encoder has ended: sending to it would crash
        set_error("mtl: encoding into a command buffer already committed is ignored");
        return 0;
    }
    if (rc && !c->failed) {
        c->failed = 1;
        snprintf(c->err, sizeof c->err, "%s", msg);
    }
    return !rc && !c->failed && !c->committed;
}

void mtl_set_pipeline(MtlCmd *c, MtlPipeline *p) {
    char msg[256];
    if (!encode_ok(c, mtl_contract_pipeline(!p, msg, sizeof msg), msg)) return;
    SEND(msg_void_id)(c->enc, sel("setComputePipelineState:"), p->pso);
    c->has_pipeline = 1;
}
void mtl_set_buffer(MtlCmd *c, int index, MtlBuffer *b, size_t offset) {
    char msg[256];
    if (!encode_ok(c, mtl_contract_buffer(index, !b, b ? b->size : 0, offset, msg, sizeof msg), msg)) return;
    SEND(msg_void_id_uint_uint)(c->enc, sel("setBuffer:offset:atIndex:"), b->buf, offset,
                                (NSUInteger)index);
}
void mtl_set_bytes(MtlCmd *c, int index, const void *data, size_t len) {
    char msg[256];
    if (!encode_ok(c, mtl_contract_bytes(index, data, len, msg, sizeof msg), msg)) return;
    SEND(msg_void_ptr_uint_uint)(c->enc, sel("setBytes:length:atIndex:"), data, len,
                                 (NSUInteger)index);
}
void mtl_set_threadgroup_memory(MtlCmd *c, int index, size_t len) {
    SEND(msg_void_uint_uint)(c->enc, sel("setThreadgroupMemoryLength:atIndex:"), len,
                             (NSUInteger)index);
}

static MTLSize size_of(MtlSize s) { return (MTLSize){s.width, s.height, s.depth}; }
void mtl_dispatch_groups(MtlCmd *c, MtlSize groups, MtlSize threads) {
    if (!encode_ok(c, !c->has_pipeline, "dispatch: no pipeline set (mtl_set_pipeline)")) return;
    SEND(msg_void_size_size)(c->enc, sel("dispatchThreadgroups:threadsPerThreadgroup:"),
                             size_of(groups), size_of(threads));
}
void mtl_dispatch_threads(MtlCmd *c, MtlSize grid, MtlSize threads) {
    if (!encode_ok(c, !c->has_pipeline, "dispatch: no pipeline set (mtl_set_pipeline)")) return;
    SEND(msg_void_size_size)(c->enc, sel("dispatchThreads:threadsPerThreadgroup:"),
                             size_of(grid), size_of(threads));
}

int mtl_commit(MtlCmd *c) {
    if (c->committed) {
        set_error("mtl_commit: command buffer committed twice");
        return -1;
    }
    c->committed = 1;
    SEND(msg_void)(c->enc, sel("endEncoding"));
    if (c->failed) {  // nothing goes to the GPU; mtl_wait reports it again
        set_error("%s", c->err);
        return -1;
    }
    SEND(msg_void)(c->cb, sel("commit"));
    return 0;
}

int mtl_wait(MtlCmd *c) {
    if (!c->committed) {
        set_error("mtl_wait: command buffer was never committed");
        return -1;
    }
    if (c->failed) {
        set_error("%s", c->err);
        return -1;
    }
    SEND(msg_void)(c->cb, sel("waitUntilCompleted"));
    if (SEND(msg_uint)(c->cb, sel("status")) == MTLCommandBufferStatusCompleted) return 0;
    id pool = pool_push();
    set_error("GPU command buffer failed: %s", describe(SEND(msg_id)(c->cb, sel("error"))));
    pool_pop(pool);
    return -1;
}

int mtl_commit_wait(MtlCmd *c) { return mtl_commit(c) ? -1 : mtl_wait(c); }

double mtl_cmd_gpu_seconds(const MtlCmd *c) {
    return SEND(msg_time)(c->cb, sel("GPUEndTime")) - SEND(msg_time)(c->cb, sel("GPUStartTime"));
}

void mtl_cmd_free(MtlCmd *c) {
    if (!c) return;
    if (!c->committed) SEND(msg_void)(c->enc, sel("endEncoding"));  // Metal insists
    release(c->enc);
    release(c->cb);
    free(c);
}

#endif
