// LAB_TODO marks a hole the learner fills in. Generated skeletons call it where the reference code
// was; it names the lab, the task and the book section to read, then ends the process (inside the
// test harness: ends the current test as TODO), so an unwritten function can never crash or hang.
#ifndef PS_LAB_TODO_H
#define PS_LAB_TODO_H

_Noreturn void lab_todo(const char *lab, const char *task, const char *anchor,
                        const char *file, int line);

#define LAB_TODO(lab, task, anchor) lab_todo((lab), (task), (anchor), __FILE__, __LINE__)

// The exit status that means "stopped at a LAB_TODO"; the harness reports it as TODO, not FAIL.
#define LAB_TODO_EXIT 77

#endif
