// What every command of the CLI parses the same way: token ids, whole-string numbers with their
// range, and the help convention (`--help`/`-h`: usage on stdout, exit 0; bad usage: usage on
// stderr, exit 2).
#ifndef PS_CLI_ARGS_H
#define PS_CLI_ARGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

// True for "-h" and "--help".
bool cli_is_help(const char *arg);

// The exit status after printing usage to `out`: 0 when it was asked for (stdout), 2 after bad
// usage (stderr).
int cli_usage_status(const FILE *out);

// Token ids: decimal integers in 0..INT32_MAX separated by spaces, tabs, newlines or commas
// ("1 2, 3"). Appends them to *ids (an stb_ds array). false after a message that starts with
// `what` and quotes the word that is not an id.
bool cli_parse_ids(const char *what, const char *text, int32_t **ids);

// The whole of `text` as an integer in lo..hi ("12x" and "" are errors, not 12 and 0). false
// after a message naming the flag and the range.
bool cli_parse_int(const char *flag, const char *text, long long lo, long long hi, long long *out);

// The whole of `text` as a number in lo..hi, then narrowed to float (lo..hi must fit a float).
// false after a message naming the flag and the range.
bool cli_parse_float(const char *flag, const char *text, double lo, double hi, float *out);

#endif
