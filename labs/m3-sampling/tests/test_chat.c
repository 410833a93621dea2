// M3 tests, part 2: Qwen3's chat template. Each golden conversation (golden/m3/chat.psg) was
// rendered by Hugging Face's tokenizer.apply_chat_template from the real Qwen3 tokenizer_config.json;
// chat_render must produce the same bytes.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "harness.h"

#define CHAT "golden/m3/chat.psg"

// A golden u8 tensor as a NUL-terminated string (malloc'd).
static char *golden_string(const PsGolden *g, const char *name) {
    const PsTensor *t = ps_golden_find(g, name);
    if (!t) return NULL;
    char *s = malloc(t->count + 1);
    memcpy(s, t->data, t->count);
    s[t->count] = '\0';
    return s;
}

// Renders conversation c and compares; returns the number of messages.
static void check_conversation(const PsGolden *g, int c) {
    char name[64];
    snprintf(name, sizeof name, "c%d.flags", c);
    const int32_t *flags = ps_golden_get(g, name)->data;
    int n = flags[0];
    bool add_generation_prompt = flags[1], enable_thinking = flags[2];
    ChatMessage *msgs = calloc((size_t)n + 1, sizeof *msgs);
    for (int j = 0; j < n; j++) {
        snprintf(name, sizeof name, "c%d.m%d.role", c, j);
        msgs[j].role = golden_string(g, name);
        snprintf(name, sizeof name, "c%d.m%d.content", c, j);
        msgs[j].content = golden_string(g, name);
        snprintf(name, sizeof name, "c%d.m%d.reasoning", c, j);
        msgs[j].reasoning = golden_string(g, name);  // NULL when absent
        PS_CHECK(msgs[j].role && msgs[j].content, "conversation %d message %d incomplete in %s", c, j, CHAT);
    }
    snprintf(name, sizeof name, "c%d.text", c);
    char *want = golden_string(g, name);
    const char *error = NULL;
    char *got = chat_render(msgs, n, add_generation_prompt, enable_thinking, &error);
    PS_CHECK(got != NULL, "conversation %d: chat_render failed: %s", c, error ? error : "?");
    if (strcmp(got, want) != 0) {
        size_t at = 0;
        while (got[at] && got[at] == want[at]) at++;
        PS_FAIL("conversation %d (%d messages, generation prompt %d, thinking %d) differs at byte %zu:\n"
                "  yours: \"%.60s\"\n  HF:    \"%.60s\"\n(whole HF text:)\n%s",
                c, n, add_generation_prompt, enable_thinking, at, got + at, want + at, want);
    }
    free(got);
    free(want);
    for (int j = 0; j < n; j++) {
        free((char *)msgs[j].role);
        free((char *)msgs[j].content);
        free((char *)msgs[j].reasoning);
    }
    free(msgs);
}

static int conversations(const PsGolden *g) {
    return ((const int32_t *)ps_golden_get(g, "nconv")->data)[0];
}

// The first conversations: one user message, with and without thinking.
static void t_single_turn(void) {
    PsGolden *g = ps_golden_open(CHAT);
    check_conversation(g, 0);
    check_conversation(g, 1);
    ps_golden_close(g);
}

// All of them: multi-turn, thinking kept or dropped, reasoning_content, tool results, unicode.
static void t_all_conversations(void) {
    PsGolden *g = ps_golden_open(CHAT);
    int n = conversations(g);
    PS_CHECK(n >= 8, "only %d conversations in %s", n, CHAT);
    for (int c = 0; c < n; c++) check_conversation(g, c);
    ps_golden_close(g);
}

static void t_bad_role(void) {
    ChatMessage m[2] = {{"user", "hi", NULL}, {"narrator", "meanwhile", NULL}};
    const char *error = NULL;
    char *text = chat_render(m, 1, true, false, &error);
    PS_CHECK(text && strcmp(text, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
                                  "<think>\n\n</think>\n\n") == 0,
             "one user message, thinking off: got \"%s\"", text ? text : "(null)");
    free(text);
    PS_CHECK(chat_render(m, 2, true, true, &error) == NULL && error,
             "an unknown role must be refused with a message");
}

static const PsTest TESTS[] = {
    {"chat.single-turn", t_single_turn, "book/m3-sampling.md#chat-template", 0},
    {"chat.conversations", t_all_conversations, "book/m3-sampling.md#chat-thinking", 0},
    {"chat.bad-role", t_bad_role, "book/m3-sampling.md#chat-template", 0},
};

int main(int argc, char **argv) { return ps_main("M3", TESTS, PS_COUNT(TESTS), argc, argv); }
