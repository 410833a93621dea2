// Glue between the code tools/mslpp generates and the runtime: how a trampoline turns an
// MslThread into a kernel's arguments, and how the checking build watches threadgroup memory.
#ifndef MSL_GLUE_H
#define MSL_GLUE_H

#include "msl_rt.h"
#include "msl_types.h"

namespace msl {
// The I-th parameter type of a function type: param<0, decltype(my_kernel)>::type.
template<int I, class... A> struct nth;
template<class H, class... T> struct nth<0, H, T...> { typedef H type; };
template<int I, class H, class... T> struct nth<I, H, T...> { typedef typename nth<I - 1, T...>::type type; };
template<int I, class F> struct param;
template<int I, class R, class... A> struct param<I, R(A...)> { typedef typename nth<I, A...>::type type; };

// buffer(n) and threadgroup(n) parameters are pointers or references.
template<class P> struct bind { static P get(void *p) { return static_cast<P>(p); } };
template<class T> struct bind<T &> { static T &get(void *p) { return *static_cast<T *>(p); } };
template<class P> P buffer(MslThread *t, int n) { return bind<P>::get(t->buffers[n]); }
template<class P> P tgbuf(MslThread *t, int n) { return bind<P>::get(t->tg_dyn[n]); }

// Position built-ins are uint/ushort scalars or 2-/3-vectors of them.
template<class P> struct pos { static P get(const uint32_t *v) { return P(v[0]); } };
template<class T> struct pos<vec<T, 2>> { static vec<T, 2> get(const uint32_t *v) { return vec<T, 2>(T(v[0]), T(v[1])); } };
template<class T> struct pos<vec<T, 3>> { static vec<T, 3> get(const uint32_t *v) { return vec<T, 3>(T(v[0]), T(v[1]), T(v[2])); } };
template<class P> P builtin(const uint32_t *v) { return pos<P>::get(v); }

// ---- checking build: a kernel-scope `threadgroup float sh[64];` becomes a tg_var, and every
// use of `sh` a tg_ref carrying the .metal line, so each element read and write is reported
// to the race checker (msl_check.c). Arrays of scalars only; anything else stays unchecked.
template<class T> struct tg_ref {
    T *p;
    const void *base;
    const char *name;
    int line;
    operator T() const {
        msl_check_access(base, name, p, sizeof(T), 0, line);
        return *p;
    }
    const tg_ref &operator=(const T &x) const {
        msl_check_access(base, name, p, sizeof(T), 1, line);
        *p = x;
        return *this;
    }
    const tg_ref &operator=(const tg_ref &o) const { return *this = T(o); }
    template<class X> const tg_ref &operator+=(const X &x) const { return *this = T(T(*this) + x); }
    template<class X> const tg_ref &operator-=(const X &x) const { return *this = T(T(*this) - x); }
    template<class X> const tg_ref &operator*=(const X &x) const { return *this = T(T(*this) * x); }
    template<class X> const tg_ref &operator/=(const X &x) const { return *this = T(T(*this) / x); }
    T *operator&() const { return p; }
};
template<class T, size_t N> struct tg_ref<T[N]> {
    T (*p)[N];
    const void *base;
    const char *name;
    int line;
    tg_ref<T> operator[](size_t i) const { return tg_ref<T>{&(*p)[i], base, name, line}; }
    operator T *() const { return *p; }  // decays to a pointer: unchecked from here on
};
template<class T> struct tg_var {
    T *p;
    const char *name;
    tg_var(void *mem, const char *n) : p(static_cast<T *>(mem)), name(n) {}
    tg_ref<T> at(int line) const { return tg_ref<T>{p, p, name, line}; }
};
}  // namespace msl

#endif
