// The one translation unit that holds stb_ds's implementation (the rest include only its macros).
// Its arrays and hash maps grow through xrealloc: out of memory is reported, never a NULL that an
// arrput would write through (xalloc.h: the error policy).
#include "xalloc.h"
#define STBDS_REALLOC(context, ptr, size) xrealloc((ptr), (size))
#define STBDS_FREE(context, ptr) free(ptr)
#define STB_DS_IMPLEMENTATION
#include "stb_ds.h"
