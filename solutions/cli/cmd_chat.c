// `protostar chat`: talk with a chat model. The whole conversation is rendered with the chat
// template every turn and handed to generate(); the KV cache keeps the positions it shares with
// the previous turn (kvcache.c: prefix reuse), so only the new messages go through the model.
//
//     protostar chat -m models/qwen3-0.6b --no-think
//     > Who was Moses?
//
// Commands: /reset forgets the conversation, /quit (or end of input) leaves.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "cmd_generate.h"
#include "stb_ds.h"
#include "xalloc.h"

// The conversation: roles point to literals; each content is also kept in `owned`, which frees it
// (ChatMessage holds const text).
typedef struct {
    ChatMessage *messages;  // stb_ds array
    char **owned;           // stb_ds array: the contents' copies
} Conversation;

static void add(Conversation *c, const char *role, const char *content) {
    char *copy = xstrdup(content ? content : "");
    ChatMessage m = {role, copy, NULL};
    arrput(c->owned, copy);
    arrput(c->messages, m);
}

static void clear(Conversation *c, const char *system) {
    for (ptrdiff_t i = 0; i < arrlen(c->owned); i++) free(c->owned[i]);
    arrfree(c->owned);
    arrfree(c->messages);
    if (system) add(c, "system", system);
}

int cmd_chat(int argc, char **argv) {
    Session s;
    int rc = 0;
    if (!session_parse(&s, argc, argv, true, &rc)) return rc;
    if (session_open(&s) != 0) {
        session_close(&s);
        return 1;
    }
    Conversation conv = {0};
    clear(&conv, s.system);
    fprintf(stderr, "chat with %s: /reset forgets the conversation, /quit leaves\n", s.model_dir);
    char *line = NULL;
    size_t cap = 0;
    rc = 0;
    for (;;) {
        fputs("> ", stdout);
        fflush(stdout);
        ssize_t len = getline(&line, &cap, stdin);
        if (len < 0) break;  // end of input
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0) continue;
        if (strcmp(line, "/quit") == 0) break;
        if (strcmp(line, "/reset") == 0) {
            clear(&conv, s.system);
            continue;
        }
        add(&conv, "user", line);
        const char *error = NULL;
        char *text = chat_render(conv.messages, (int)arrlen(conv.messages), true, s.think, &error);
        int32_t *ids = NULL;
        if (!text || tokenizer_encode(s.tok, text, strlen(text), true, &ids) != 0) {
            fprintf(stderr, "chat: cannot prepare the prompt: %s\n", error ? error : "encoding failed");
            rc = 1;
        }
        free(text);
        char *reply = NULL;
        if (!rc && session_generate(&s, &ids, &reply) != 0) rc = 1;
        arrfree(ids);
        if (rc) {
            free(reply);
            break;
        }
        // The reply as the model wrote it (thinking included): the template itself drops the
        // thinking of earlier turns when it renders the next prompt.
        add(&conv, "assistant", reply);
        free(reply);
    }
    free(line);
    clear(&conv, NULL);
    session_close(&s);
    return rc;
}
