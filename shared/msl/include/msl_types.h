// Metal's scalar and vector types for the emulator.
//
// half: _Float16 where the compiler has it (gcc >= 12 on x86-64 with -mf16c, clang or gcc >= 13 on arm64), otherwise
// a 16-bit struct that rounds every result to half precision in software. bfloat: always such a
// struct. Vectors have Metal's sizes and alignments: float3 is 16 bytes, half4 is 8.
#ifndef MSL_TYPES_H
#define MSL_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef unsigned int uint;
typedef unsigned short ushort;
typedef unsigned char uchar;
typedef unsigned long ulong;

// g++ 12 on arm64 predefines __FLT16_MAX__ but accepts _Float16 only in C, not in C++ (g++ 13 does).
#if defined(__FLT16_MAX__) && (defined(__clang__) || !defined(__aarch64__) || __GNUC__ >= 13)
#define MSL_HAS_FLOAT16 1
#endif

namespace msl {
template<bool B, class T = void> struct enable_if {};
template<class T> struct enable_if<true, T> { typedef T type; };
template<bool B> using need = typename enable_if<B, int>::type;

// Built-in arithmetic types (half and bfloat join them in is_scalar below).
template<class T> struct is_arith { static const bool value = false; };
#define MSL_ARITH(T) template<> struct is_arith<T> { static const bool value = true; };
MSL_ARITH(bool) MSL_ARITH(char) MSL_ARITH(signed char) MSL_ARITH(uchar) MSL_ARITH(short)
MSL_ARITH(ushort) MSL_ARITH(int) MSL_ARITH(uint) MSL_ARITH(long) MSL_ARITH(ulong)
MSL_ARITH(float) MSL_ARITH(double)
#ifdef MSL_HAS_FLOAT16
MSL_ARITH(_Float16)
#endif
#undef MSL_ARITH

static inline uint32_t f32_bits(float f) { uint32_t u; __builtin_memcpy(&u, &f, 4); return u; }
static inline float bits_f32(uint32_t u) { float f; __builtin_memcpy(&f, &u, 4); return f; }

// IEEE binary16 <-> float, round to nearest even (the software fallback).
static inline uint16_t f32_to_f16(float f) {
    uint32_t u = f32_bits(f), sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u : 0));
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);         // overflows to infinity
    if (a < 0x38800000u) {                                             // subnormal or zero
        float s = bits_f32(a) + 0.5f;          // the FPU rounds the low bits for us
        return (uint16_t)(sign | (f32_bits(s) - 0x3f000000u));
    }
    uint32_t r = a + 0xc8000fffu + ((a >> 13) & 1u);                   // rebias and round
    return (uint16_t)(sign | (r >> 13));
}
static inline float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0) return bits_f32(sign | f32_bits((float)m * 5.9604645e-8f));  // m * 2^-24
    if (e == 31) return bits_f32(sign | 0x7f800000u | (m << 13));
    return bits_f32(sign | ((e + 112) << 23) | (m << 13));
}
static inline uint16_t f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);  // quiet NaN
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
static inline float bf16_to_f32(uint16_t b) { return bits_f32((uint32_t)b << 16); }

// A 16-bit float stored as bits; arithmetic happens in float and is rounded back after every
// operation, which gives exactly IEEE half (or bfloat) results.
template<class Tag> struct f16 {
    uint16_t bits;
    f16() = default;
    template<class S, need<is_arith<S>::value> = 0> f16(S s) : bits(Tag::from(float(s))) {}
    operator float() const { return Tag::to(bits); }
};
template<class Tag> static inline f16<Tag> f16_bits(uint16_t b) { f16<Tag> h; h.bits = b; return h; }
#define MSL_F16_OPS(op)                                                                          \
    template<class G> f16<G> operator op(f16<G> a, f16<G> b) { return f16<G>(float(a) op float(b)); } \
    template<class G> float operator op(f16<G> a, float b) { return float(a) op b; }            \
    template<class G> float operator op(float a, f16<G> b) { return a op float(b); }            \
    template<class G> f16<G> operator op(f16<G> a, int b) { return f16<G>(float(a) op float(b)); } \
    template<class G> f16<G> operator op(int a, f16<G> b) { return f16<G>(float(a) op float(b)); } \
    template<class G, class X> f16<G> &operator op##=(f16<G> &a, X b) { return a = f16<G>(a op b); }
