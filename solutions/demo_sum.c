// lab: m0-tokenizer
#include "demo_sum.h"

int demo_sum(const int *x, int n) {
    //> M0 demo-sum
    //? Add up the n values.
    int s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    return s;
    //<
}
