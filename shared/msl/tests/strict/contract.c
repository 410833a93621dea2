// The encoding contracts of shared/mtl.h, on whichever backend this is linked with: the emulator
// (make strict-test) or real Metal (tools/mac-check.sh). A NULL pipeline or buffer, an offset past
// the end, more than MTL_SET_BYTES_MAX bytes and a dispatch without a pipeline must each make
// mtl_commit_wait fail with a message naming the call, never crash. One line per check:
// `PASS contract.NAME` or `FAIL contract.NAME why`.
#include <stdio.h>
#include <string.h>

#include "mtl.h"

static int failures;

static void expect_error(MtlContext *ctx, const char *name, const char *words,
                         void (*encode)(MtlCmd *, MtlBuffer *), MtlBuffer *buf) {
    MtlCmd *cmd = mtl_cmd_new(ctx);
    if (!cmd) {
        printf("FAIL contract.%s mtl_cmd_new: %s\n", name, mtl_error());
        failures++;
        return;
    }
    encode(cmd, buf);
    int rc = mtl_commit_wait(cmd);
    int ok = words ? rc == -1 && strstr(mtl_error(), words) : rc == 0;
    printf("%s contract.%s", ok ? "PASS" : "FAIL", name);
    if (!ok) printf(" rc %d, message '%s', wanted %s", rc, mtl_error(), words ? words : "success");
    printf("\n");
    failures += !ok;
    mtl_cmd_free(cmd);
}

static void null_pipeline(MtlCmd *c, MtlBuffer *b) { (void)b; mtl_set_pipeline(c, NULL); }
static void null_buffer(MtlCmd *c, MtlBuffer *b) { (void)b; mtl_set_buffer(c, 0, NULL, 0); }
static void offset_past_end(MtlCmd *c, MtlBuffer *b) { mtl_set_buffer(c, 1, b, mtl_buffer_size(b) + 4); }
static void bytes_too_many(MtlCmd *c, MtlBuffer *b) {
    static char big[MTL_SET_BYTES_MAX + 1];
    (void)b;
    mtl_set_bytes(c, 2, big, sizeof big);
}
static void bytes_at_limit(MtlCmd *c, MtlBuffer *b) {
    static char most[MTL_SET_BYTES_MAX];
    mtl_set_bytes(c, 2, most, sizeof most);
    mtl_set_buffer(c, 1, b, mtl_buffer_size(b));  // an offset at the very end is allowed
}
static void dispatch_without_pipeline(MtlCmd *c, MtlBuffer *b) {
    (void)b;
    mtl_dispatch_groups(c, MTL_SIZE(1, 1, 1), MTL_SIZE(32, 1, 1));
}

int main(void) {
    MtlContext *ctx = mtl_context_new();
    MtlBuffer *buf = ctx ? mtl_buffer_new(ctx, 64) : NULL;
    if (!buf) {
        printf("FAIL contract.setup %s\n", mtl_error());
        return 1;
    }
    expect_error(ctx, "null_pipeline", "NULL pipeline", null_pipeline, buf);
    expect_error(ctx, "null_buffer", "NULL buffer", null_buffer, buf);
    expect_error(ctx, "offset_past_end", "past the end", offset_past_end, buf);
    expect_error(ctx, "set_bytes_limit", "Metal allows 4096", bytes_too_many, buf);
    expect_error(ctx, "set_bytes_at_limit", NULL, bytes_at_limit, buf);
    expect_error(ctx, "dispatch_without_pipeline", "no pipeline", dispatch_without_pipeline, buf);
    mtl_buffer_free(buf);
    mtl_context_free(ctx);
    return failures ? 1 : 0;
}
