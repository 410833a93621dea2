// What makes threads meet: threadgroup_barrier, the SIMD-group collectives (simd_sum, shuffles,
// ...), atomics, and the glue between generated code and the runtime (msl_rt.h).
//
// tools/mslpp gives every barrier and collective call an extra first argument, msl::site{id,
// line}: the id tells apart two calls in different branches (lanes of a SIMD-group that diverge
// into two simd_sum calls form two groups, as on the GPU); the line goes into diagnostics.
#ifndef MSL_SYNC_H
#define MSL_SYNC_H

#include "msl_rt.h"
#include "msl_tgcheck.h"
#include "msl_types.h"

namespace msl {
struct site { int id, line; };
// mslpp wraps each call of a helper that uses barriers or SIMD collectives as
// (msl::call{id}, helper)(...): the temporary lives until the call returns and records where the
// helper was called from, so the same barrier reached through two different calls (from both
// sides of an if) is two different barriers, as on the GPU.
struct call {
    explicit call(int id) {
        MslThread *t = msl_self;
        if (t->depth < MSL_MAX_PATH) t->path[t->depth] = id;
        t->depth++;
    }
    ~call() { msl_self->depth--; }
};
// mslpp wraps each loop that contains a barrier or collective (or a call of a helper that has
// one): `for (msl::loop L(id); L.once();) for (init; L.next() && (cond); step) body`. The loop's
// id and the thread's iteration join its path, so lanes reaching one simd_sum in different
// iterations are different collectives, and a barrier skipped by a thread's `continue` shows.
struct loop {
    bool entered;
    explicit loop(int id) : entered(false) {
        MslThread *t = msl_self;
        if (t->depth + 1 < MSL_MAX_PATH) t->path[t->depth] = id, t->path[t->depth + 1] = -1;
        t->depth += 2;
    }
    ~loop() { msl_self->depth -= 2; }
    bool once() { return entered ? false : (entered = true); }
    bool next() {
        MslThread *t = msl_self;
        if (t->depth - 1 < MSL_MAX_PATH) t->path[t->depth - 1]++;
        return true;
    }
};
static const uint32_t simd_width = MSL_SIMD_WIDTH;

// A collective: publish my value, wait for the lanes taking part, read everybody's.
struct lanes {
    MslSimdView *v;
    uint32_t me;
    template<class T> lanes(site s, const T &x) : me(msl_self->lane) {
        static_assert(sizeof(T) <= 16, "SIMD collective on a value over 16 bytes");
        v = msl_simd_wait(s.id, s.line, &x, sizeof x);
    }
    bool active(uint32_t l) const { return l < MSL_SIMD_WIDTH && (v->active >> l & 1u); }
    template<class T> T get(uint32_t l) const {
        T t;
        __builtin_memcpy(&t, v->slot[l], sizeof t);
        return t;
    }
    uint32_t first() const { return (uint32_t)__builtin_ctz(v->active); }
    // For a result every lane gets: computed once per collective, not once per lane. Each of 32
    // lanes adding up all 32 values would be 1024 dependent additions per simd_sum, which made
    // this the hottest loop of a whole matvec. Same site = same operation and type, so the
    // first lane's result is valid for all.
    template<class T, class F> T shared(F compute) const {
        T r;
        if (v->has_result) {
            __builtin_memcpy(&r, v->result, sizeof r);
            return r;
        }
        r = compute();
        __builtin_memcpy(v->result, &r, sizeof r);
        v->has_result = 1;
        return r;
    }
};
}  // namespace msl

