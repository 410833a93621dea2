#include "harness.h"
#include "demo_sum.h"
static void t_sum(void) { int x[] = {1, 2, 3}; PS_CHECK(demo_sum(x, 3) == 6, "got %d", demo_sum(x, 3)); }
static void t_crash(void) { int x[] = {1, 2, 3}; PS_CHECK(demo_sum(x, 3) == 6, "got %d", demo_sum(x, 3)); }
static const ps_test TESTS[] = {
    {"demo.sum", t_sum, "book/m0-tokenizer.md#demo-sum", 0},
    {"demo.sum2", t_crash, "book/m0-tokenizer.md#demo-sum", 0},
};
int main(int argc, char **argv) { return ps_main("M0", TESTS, PS_COUNT(TESTS), argc, argv); }
