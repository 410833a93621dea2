// Qwen3's chat template, in C.
//
// A chat model is trained on conversations laid out in one exact text format; the model's
// tokenizer_config.json carries it as a Jinja template ("chat_template"). protostar has no Jinja
// engine: chat_render() implements what Qwen3's template does for plain conversations —
// system/user/assistant/tool messages and the enable_thinking switch — and the tests compare it
// byte for byte with Hugging Face's tokenizer.apply_chat_template. Not supported: the template's
// `tools` list (function schemas in the system prompt) and assistant `tool_calls`.
//
//   <|im_start|>system\n{system}<|im_end|>\n
//   <|im_start|>user\n{question}<|im_end|>\n
//   <|im_start|>assistant\n<think>\n{reasoning}\n</think>\n\n{answer}<|im_end|>\n
//   <|im_start|>assistant\n                        (add_generation_prompt)
//   <think>\n\n</think>\n\n                        (... and enable_thinking = false)
#ifndef PS_CHAT_H
#define PS_CHAT_H

#include <stdbool.h>

typedef struct {
    const char *role;       // "system", "user", "assistant" or "tool"
    const char *content;
    const char *reasoning;  // assistant only: the thinking text, or NULL (then it is taken from
                            // a <think>...</think> block in content, as the template does)
} ChatMessage;

// The conversation as the template renders it (malloc'd, NUL-terminated; caller frees).
// add_generation_prompt appends the opening of the assistant's next turn; enable_thinking = false
// also appends an empty think block, which tells Qwen3 to answer without thinking.
// On an unknown role returns NULL and sets *error (if error is not NULL) to a static message.
char *chat_render(const ChatMessage *messages, int n, bool add_generation_prompt,
                  bool enable_thinking, const char **error);

#endif
