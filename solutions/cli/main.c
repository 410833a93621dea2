// protostar: the command-line front end. Each subcommand lives in solutions/cli/cmd_<name>.c.
#include <stdio.h>
#include <string.h>

#include "cli_args.h"
#include "quant_model.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} Command;

int cmd_chat(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_quantize(int argc, char **argv);

static const Command COMMANDS[] = {
    {"chat", cmd_chat, "-m MODEL_DIR [--system TEXT] [--no-think] [sampling options]: talk with a chat model"},
    {"detokenize", cmd_detokenize, "-t TOKENIZER < ids: the text of space-separated token ids"},
    {"generate", cmd_generate, "-m MODEL_DIR -p PROMPT [-n N] [--temp T] [--chat] ...: stream a continuation"},
    {"inspect", cmd_inspect, "MODEL_DIR [--ctx N]: architecture, tensors, parameter counts, memory"},
    {"logits", cmd_logits, "-m DIR --ids \"1 2 3\" -o FILE: all positions' logits as float32"},
    {"quantize", cmd_quantize, "-m IN_DIR -o OUT_DIR --type q8_0|q4_0|q4_affine: 8- or 4-bit weights"},
    {"tokenize", cmd_tokenize, "-t TOKENIZER < text: the token ids of the text (TOKENIZER: tokenizer.json or model dir)"},
    {NULL, NULL, NULL},
};

// The list of commands: on stdout for --help (exit 0), on stderr after bad usage (exit 2).
static int usage(FILE *out) {
    fprintf(out, "usage: protostar COMMAND [options]   (protostar COMMAND --help: its options)\n\ncommands:\n");
    for (const Command *c = COMMANDS; c->name; c++) fprintf(out, "  %-12s %s\n", c->name, c->help);
    return cli_usage_status(out);
}

int main(int argc, char **argv) {
    if (argc < 2) return usage(stderr);
    if (cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) return usage(stdout);
    const Command *found = NULL;
    for (const Command *c = COMMANDS; c->name && !found; c++)
        if (strcmp(argv[1], c->name) == 0) found = c;
    if (!found) {
        fprintf(stderr, "protostar: unknown command '%s'\n", argv[1]);
        return usage(stderr);
    }
    // Lab M5's formats plug into M1's loader and M2's matmul (their extension points): every
    // command then reads and runs quantized models.
    if (quant_register() != 0) return 1;
    return found->run(argc - 1, argv + 1);
}
