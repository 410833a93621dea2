// Metal's math functions for the emulator, on scalars and element-wise on vectors. They call
// compiler builtins instead of <math.h>, whose global names (fabs, exp, ...) would clash with
// metal::fabs and friends once a shader says `using namespace metal;`.
#ifndef MSL_MATH_H
#define MSL_MATH_H

#include "msl_types.h"

// Metal's constants (macros in Metal too).
#define INFINITY __builtin_inff()
#define NAN __builtin_nanf("")
#define HUGE_VALF __builtin_huge_valf()
#define MAXFLOAT 3.40282347e+38f
#define FLT_MAX 3.40282347e+38f
#define FLT_MIN 1.17549435e-38f
#define HALF_MAX 65504.0f
#define M_PI_F 3.14159265f
#define M_E_F 2.71828183f
#define M_LN2_F 0.693147181f
#define M_SQRT2_F 1.41421356f

// Metal compiles with fast math by default, so an unqualified sin or cos is fast::sin, fast::cos.
// The spec (§7.10, accuracy of fast-math functions) bounds them only on [-pi, pi] (absolute error
// <= 2^-13) and lets the error grow outside. The emulator's model: outside [-pi, pi] the angle is
// reduced in float by one fused multiply-subtract with float's 2*pi (1.7e-7 more than 2*pi), then
// sin/cos of the reduced angle is exact to float. Inside [-pi, pi] nothing is reduced and the
// result is exact; at x = 1000 the angle is ~3e-5 off, at 30000 ~1e-3: rope's angles reach such
// values at long positions, which is why the rope kernel says precise::sin and precise::cos.
// fast::exp goes through exp2 with x * log2(e) rounded to float: a relative error of about
// |x| * 2^-24, inside the spec's 3 + floor(|2x|) ulp. An unqualified exp stays exact to float
// (the attention and SiLU kernels use it on small arguments, where the two agree within ulps).
namespace msl {
static inline float fast_reduce(float x) {
    if (!(__builtin_fabsf(x) > 3.14159265f)) return x;  // NaN too
    float k = __builtin_rintf(x * 0.159154943f);
    return __builtin_fmaf(-k, 6.28318548f, x);
}
static inline float fast_sin(float x) { return __builtin_sinf(fast_reduce(x)); }
static inline float fast_cos(float x) { return __builtin_cosf(fast_reduce(x)); }
static inline float fast_exp(float x) { return __builtin_exp2f(x * 1.44269504f); }

// A double rounded to the nearest half (ties to even) in one step: x / q is exact for q the
// spacing of halfs in x's binade (a power of two), rint rounds it to an integer as the half
// rounding would, and * q is exact again. The result is a half value (or >= 65536: infinity).
static inline float round_to_half(double x) {
    if (!(__builtin_fabs(x) > 0) || __builtin_isinf(x)) return (float)x;  // 0, NaN, infinity
    int e;
    __builtin_frexp(x, &e);  // |x| in [2^(e-1), 2^e)
    int q = (e - 1 < -14 ? -14 : e - 1) - 10;
    return (float)__builtin_ldexp(__builtin_rint(__builtin_ldexp(x, -q)), q);
}
}  // namespace msl

