// The Objective-C runtime declarations that shared/mtl_macos.c uses, written out so the macOS
// backend can be compile-checked on Linux (make emu-test does, with -DMTL_OBJC_STUB). On a Mac
// the real <objc/runtime.h> and <objc/message.h> are used instead; these match them.
#ifndef MTL_OBJC_STUB_H
#define MTL_OBJC_STUB_H

typedef struct objc_object *id;        // any Objective-C object
typedef struct objc_selector *SEL;     // a method name, interned by sel_registerName
typedef struct objc_class *Class;
typedef signed char BOOL;
#define nil ((id)0)

Class objc_getClass(const char *name);
SEL sel_registerName(const char *name);
// Declared without a usable prototype on purpose (OBJC_OLD_DISPATCH_PROTOTYPES=0): every call
// must cast it to the exact function type of the method it sends.
void objc_msgSend(void);

#endif