MSL_F16_OPS(+) MSL_F16_OPS(-) MSL_F16_OPS(*) MSL_F16_OPS(/)
#undef MSL_F16_OPS
#define MSL_F16_CMP(op)                                                                          \
    template<class G> bool operator op(f16<G> a, f16<G> b) { return float(a) op float(b); }     \
    template<class G> bool operator op(f16<G> a, float b) { return float(a) op b; }             \
    template<class G> bool operator op(float a, f16<G> b) { return a op float(b); }
MSL_F16_CMP(<) MSL_F16_CMP(>) MSL_F16_CMP(<=) MSL_F16_CMP(>=) MSL_F16_CMP(==) MSL_F16_CMP(!=)
#undef MSL_F16_CMP
template<class G> f16<G> operator-(f16<G> a) { return f16_bits<G>((uint16_t)(a.bits ^ 0x8000u)); }

struct half_tag {
    static uint16_t from(float f) { return f32_to_f16(f); }
    static float to(uint16_t h) { return f16_to_f32(h); }
};
struct bfloat_tag {
    static uint16_t from(float f) { return f32_to_bf16(f); }
    static float to(uint16_t b) { return bf16_to_f32(b); }
};
}  // namespace msl

#if defined(MSL_HAS_FLOAT16) && !defined(MSL_SOFT_HALF)
typedef _Float16 half;
#define MSL_HALF_IS_FLOAT16 1
#else
typedef msl::f16<msl::half_tag> half;
#endif
typedef msl::f16<msl::bfloat_tag> bfloat;

namespace msl {
// What counts as a scalar for vector broadcasts and mixed arithmetic.
template<class T> struct is_scalar { static const bool value = is_arith<T>::value; };
template<class G> struct is_scalar<f16<G>> { static const bool value = true; };

template<class T, int N> struct vec_store;
template<class T> struct vec_store<T, 2> { union { T v[2]; struct { T x, y; }; struct { T r, g; }; }; };
template<class T> struct vec_store<T, 3> { union { T v[3]; struct { T x, y, z; }; struct { T r, g, b; }; }; };
template<class T> struct vec_store<T, 4> {
    union { T v[4]; struct { T x, y, z, w; }; struct { T r, g, b, a; }; };
};

template<class T> struct comps { static const int n = 1; };
template<class T, int N> struct vec;
template<class T, int N> struct comps<vec<T, N>> { static const int n = N; };
template<class... A> struct total { static const int n = 0; };
template<class A, class... R> struct total<A, R...> { static const int n = comps<A>::n + total<R...>::n; };

// A Metal vector: T x N, 3-vectors padded to the size of 4 as on the GPU.
template<class T, int N> struct alignas(sizeof(T) * (N == 3 ? 4 : N)) vec : vec_store<T, N> {
    vec() = default;
    template<class S, need<is_scalar<S>::value> = 0> vec(S s) {
        for (int i = 0; i < N; i++) this->v[i] = T(s);
    }
    template<class U> explicit vec(const vec<U, N> &o) {
        for (int i = 0; i < N; i++) this->v[i] = T(o.v[i]);
    }
    template<class A, class B, class... R, need<total<A, B, R...>::n == N> = 0>
    vec(const A &a, const B &b, const R &...r) {
        int i = 0;
        put(i, a), put(i, b);
        (put(i, r), ...);
    }
    T &operator[](int i) { return this->v[i]; }
    const T &operator[](int i) const { return this->v[i]; }
    // v.xy, v.zyx ...: tools/mslpp rewrites `v.xy` into `v.template swz<0, 1>()`.
    template<int... I> vec<T, (int)sizeof...(I)> swz() const {
        return vec<T, (int)sizeof...(I)>(this->v[I]...);
    }

  private:
    template<class S> void put(int &i, const S &s) { this->v[i++] = T(s); }
    template<class U, int M> void put(int &i, const vec<U, M> &o) {
        for (int k = 0; k < M; k++) this->v[i++] = T(o.v[k]);
    }
};
// vec<T, 1> is just T, so that a one-letter "swizzle" or a 1-vector constructor works.
template<class T> struct vec<T, 1> {
    T v[1];
    vec(T s) { v[0] = s; }
    operator T() const { return v[0]; }
};

#define MSL_VEC_OP(op)                                                                           \
    template<class T, int N> vec<T, N> operator op(vec<T, N> a, const vec<T, N> &b) {           \
        for (int i = 0; i < N; i++) a.v[i] = T(a.v[i] op b.v[i]);                              \
        return a;                                                                               \
    }                                                                                           \
    template<class T, int N, class S, need<is_scalar<S>::value> = 0>                            \
    vec<T, N> operator op(vec<T, N> a, S s) { return a op vec<T, N>(s); }                       \
    template<class T, int N, class S, need<is_scalar<S>::value> = 0>                            \
    vec<T, N> operator op(S s, const vec<T, N> &b) { return vec<T, N>(s) op b; }                \
    template<class T, int N, class X> vec<T, N> &operator op##=(vec<T, N> &a, const X &b) {     \
        return a = a op b;                                                                      \
    }
