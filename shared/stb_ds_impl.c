// The one translation unit that holds stb_ds's implementation (the rest include only its macros).
#define STB_DS_IMPLEMENTATION
#include "stb_ds.h"
