// The MSL emulator's strict front-end as a function (tools/mslstrict.c says what it refuses and
// why): the command runs it on one file, the fuzz target (tools/fuzz/fuzz_mslstrict.c) on anything.
#ifndef PS_MSLSTRICT_H
#define PS_MSLSTRICT_H

// Checks text, a preprocessed .metal file (NUL-terminated; its line markers name the files and
// lines), printing one message per broken rule to stderr, each at the .metal file and line
// (source names the file before any marker). Returns how many, or -1 when a bracket is never
// closed (its place printed: the checks cannot go on past it). Keeps nothing.
int mslstrict_check(const char *source, const char *text);

#endif