namespace metal {
using msl::vec;

#define MSL_UNARY(name, expr)                                                                    \
    inline float name(float x) { return expr; }                                                 \
    inline half name(half x) { return half(name(float(x))); }                                   \
    inline bfloat name(bfloat x) { return bfloat(name(float(x))); }                             \
    template<class T, int N> vec<T, N> name(vec<T, N> a) {                                      \
        for (int i = 0; i < N; i++) a.v[i] = name(a.v[i]);                                      \
        return a;                                                                               \
    }
MSL_UNARY(fabs, __builtin_fabsf(x)) MSL_UNARY(exp, __builtin_expf(x))
MSL_UNARY(exp2, __builtin_exp2f(x)) MSL_UNARY(log, __builtin_logf(x))
MSL_UNARY(log2, __builtin_log2f(x)) MSL_UNARY(sqrt, __builtin_sqrtf(x))
MSL_UNARY(rsqrt, 1.0f / __builtin_sqrtf(x)) MSL_UNARY(sin, msl::fast_sin(x))
MSL_UNARY(cos, msl::fast_cos(x)) MSL_UNARY(tan, __builtin_tanf(x))
MSL_UNARY(exp10, (float)__builtin_exp2((double)x * 3.321928094887362))
MSL_UNARY(tanh, __builtin_tanhf(x)) MSL_UNARY(floor, __builtin_floorf(x))
MSL_UNARY(ceil, __builtin_ceilf(x)) MSL_UNARY(round, __builtin_roundf(x))
MSL_UNARY(rint, __builtin_rintf(x)) MSL_UNARY(trunc, __builtin_truncf(x))
MSL_UNARY(fract, x - __builtin_floorf(x))
MSL_UNARY(sign, x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : 0.0f)
MSL_UNARY(saturate, x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x)

#define MSL_BINARY(name, expr)                                                                   \
    inline float name(float x, float y) { return expr; }                                        \
    inline half name(half x, half y) { return half(name(float(x), float(y))); }                 \
    template<class T, int N> vec<T, N> name(vec<T, N> a, const vec<T, N> &b) {                  \
        for (int i = 0; i < N; i++) a.v[i] = name(a.v[i], b.v[i]);                              \
        return a;                                                                               \
    }
MSL_BINARY(pow, __builtin_powf(x, y)) MSL_BINARY(powr, __builtin_powf(x, y))
MSL_BINARY(fmax, __builtin_fmaxf(x, y)) MSL_BINARY(fmin, __builtin_fminf(x, y))
MSL_BINARY(fmod, __builtin_fmodf(x, y)) MSL_BINARY(atan2, __builtin_atan2f(x, y))
MSL_BINARY(step, y < x ? 0.0f : 1.0f)
#undef MSL_BINARY

// max/min/abs/clamp: plain overloads per type (not templates), so that an argument that only
// converts to a scalar, such as a checked threadgroup-memory element, still finds its match.
#define MSL_MINMAX(T)                                                                            \
    inline T max(T a, T b) { return a > b ? a : b; }                                            \
    inline T min(T a, T b) { return a < b ? a : b; }                                            \
    inline T clamp(T x, T lo, T hi) { return min(max(x, lo), hi); }
MSL_MINMAX(float) MSL_MINMAX(half) MSL_MINMAX(int) MSL_MINMAX(uint) MSL_MINMAX(short)
MSL_MINMAX(ushort) MSL_MINMAX(char) MSL_MINMAX(uchar) MSL_MINMAX(long) MSL_MINMAX(ulong)
#undef MSL_MINMAX
inline int abs(int x) { return x < 0 ? -x : x; }
inline float abs(float x) { return __builtin_fabsf(x); }
inline half abs(half x) { return fabs(x); }
template<class T, int N> vec<T, N> max(vec<T, N> a, const vec<T, N> &b) {
    for (int i = 0; i < N; i++) a.v[i] = max(a.v[i], b.v[i]);
    return a;
}
template<class T, int N> vec<T, N> min(vec<T, N> a, const vec<T, N> &b) {
    for (int i = 0; i < N; i++) a.v[i] = min(a.v[i], b.v[i]);
    return a;
}
template<class T, int N> vec<T, N> clamp(const vec<T, N> &x, const vec<T, N> &lo, const vec<T, N> &hi) {
    return min(max(x, lo), hi);
}
template<class T, int N> vec<T, N> abs(vec<T, N> a) {
    for (int i = 0; i < N; i++) a.v[i] = abs(a.v[i]);
    return a;
}

inline float fma(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
// Rounded once, as IEEE fma: a * b is exact in double (11-bit significands), and so is + c
// whenever the result is finite and near a tie; rounding through float first (fmaf) would round
// twice (issue 16: 0x3c02 where the correct answer is 0x3c01).
inline half fma(half a, half b, half c) {
    return half(msl::round_to_half((double)float(a) * (double)float(b) + (double)float(c)));
}
// mad: Metal may fuse it or not; here it is the plain product and sum.
inline float mad(float a, float b, float c) { return a * b + c; }
inline half mad(half a, half b, half c) { return half(float(a) * float(b) + float(c)); }
template<class T, int N> vec<T, N> mad(const vec<T, N> &a, const vec<T, N> &b, const vec<T, N> &c) {
    return a * b + c;
}
inline float divide(float x, float y) { return x / y; }
template<class T, int N> vec<T, N> divide(const vec<T, N> &a, const vec<T, N> &b) { return a / b; }

// Integer bit functions on the type's own width: clz(0) and ctz(0) are that width.
#define MSL_BITS(T, W)                                                                           \
    inline unsigned long long msl_low_bits(T x) { return (unsigned long long)x & (~0ull >> (64 - (W))); } \
    inline T popcount(T x) { return T(__builtin_popcountll(msl_low_bits(x))); }                 \
    inline T clz(T x) { return T(msl_low_bits(x) ? __builtin_clzll(msl_low_bits(x)) - (64 - (W)) : (W)); } \
    inline T ctz(T x) { return T(msl_low_bits(x) ? __builtin_ctzll(msl_low_bits(x)) : (W)); }
MSL_BITS(char, 8) MSL_BITS(uchar, 8) MSL_BITS(short, 16) MSL_BITS(ushort, 16) MSL_BITS(int, 32)
MSL_BITS(uint, 32) MSL_BITS(long, 64) MSL_BITS(ulong, 64)
#undef MSL_BITS
#define MSL_VEC_BITS(name)                                                                       \
    template<class T, int N> vec<T, N> name(vec<T, N> a) {                                      \
        for (int i = 0; i < N; i++) a.v[i] = name(a.v[i]);                                      \
        return a;                                                                               \
    }
MSL_VEC_BITS(popcount) MSL_VEC_BITS(clz) MSL_VEC_BITS(ctz)
#undef MSL_VEC_BITS
template<class T> T mix(T x, T y, T a) { return x + (y - x) * a; }
template<class T> T select(T a, T b, bool c) { return c ? b : a; }
template<class T, int N> vec<T, N> select(vec<T, N> a, const vec<T, N> &b, const vec<bool, N> &c) {
    for (int i = 0; i < N; i++) a.v[i] = c.v[i] ? b.v[i] : a.v[i];
    return a;
}
inline bool isnan(float x) { return __builtin_isnan(x); }
inline bool isinf(float x) { return __builtin_isinf(x); }
inline bool isfinite(float x) { return __builtin_isfinite(x); }
template<int N> bool all(const vec<bool, N> &b) { for (int i = 0; i < N; i++) if (!b.v[i]) return false; return true; }
template<int N> bool any(const vec<bool, N> &b) { for (int i = 0; i < N; i++) if (b.v[i]) return true; return false; }

template<class T, int N> T dot(const vec<T, N> &a, const vec<T, N> &b) {
    T s = a.v[0] * b.v[0];
    for (int i = 1; i < N; i++) s += a.v[i] * b.v[i];
    return s;
}
template<class T, int N> T length(const vec<T, N> &a) { return sqrt(dot(a, a)); }
template<class T, int N> vec<T, N> normalize(const vec<T, N> &a) { return a * rsqrt(dot(a, a)); }

// Reinterpret the bits, as_type<uint>(1.0f) == 0x3f800000.
template<class T, class U> T as_type(const U &u) {
    static_assert(sizeof(T) == sizeof(U), "as_type: sizes differ");
    T t;
    __builtin_memcpy(&t, &u, sizeof t);
    return t;
}

// precise:: is exact to float (within the spec's ulp bounds); fast:: sin, cos and exp follow
// the reduced-accuracy model above. The rest are the same functions in both.
namespace precise {
MSL_UNARY(sin, __builtin_sinf(x)) MSL_UNARY(cos, __builtin_cosf(x))
using metal::exp; using metal::exp2; using metal::exp10; using metal::log; using metal::log2;
using metal::sqrt; using metal::rsqrt; using metal::tan; using metal::tanh; using metal::pow;
using metal::powr; using metal::fabs; using metal::max; using metal::min; using metal::fmax;
using metal::fmin; using metal::clamp; using metal::divide;
}
namespace fast {
MSL_UNARY(sin, msl::fast_sin(x)) MSL_UNARY(cos, msl::fast_cos(x)) MSL_UNARY(exp, msl::fast_exp(x))
using metal::exp2; using metal::exp10; using metal::log; using metal::log2; using metal::sqrt;
using metal::rsqrt; using metal::tan; using metal::tanh; using metal::pow; using metal::powr;
using metal::fabs; using metal::max; using metal::min; using metal::fmax; using metal::fmin;
using metal::clamp; using metal::divide;
}
#undef MSL_UNARY
}  // namespace metal

#endif
