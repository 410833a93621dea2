// Qwen3's chat template without a template engine (what it renders: chat.h).
//
// The Jinja source reads like Python: s.strip('\n'), s.split('</think>')[-1] ... The helpers below
// give those string operations on (pointer, length) views, so chat_render can follow the template
// line by line.
#include "chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

typedef struct {
    const char *p;
    size_t n;
} View;

static View view(const char *s) { return (View){s ? s : "", s ? strlen(s) : 0}; }

// Python's s.lstrip('\n'), s.rstrip('\n') and s.strip('\n').
static View lstrip_nl(View v) {
    while (v.n && v.p[0] == '\n') v.p++, v.n--;
    return v;
}
static View rstrip_nl(View v) {
    while (v.n && v.p[v.n - 1] == '\n') v.n--;
    return v;
}
static View strip_nl(View v) { return rstrip_nl(lstrip_nl(v)); }

// Where sep first (or last) occurs in v; NULL when it does not.
static const char *find_first(View v, const char *sep) {
    size_t m = strlen(sep);
    for (size_t i = 0; i + m <= v.n; i++)
        if (memcmp(v.p + i, sep, m) == 0) return v.p + i;
    return NULL;
}
static const char *find_last(View v, const char *sep) {
    size_t m = strlen(sep);
    for (size_t i = v.n; i >= m; i--)
        if (memcmp(v.p + i - m, sep, m) == 0) return v.p + i - m;
    return NULL;
}
static bool contains(View v, const char *sep) { return find_first(v, sep) != NULL; }
static bool starts_with(View v, const char *s) { return v.n >= strlen(s) && memcmp(v.p, s, strlen(s)) == 0; }
static bool ends_with(View v, const char *s) {
    size_t m = strlen(s);
    return v.n >= m && memcmp(v.p + v.n - m, s, m) == 0;
}

// Python's s.split(sep)[0] and s.split(sep)[-1].
static View before_first(View v, const char *sep) {
    const char *at = find_first(v, sep);
    return at ? (View){v.p, (size_t)(at - v.p)} : v;
}
static View after_last(View v, const char *sep) {
    const char *at = find_last(v, sep);
    if (!at) return v;
    at += strlen(sep);
    return (View){at, v.n - (size_t)(at - v.p)};
}

// A growing output string.
typedef struct {
    char *s;
    size_t len, cap;
} TextBuf;

static void put_view(TextBuf *t, View v) {
    if (t->len + v.n + 1 > t->cap) {
        t->cap = (t->len + v.n + 1) * 2;
        t->s = xrealloc(t->s, t->cap);
    }
    memcpy(t->s + t->len, v.p, v.n);
    t->len += v.n;
    t->s[t->len] = '\0';
}
static void put(TextBuf *t, const char *s) { put_view(t, view(s)); }

static bool is_role(const ChatMessage *m, const char *role) { return strcmp(m->role, role) == 0; }

// The template calls the last user message that is not a wrapped tool result the "last query":
// assistant turns after it show their thinking, earlier ones have it dropped.
static int last_query_index(const ChatMessage *m, int n) {
    for (int i = n - 1; i >= 0; i--) {
        View c = view(m[i].content);
        if (is_role(&m[i], "user") &&
            !(starts_with(c, "<tool_response>") && ends_with(c, "</tool_response>")))
            return i;
    }
    return n - 1;
}

// One assistant message: split off the reasoning, then decide whether to show it.
static void render_assistant(TextBuf *out, const ChatMessage *m, bool after_last_query, bool is_last) {
    //> M3 chat-thinking
    //? Reasoning: m->reasoning if given; else, when content contains "</think>", the part before
    //? the first "</think>", right-stripped of '\n', after its last "<think>", left-stripped of
    //? '\n'; and content becomes what follows the last "</think>", left-stripped of '\n'.
    //? After the last query, and if this is the last message or the reasoning is not empty,
    //? write "<think>\n" + reasoning.strip('\n') + "\n</think>\n\n" + content.lstrip('\n');
    //? otherwise just the content.
    View content = view(m->content), reasoning = view("");
    if (m->reasoning) {
        reasoning = view(m->reasoning);
    } else if (contains(content, "</think>")) {
        reasoning = lstrip_nl(after_last(rstrip_nl(before_first(content, "</think>")), "<think>"));
        content = lstrip_nl(after_last(content, "</think>"));
    }
    put(out, "<|im_start|>assistant\n");
    if (after_last_query && (is_last || reasoning.n > 0)) {
        put(out, "<think>\n");
        put_view(out, strip_nl(reasoning));
        put(out, "\n</think>\n\n");
        put_view(out, lstrip_nl(content));
    } else {
        put_view(out, content);
    }
    put(out, "<|im_end|>\n");
    //<
}

char *chat_render(const ChatMessage *messages, int n, bool add_generation_prompt,
                  bool enable_thinking, const char **error) {
    for (int i = 0; i < n; i++) {
        const char *r = messages[i].role;
        if (!r || (strcmp(r, "system") && strcmp(r, "user") && strcmp(r, "assistant") && strcmp(r, "tool"))) {
            if (error) *error = "unknown role (expected system, user, assistant or tool)";
            return NULL;
        }
    }
    TextBuf out = {0};
    put(&out, "");  // an empty conversation still returns a valid string
    //> M3 chat-template
    //? Walk the messages: user messages, and system messages other than the first (the first
    //? one is written the same way), become "<|im_start|>ROLE\nCONTENT<|im_end|>\n"; assistant
    //? messages go to render_assistant (after_last_query: index > last_query_index()); a run of
    //? consecutive tool messages becomes ONE user turn, each result wrapped as
    //? "\n<tool_response>\nCONTENT\n</tool_response>". Then the generation prompt.
    int last_query = last_query_index(messages, n);
    for (int i = 0; i < n; i++) {
        const ChatMessage *m = &messages[i];
        if (is_role(m, "user") || is_role(m, "system")) {
            put(&out, "<|im_start|>");
            put(&out, m->role);
            put(&out, "\n");
            put(&out, m->content);
            put(&out, "<|im_end|>\n");
        } else if (is_role(m, "assistant")) {
            render_assistant(&out, m, i > last_query, i == n - 1);
        } else {  // tool: consecutive results share one user turn
            if (i == 0 || !is_role(&messages[i - 1], "tool")) put(&out, "<|im_start|>user");
            put(&out, "\n<tool_response>\n");
            put(&out, m->content);
            put(&out, "\n</tool_response>");
            if (i == n - 1 || !is_role(&messages[i + 1], "tool")) put(&out, "<|im_end|>\n");
        }
    }
    if (add_generation_prompt) {
        put(&out, "<|im_start|>assistant\n");
        if (!enable_thinking) put(&out, "<think>\n\n</think>\n\n");
    }
    //<
    return out.s;
}