namespace metal {
enum class mem_flags { mem_none = 0, mem_device = 1, mem_threadgroup = 2, mem_texture = 4 };
inline mem_flags operator|(mem_flags a, mem_flags b) { return mem_flags(int(a) | int(b)); }

inline void threadgroup_barrier(msl::site s, mem_flags f) { msl_barrier(s.id, s.line, int(f)); }
inline void simdgroup_barrier(msl::site s, mem_flags) { msl_simd_barrier(s.id, s.line); }

// Reductions combine the active lanes in lane order, from the first active one: deterministic,
// like a fixed GPU schedule. fold(r, x) folds lane x's value into r; computed once per collective.
template<class T, class F> T msl_fold_lanes(msl::site s, T x, F fold) {
    msl::lanes l(s, x);
    return l.shared<T>([&] {
        T r = l.get<T>(l.first());
        for (uint32_t i = l.first() + 1; i < MSL_SIMD_WIDTH; i++) if (l.active(i)) fold(r, l.get<T>(i));
        return r;
    });
}
template<class T> T simd_sum(msl::site s, T x) { return msl_fold_lanes(s, x, [](T &r, T v) { r += v; }); }
template<class T> T simd_product(msl::site s, T x) { return msl_fold_lanes(s, x, [](T &r, T v) { r *= v; }); }
template<class T> T simd_max(msl::site s, T x) { return msl_fold_lanes(s, x, [](T &r, T v) { r = max(r, v); }); }
template<class T> T simd_min(msl::site s, T x) { return msl_fold_lanes(s, x, [](T &r, T v) { r = min(r, v); }); }
template<class T> T simd_prefix_exclusive_sum(msl::site s, T x) {
    msl::lanes l(s, x);
    T r = T(0);
    for (uint32_t i = 0; i < l.me; i++) if (l.active(i)) r += l.get<T>(i);
    return r;
}
template<class T> T simd_prefix_inclusive_sum(msl::site s, T x) {
    return simd_prefix_exclusive_sum(s, x) + x;
}
// Reading a lane that is not active (or does not exist) is undefined on the GPU; here it gives
// your own value, and the checking build reports it for simd_shuffle, simd_shuffle_xor and
// simd_broadcast. shuffle_up/down past the ends of the SIMD-group keep the caller's value, as
// Metal defines (a partial SIMD-group's reduction relies on it), and are not reported.
template<class T> T msl_shuffle_from(msl::site s, T x, uint32_t lane, bool check, const char *what) {
    msl::lanes l(s, x);
    if (l.active(lane)) return l.get<T>(lane);
#ifdef MSL_CHECK_BUILD
    if (check) msl_check_lane(s.line, what, lane);
#else
    (void)check, (void)what;
#endif
    return x;
}
template<class T> T simd_shuffle(msl::site s, T x, ushort lane) { return msl_shuffle_from(s, x, lane, true, "simd_shuffle"); }
template<class T> T simd_shuffle_down(msl::site s, T x, ushort d) {
    return msl_shuffle_from(s, x, uint32_t(msl_self->lane + d), false, "simd_shuffle_down");
}
template<class T> T simd_shuffle_up(msl::site s, T x, ushort d) {
    uint32_t me = msl_self->lane;
    return msl_shuffle_from(s, x, d > me ? me : me - d, false, "simd_shuffle_up");
}
template<class T> T simd_shuffle_xor(msl::site s, T x, ushort m) { return msl_shuffle_from(s, x, uint32_t(msl_self->lane ^ m), true, "simd_shuffle_xor"); }
template<class T> T simd_broadcast(msl::site s, T x, ushort lane) { return msl_shuffle_from(s, x, lane, true, "simd_broadcast"); }
template<class T> T simd_broadcast_first(msl::site s, T x) {
    msl::lanes l(s, x);
    return l.get<T>(l.first());
}
inline bool simd_is_first(msl::site s) {
    msl::lanes l(s, 0);
    return l.first() == l.me;
}
inline bool simd_all(msl::site s, bool b) {
    msl::lanes l(s, b);
    return l.shared<bool>([&] {
        for (uint32_t i = 0; i < MSL_SIMD_WIDTH; i++) if (l.active(i) && !l.get<bool>(i)) return false;
        return true;
    });
}
inline bool simd_any(msl::site s, bool b) {
    msl::lanes l(s, b);
    return l.shared<bool>([&] {
        for (uint32_t i = 0; i < MSL_SIMD_WIDTH; i++) if (l.active(i) && l.get<bool>(i)) return true;
        return false;
    });
}
struct simd_vote {
    typedef uint64_t vote_t;
    vote_t bits;
    explicit operator vote_t() const { return bits; }
    bool all() const { return bits == 0xffffffffu; }
    bool any() const { return bits != 0; }
};
inline simd_vote simd_ballot(msl::site s, bool b) {
    msl::lanes l(s, b);
    return l.shared<simd_vote>([&] {
        simd_vote v = {0};
        for (uint32_t i = 0; i < MSL_SIMD_WIDTH; i++) if (l.active(i) && l.get<bool>(i)) v.bits |= 1ull << i;
        return v;
    });
}

// ---- atomics: memory_order_relaxed is all Metal has ----
enum memory_order { memory_order_relaxed };
template<class T> struct msl_atomic { T v; };
typedef msl_atomic<int> atomic_int;
typedef msl_atomic<uint> atomic_uint;
typedef msl_atomic<float> atomic_float;
// The generic __atomic builtins work for float as well as for integers.
template<class T> T atomic_load_explicit(const msl_atomic<T> *a, memory_order) {
    T r;
    __atomic_load(&a->v, &r, __ATOMIC_RELAXED);
    return r;
}
template<class T, class U> void atomic_store_explicit(msl_atomic<T> *a, U x, memory_order) {
    T v = T(x);
    __atomic_store(&a->v, &v, __ATOMIC_RELAXED);
}
template<class T, class U> T atomic_exchange_explicit(msl_atomic<T> *a, U x, memory_order) {
    T v = T(x), r;
    __atomic_exchange(&a->v, &v, &r, __ATOMIC_RELAXED);
    return r;
}
template<class T, class U>
bool atomic_compare_exchange_weak_explicit(msl_atomic<T> *a, T *expected, U x, memory_order, memory_order) {
    T v = T(x);
    return __atomic_compare_exchange(&a->v, expected, &v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}
// Read-modify-write as a compare-and-swap loop: one definition for every type and operation.
#define MSL_ATOMIC_RMW(name, expr)                                                               \
    template<class T, class U> T atomic_##name##_explicit(msl_atomic<T> *a, U x, memory_order) { \
        T old = atomic_load_explicit(a, memory_order_relaxed), y = T(x);                         \
        while (!atomic_compare_exchange_weak_explicit(a, &old, T(expr), memory_order_relaxed,    \
                                                      memory_order_relaxed)) {}                  \
        return old;                                                                              \
    }
MSL_ATOMIC_RMW(fetch_add, old + y) MSL_ATOMIC_RMW(fetch_sub, old - y)
MSL_ATOMIC_RMW(fetch_and, old & y) MSL_ATOMIC_RMW(fetch_or, old | y)
MSL_ATOMIC_RMW(fetch_xor, old ^ y) MSL_ATOMIC_RMW(fetch_max, old < y ? y : old)
MSL_ATOMIC_RMW(fetch_min, y < old ? y : old)
#undef MSL_ATOMIC_RMW
}  // namespace metal

namespace msl {
template<class T> struct no_touch<metal::msl_atomic<T>> { static const bool value = true; };
}  // namespace msl

#include "msl_glue.h"

#endif