MSL_VEC_OP(+) MSL_VEC_OP(-) MSL_VEC_OP(*) MSL_VEC_OP(/) MSL_VEC_OP(%) MSL_VEC_OP(&)
MSL_VEC_OP(|) MSL_VEC_OP(^) MSL_VEC_OP(<<) MSL_VEC_OP(>>)
#undef MSL_VEC_OP
#define MSL_VEC_CMP(op)                                                                          \
    template<class T, int N> vec<bool, N> operator op(const vec<T, N> &a, const vec<T, N> &b) { \
        vec<bool, N> r;                                                                         \
        for (int i = 0; i < N; i++) r.v[i] = a.v[i] op b.v[i];                                  \
        return r;                                                                               \
    }
MSL_VEC_CMP(<) MSL_VEC_CMP(>) MSL_VEC_CMP(<=) MSL_VEC_CMP(>=) MSL_VEC_CMP(==) MSL_VEC_CMP(!=)
#undef MSL_VEC_CMP
template<class T, int N> vec<T, N> operator-(vec<T, N> a) {
    for (int i = 0; i < N; i++) a.v[i] = -a.v[i];
    return a;
}
}  // namespace msl

// Metal declares its types in namespace metal as well: metal::float4 needs no `using namespace`.
#define MSL_VEC_TYPES(T)                                                                         \
    typedef msl::vec<T, 2> T##2;                                                                \
    typedef msl::vec<T, 3> T##3;                                                                \
    typedef msl::vec<T, 4> T##4;                                                                \
    namespace metal { using ::T##2; using ::T##3; using ::T##4; }
MSL_VEC_TYPES(float) MSL_VEC_TYPES(half) MSL_VEC_TYPES(bfloat) MSL_VEC_TYPES(int)
MSL_VEC_TYPES(uint) MSL_VEC_TYPES(short) MSL_VEC_TYPES(ushort) MSL_VEC_TYPES(char)
MSL_VEC_TYPES(uchar) MSL_VEC_TYPES(bool)
#undef MSL_VEC_TYPES
namespace metal { using ::half; using ::bfloat; using ::uint; using ::ushort; using ::uchar; using ::ulong; }

static_assert(sizeof(float3) == 16 && alignof(float3) == 16, "Metal: float3 is 16 bytes");
static_assert(sizeof(half4) == 8 && sizeof(half3) == 8 && sizeof(half) == 2, "Metal sizes");

#endif
