// The checking build's view of threadgroup memory (mslpp -check). Every way a kernel reaches
// threadgroup memory goes through one of two types, so every access is seen by the checker:
//   threadgroup float4 sh[64];          ->  msl::tg_array<float4[64]> sh(...)
//   threadgroup float *p (parameter,    ->  msl::tg_ptr<float> p
//     local, [[threadgroup(n)]], cast)
// and every later use of the name carries its .metal line: `sh[i]` becomes `sh.at(12)[i]`.
//
// An access gives the kernel a real reference (so members, swizzles, templates and atomics all
// work unchanged) and tells the runtime which bytes it touched (msl_tg_touch). Whether the
// thread wrote them is found out when it next stops (barrier, collective, end): a fiber runs
// alone until then, so bytes that changed since the access were written by that thread.
// msl_check.c then compares the access with the other threads' in the same barrier interval.
//
// Device memory the same way: `device T *` / `constant T *` become msl::dev_ptr<T>, which knows
// the buffer binding it points into. Every access is bounds-checked inline; accesses to a
// buffer the kernel may write are also race-checked (msl_devcheck.c).
#ifndef MSL_TGCHECK_H
#define MSL_TGCHECK_H

#include <stddef.h>

#include "msl_rt.h"
#include "msl_types.h"

namespace msl {
template<class A, class B> struct same_type { static const bool value = false; };
template<class A> struct same_type<A, A> { static const bool value = true; };

// Atomics are meant to be touched by many threads at once: not races (msl_sync.h marks them).
template<class T> struct no_touch { static const bool value = false; };
template<class T, size_t N> struct no_touch<T[N]> { static const bool value = no_touch<T>::value; };

template<class T> struct tg_ptr;

// What p[i] gives: a checked reference to an element, or for a row of a 2-D array the row as a
// checked pointer (its own [j] is then the access).
template<class T> struct tg_deref {
    typedef T &type;
    static T &get(T *p, const void *lo, const void *hi, const char *name, int line) {
        return *static_cast<T *>(msl_tg_touch(p, sizeof(T), line, name, lo, hi, !no_touch<T>::value));
    }
};
template<class U, size_t N> struct tg_deref<U[N]> {
    typedef tg_ptr<U> type;
    static tg_ptr<U> get(U (*p)[N], const void *lo, const void *hi, const char *name, int line) {
        return tg_ptr<U>(*p, lo, hi, name, line);
    }
};

template<class T> struct tg_ptr {
    T *p;
    const void *lo, *hi;         // the variable or threadgroup(n) buffer it points into
    mutable const char *name;    // the first name it was used under: the variable's
    mutable int line;            // the .metal line of the current use
    tg_ptr() : p(nullptr), lo(nullptr), hi(nullptr), name(nullptr), line(0) {}
    tg_ptr(T *q, const void *l, const void *h, const char *n, int ln)
        : p(q), lo(l), hi(h), name(n), line(ln) {}
    // From a raw address (`&sh[3]`, a [[threadgroup(n)]] buffer): the runtime finds its region.
    tg_ptr(T *q) : p(q), name(nullptr), line(0) { msl_tg_region(q, &lo, &hi); }
    explicit tg_ptr(void *q) : tg_ptr(static_cast<T *>(q)) {}
    // float * -> const float *, implicitly; any other pointer type only by a cast.
    template<class U, need<same_type<T, const U>::value> = 0>
    tg_ptr(const tg_ptr<U> &o) : p(o.p), lo(o.lo), hi(o.hi), name(o.name), line(o.line) {}
    template<class U, need<!same_type<T, const U>::value && !same_type<T, U>::value> = 0>
    explicit tg_ptr(const tg_ptr<U> &o) : p((T *)o.p), lo(o.lo), hi(o.hi), name(o.name), line(o.line) {}

    tg_ptr &at(int l, const char *n) const {  // one use of the variable, at line l
        line = l;
        if (!name) name = n;
        return const_cast<tg_ptr &>(*this);
    }
    typename tg_deref<T>::type operator[](ptrdiff_t i) const { return tg_deref<T>::get(p + i, lo, hi, name, line); }
    typename tg_deref<T>::type operator*() const { return tg_deref<T>::get(p, lo, hi, name, line); }
    T *operator->() const { return &tg_deref<T>::get(p, lo, hi, name, line); }
    tg_ptr operator+(ptrdiff_t i) const { return tg_ptr(p + i, lo, hi, name, line); }
    tg_ptr operator-(ptrdiff_t i) const { return tg_ptr(p - i, lo, hi, name, line); }
    ptrdiff_t operator-(const tg_ptr &o) const { return p - o.p; }
    tg_ptr &operator+=(ptrdiff_t i) { p += i; return *this; }
    tg_ptr &operator-=(ptrdiff_t i) { p -= i; return *this; }
    tg_ptr &operator++() { ++p; return *this; }
    tg_ptr &operator--() { --p; return *this; }
    tg_ptr operator++(int) { tg_ptr r = *this; ++p; return r; }
    tg_ptr operator--(int) { tg_ptr r = *this; --p; return r; }
    bool operator==(const tg_ptr &o) const { return p == o.p; }
    bool operator!=(const tg_ptr &o) const { return p != o.p; }
    bool operator<(const tg_ptr &o) const { return p < o.p; }
    bool operator<=(const tg_ptr &o) const { return p <= o.p; }
    bool operator>(const tg_ptr &o) const { return p > o.p; }
    bool operator>=(const tg_ptr &o) const { return p >= o.p; }
    explicit operator bool() const { return p != nullptr; }
    // An atomic is handed to atomic_*_explicit as a plain pointer (after a bounds check).
    template<class U = T, need<no_touch<U>::value> = 0> operator U *() const {
        return static_cast<U *>(msl_tg_touch(p, sizeof(U), line, name, lo, hi, 0));
    }
};
template<class T> tg_ptr<T> operator+(ptrdiff_t i, const tg_ptr<T> &q) { return q + i; }

// A `device T *` or `constant T *`: every access is bounds-checked against the buffer it points
// into (msl_dev_touch), and reported with the kernel, the variable and the line.
// The common case, a read-only buffer in bounds, is decided here without a call.
template<class T> struct dev_ptr;
template<class T> struct dev_deref {
    static T &get(T *p, const void *lo, const void *hi, int watch, const char *name, int line) {
        if (!watch && (!lo || ((const void *)p >= lo && (const void *)(p + 1) <= hi))) return *p;
        return *static_cast<T *>(msl_dev_touch(p, sizeof(T), line, name, lo, hi, !no_touch<T>::value));
    }
};
template<class T> struct dev_ptr {
    T *p;
    const void *lo, *hi;         // the bound buffer it points into (lo = NULL: not checked)
    int watch;                   // it may be written in this dispatch: race-check its accesses
    mutable const char *name;
    mutable int line;
    dev_ptr() : p(nullptr), lo(nullptr), hi(nullptr), watch(0), name(nullptr), line(0) {}
    dev_ptr(T *q, const void *l, const void *h, int w, const char *n, int ln)
        : p(q), lo(l), hi(h), watch(w), name(n), line(ln) {}
    dev_ptr(T *q) : p(q), name(nullptr), line(0) { msl_dev_region(q, &lo, &hi, &watch); }
    explicit dev_ptr(void *q) : dev_ptr(static_cast<T *>(q)) {}
    template<class U, need<same_type<T, const U>::value> = 0>
    dev_ptr(const dev_ptr<U> &o) : p(o.p), lo(o.lo), hi(o.hi), watch(o.watch), name(o.name), line(o.line) {}
    template<class U, need<!same_type<T, const U>::value && !same_type<T, U>::value> = 0>
    explicit dev_ptr(const dev_ptr<U> &o)
        : p((T *)o.p), lo(o.lo), hi(o.hi), watch(o.watch), name(o.name), line(o.line) {}

    dev_ptr &at(int l, const char *n) const {
        line = l;
        if (!name) name = n;
        return const_cast<dev_ptr &>(*this);
    }
    T &operator[](ptrdiff_t i) const { return dev_deref<T>::get(p + i, lo, hi, watch, name, line); }
    T &operator*() const { return dev_deref<T>::get(p, lo, hi, watch, name, line); }
    T *operator->() const { return &dev_deref<T>::get(p, lo, hi, watch, name, line); }
    dev_ptr operator+(ptrdiff_t i) const { return dev_ptr(p + i, lo, hi, watch, name, line); }
    dev_ptr operator-(ptrdiff_t i) const { return dev_ptr(p - i, lo, hi, watch, name, line); }
    ptrdiff_t operator-(const dev_ptr &o) const { return p - o.p; }
    dev_ptr &operator+=(ptrdiff_t i) { p += i; return *this; }
    dev_ptr &operator-=(ptrdiff_t i) { p -= i; return *this; }
    dev_ptr &operator++() { ++p; return *this; }
    dev_ptr &operator--() { --p; return *this; }
    dev_ptr operator++(int) { dev_ptr r = *this; ++p; return r; }
    dev_ptr operator--(int) { dev_ptr r = *this; --p; return r; }
    bool operator==(const dev_ptr &o) const { return p == o.p; }
    bool operator!=(const dev_ptr &o) const { return p != o.p; }
    bool operator<(const dev_ptr &o) const { return p < o.p; }
    bool operator<=(const dev_ptr &o) const { return p <= o.p; }
    bool operator>(const dev_ptr &o) const { return p > o.p; }
    bool operator>=(const dev_ptr &o) const { return p >= o.p; }
    explicit operator bool() const { return p != nullptr; }
    template<class U = T, need<no_touch<U>::value> = 0> operator U *() const {
        return static_cast<U *>(msl_dev_touch(p, sizeof(U), line, name, lo, hi, 0));
    }
};
template<class T> dev_ptr<T> operator+(ptrdiff_t i, const dev_ptr<T> &q) { return q + i; }

// A kernel-scope `threadgroup T name;` (T a scalar, vector, struct or array of them).
template<class T> struct tg_var_of {  // a scalar variable: its use is an access
    typedef T &type;
    static T &get(T *p, const char *name, int line) { return tg_deref<T>::get(p, p, p + 1, name, line); }
};
template<class U, size_t N> struct tg_var_of<U[N]> {  // an array: its use is a checked pointer
    typedef tg_ptr<U> type;
    static tg_ptr<U> get(U (*p)[N], const char *name, int line) { return tg_ptr<U>(*p, p, p + 1, name, line); }
};
template<class T> struct tg_array {
    typedef T type;  // sizeof(sh) is rewritten to sizeof(decltype(sh)::type)
    T *p;
    const char *name;
    tg_array(void *mem, const char *n) : p(static_cast<T *>(mem)), name(n) {}
    typename tg_var_of<T>::type at(int line) const { return tg_var_of<T>::get(p, name, line); }
};
}  // namespace msl

#endif
