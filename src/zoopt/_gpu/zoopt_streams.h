/*
 * zoopt's counter-based streams: Philox4x32-10 and the transforms from
 * 32-bit words to directions.
 *
 * Header-only and free of libm so that the CPU kernels (Cython, src_cy/) and
 * the CUDA kernels (streams.cu beside this file, compiled by NVRTC or nvcc)
 * include the same arithmetic: every value is a fixed sequence of
 * IEEE-754 additions, multiplications, divisions and square roots (all
 * correctly rounded), so a compiler that does not contract a*b+c into a fused
 * multiply-add produces the same bits on any instruction set.  The build sets
 * -ffp-contract=off; CUDA code must use -fmad=false.
 *
 * Philox4x32-10: J. K. Salmon, M. A. Moraes, R. O. Dror, D. E. Shaw,
 * "Parallel random numbers: as easy as 1, 2, 3", SC'11.  The multipliers,
 * Weyl constants and round structure are those of the paper and of the
 * Random123 reference implementation; the tests check the published
 * known-answer vectors.
 *
 * Counter layout (documented for users in zoopt/random.py):
 *   ctr[0]  block index inside one direction (coordinate block), bits 0..31
 *   ctr[1]  direction index
 *   ctr[2]  step, low 32 bits
 *   ctr[3]  block bits 32..35 << 28 | kind of draw << 24 | step bits 32..55
 * Kinds are below 16, so the block's high bits have bits 28..31 to themselves;
 * they are zero below block 2^32, where the layout is that of a 32-bit block.
 */
#ifndef ZOOPT_STREAMS_H
#define ZOOPT_STREAMS_H

#if defined(__CUDACC_RTC__)
/* NVRTC has no C library headers: the fixed-width types by hand (CUDA's
 * int is 32 bits, long long 64 on every target). */
typedef unsigned int uint32_t;
typedef int int32_t;
typedef unsigned long long uint64_t;
typedef long long int64_t;
typedef signed char int8_t;
#else
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#endif

#if defined(__CUDACC__)
#define ZO_INLINE __host__ __device__ static inline
#define ZO_CLONES
#else
#define ZO_INLINE static inline
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && \
    !defined(ZOOPT_NO_CLONES)
/* One binary, the widest vector unit of the machine it runs on.  FMA is
 * deliberately absent from the list: contraction would change the bits. */
#define ZO_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ZO_CLONES
#endif
#endif

#define ZO_PHILOX_M0 0xD2511F53u
#define ZO_PHILOX_M1 0xCD9E8D57u
#define ZO_PHILOX_W0 0x9E3779B9u
#define ZO_PHILOX_W1 0xBB67AE85u

/* Coordinates per Philox call (one call = 4 words) for each transform. */
#define ZO_PER_BLOCK_NORMAL_F32 4
#define ZO_PER_BLOCK_NORMAL_F64 2
#define ZO_PER_BLOCK_RADEMACHER 128

/* Coordinates per tile in the kernels; a multiple of every block above. */
#define ZO_TILE 1024

enum { ZO_DIST_NORMAL = 0, ZO_DIST_RADEMACHER = 1 };

#define ZO_ROUND(x0, x1, x2, x3, k0, k1)                                   \
    do {                                                                   \
        uint64_t p0_ = (uint64_t)ZO_PHILOX_M0 * (uint64_t)(x0);            \
        uint64_t p1_ = (uint64_t)ZO_PHILOX_M1 * (uint64_t)(x2);            \
        uint32_t y0_ = (uint32_t)(p1_ >> 32) ^ (x1) ^ (k0);                \
        uint32_t y2_ = (uint32_t)(p0_ >> 32) ^ (x3) ^ (k1);                \
        (x1) = (uint32_t)p1_;                                              \
        (x3) = (uint32_t)p0_;                                              \
        (x0) = y0_;                                                        \
        (x2) = y2_;                                                        \
    } while (0)

#define ZO_BUMP(k0, k1)                                                    \
    do {                                                                   \
        (k0) += ZO_PHILOX_W0;                                              \
        (k1) += ZO_PHILOX_W1;                                              \
    } while (0)

/* Ten rounds in place on (x0..x3) with key (ka, kb); the key is copied. */
#define ZO_PHILOX10(x0, x1, x2, x3, ka, kb)                                \
    do {                                                                   \
        uint32_t k0_ = (ka), k1_ = (kb);                                   \
        ZO_ROUND(x0, x1, x2, x3, k0_, k1_); ZO_BUMP(k0_, k1_);             \
        ZO_ROUND(x0, x1, x2, x3, k0_, k1_); ZO_BUMP(k0_, k1_);             \
        ZO_ROUND(x0, x1, x2, x3, k0_, k1_); ZO_BUMP(k0_, k1_);             \
        ZO_ROUND(x0, x1, x2, x3, k0_, k1_); ZO_BUMP(k0_, k1_);             \
        ZO_ROUND(x0, x1, x2, x3, k0_, k1_); ZO_BUMP(k0_, k1_);             \
        ZO_ROUND(x0, x1, x2, x3, k0_, k1_); ZO_BUMP(k0_, k1_);             \
        ZO_ROUND(x0, x1, x2, x3, k0_, k1_); ZO_BUMP(k0_, k1_);             \
        ZO_ROUND(x0, x1, x2, x3, k0_, k1_); ZO_BUMP(k0_, k1_);             \
        ZO_ROUND(x0, x1, x2, x3, k0_, k1_); ZO_BUMP(k0_, k1_);             \
        ZO_ROUND(x0, x1, x2, x3, k0_, k1_);                                \
    } while (0)

/* Coordinate blocks have ZO_BLOCK_BITS bits: ctr[0] = block mod 2^32 and
 * ctr[3] = zo_ctr3(c3, block).  Callers refuse directions with more blocks. */
#define ZO_BLOCK_BITS 36

ZO_INLINE uint32_t zo_ctr3(uint32_t c3, int64_t block) {
    return c3 | ((uint32_t)((uint64_t)block >> 32) << 28);
}

/* Philox4x32 with a given number of rounds (Random123 also publishes
 * answers for 7 rounds; the library itself only uses 10). */
ZO_INLINE void zo_philox4x32(const uint32_t ctr[4], const uint32_t key[2],
                             int rounds, uint32_t out[4]) {
    uint32_t x0 = ctr[0], x1 = ctr[1], x2 = ctr[2], x3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < rounds; r++) {
        if (r > 0) ZO_BUMP(k0, k1);
        ZO_ROUND(x0, x1, x2, x3, k0, k1);
    }
    out[0] = x0; out[1] = x1; out[2] = x2; out[3] = x3;
}

/* ---------------------------------------------------------------------- */
/* Transforms.  Natural log and sin/cos of 2*pi*t by reduction plus        */
/* truncated Taylor series (the truncation error is below half an ulp on   */
/* the reduced ranges used here: |s| <= 0.1716 for log, |a| <= pi/4).       */

/* Bit casts, correctly rounded square roots, floor and +inf: device
 * intrinsics on the GPU (NVRTC has no memcpy or __builtin_sqrt), compiler
 * builtins on the host.  Each is exact or correctly rounded on both. */
#if defined(__CUDA_ARCH__)
ZO_INLINE float zo_bits_to_f32(uint32_t b) { return __uint_as_float(b); }
ZO_INLINE uint32_t zo_f32_to_bits(float f) { return __float_as_uint(f); }
ZO_INLINE double zo_bits_to_f64(uint64_t b) { return __longlong_as_double((long long)b); }
ZO_INLINE uint64_t zo_f64_to_bits(double f) { return (uint64_t)__double_as_longlong(f); }
ZO_INLINE float zo_sqrt_f32(float x) { return __fsqrt_rn(x); }
ZO_INLINE double zo_sqrt_f64(double x) { return __dsqrt_rn(x); }
ZO_INLINE double zo_floor_f64(double x) { return floor(x); }
ZO_INLINE double zo_inf_f64(void) { return __longlong_as_double(0x7ff0000000000000ll); }
#else
ZO_INLINE float zo_bits_to_f32(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }
ZO_INLINE uint32_t zo_f32_to_bits(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }
ZO_INLINE double zo_bits_to_f64(uint64_t b) { double f; memcpy(&f, &b, 8); return f; }
ZO_INLINE uint64_t zo_f64_to_bits(double f) { uint64_t b; memcpy(&b, &f, 8); return b; }
ZO_INLINE float zo_sqrt_f32(float x) { return __builtin_sqrtf(x); }
ZO_INLINE double zo_sqrt_f64(double x) { return __builtin_sqrt(x); }
ZO_INLINE double zo_floor_f64(double x) { return __builtin_floor(x); }
ZO_INLINE double zo_inf_f64(void) { return __builtin_inf(); }
#endif

/* ln(x) for a positive normal float32 x.
 * x = 2^e m with m in [sqrt(1/2), sqrt(2)); ln m = 2 atanh(s), s = (m-1)/(m+1). */
ZO_INLINE float zo_log_f32(float x) {
    uint32_t ix = zo_f32_to_bits(x);
    int32_t e = (int32_t)(ix >> 23) - 127;
    uint32_t mb = (ix & 0x007FFFFFu) | 0x3F800000u;
    uint32_t big = (uint32_t)(mb > 0x3FB504F3u); /* m > sqrt(2): halve it */
    mb -= big << 23;
    e += (int32_t)big;
    float m = zo_bits_to_f32(mb);
    float s = (m - 1.0f) / (m + 1.0f);
    float z = s * s;
    float p = 1.0f + z * (1.0f / 3.0f + z * (1.0f / 5.0f + z * (1.0f / 7.0f + z * (1.0f / 9.0f))));
    float fe = (float)e;
    /* ln 2 split so that fe * LN2_HI is exact for |e| < 2^8 */
    return fe * 0.693145751953125f + (fe * 1.428606765330187e-06f + 2.0f * s * p);
}

ZO_INLINE double zo_log_f64(double x) {
    uint64_t ix = zo_f64_to_bits(x);
    int32_t e = (int32_t)(ix >> 52) - 1023;
    uint64_t mb = (ix & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull;
    uint64_t big = (uint64_t)(mb > 0x3FF6A09E667F3BCCull);
    mb -= big << 52;
    e += (int32_t)big;
    double m = zo_bits_to_f64(mb);
    double s = (m - 1.0) / (m + 1.0);
    double z = s * s;
    double p = 1.0 / 23.0;
    p = 1.0 / 21.0 + z * p;
    p = 1.0 / 19.0 + z * p;
    p = 1.0 / 17.0 + z * p;
    p = 1.0 / 15.0 + z * p;
    p = 1.0 / 13.0 + z * p;
    p = 1.0 / 11.0 + z * p;
    p = 1.0 / 9.0 + z * p;
    p = 1.0 / 7.0 + z * p;
    p = 1.0 / 5.0 + z * p;
    p = 1.0 / 3.0 + z * p;
    double fe = (double)e;
    /* ln 2 = LN2_HI + LN2_LO with LN2_HI holding 32 significant bits */
    return fe * 6.93147180369123816490e-01 +
           (fe * 1.90821492927058770002e-10 + 2.0 * s + 2.0 * s * (z * p));
}

/* e^x in float64: x = k ln 2 + r with |r| <= ln(2)/2, Taylor series of e^r
 * to degree 13 (truncation below 4e-18), times 2^k from bits.  Overflow gives
 * +inf, underflow 0 (no subnormal results). */
ZO_INLINE double zo_exp_f64(double x) {
    if (x != x) return x;
    if (x > 709.0) return zo_inf_f64();
    if (x < -708.0) return 0.0;
    double kd = zo_floor_f64(x * 1.44269504088896340736 + 0.5);
    int32_t k = (int32_t)kd;
    /* ln 2 = LN2_HI + LN2_LO, LN2_HI with 32 significant bits so kd * LN2_HI is exact */
    double r = (x - kd * 6.93147180369123816490e-01) - kd * 1.90821492927058770002e-10;
    double p = 1.0 / 6227020800.0;          /* 1/13! */
    p = 1.0 / 479001600.0 + r * p;
    p = 1.0 / 39916800.0 + r * p;
    p = 1.0 / 3628800.0 + r * p;
    p = 1.0 / 362880.0 + r * p;
    p = 1.0 / 40320.0 + r * p;
    p = 1.0 / 5040.0 + r * p;
    p = 1.0 / 720.0 + r * p;
    p = 1.0 / 120.0 + r * p;
    p = 1.0 / 24.0 + r * p;
    p = 1.0 / 6.0 + r * p;
    p = 0.5 + r * p;
    p = 1.0 + r * p;
    p = 1.0 + r * p;
    return p * zo_bits_to_f64((uint64_t)(k + 1023) << 52);
}

/* cos and sin of 2*pi*t for t in [0, 1): quadrant q = round(4t), the
 * remainder y = t - q/4 in [-1/8, 1/8] is exact, a = 2*pi*y in [-pi/4, pi/4]. */
ZO_INLINE void zo_cossin2pi_f32(float t, float *c, float *s) {
    int32_t q = (int32_t)(t * 4.0f + 0.5f);
    float y = t - (float)q * 0.25f;
    float a = y * 6.28318530717958647692f;
    float a2 = a * a;
    float sn = a * (1.0f + a2 * (-1.0f / 6.0f + a2 * (1.0f / 120.0f +
               a2 * (-1.0f / 5040.0f + a2 * (1.0f / 362880.0f)))));
    float cs = 1.0f + a2 * (-0.5f + a2 * (1.0f / 24.0f + a2 * (-1.0f / 720.0f +
               a2 * (1.0f / 40320.0f + a2 * (-1.0f / 3628800.0f)))));
    /* rotate by q quarter turns, branch-free so that loops vectorize:
     * odd q swaps (cos, sin); q in {1, 2} negates cos; q in {2, 3} negates sin */
    uint32_t r = (uint32_t)q & 3u;
    uint32_t swap = 0u - (r & 1u);
    uint32_t bc = zo_f32_to_bits(cs), bs = zo_f32_to_bits(sn);
    uint32_t oc = (bs & swap) | (bc & ~swap);
    uint32_t os = (bc & swap) | (bs & ~swap);
    oc ^= ((r ^ (r >> 1)) & 1u) << 31;
    os ^= (r >> 1) << 31;
    *c = zo_bits_to_f32(oc);
    *s = zo_bits_to_f32(os);
}

ZO_INLINE void zo_cossin2pi_f64(double t, double *c, double *s) {
    int32_t q = (int32_t)(t * 4.0 + 0.5);
    double y = t - (double)q * 0.25;
    double a = y * 6.28318530717958647692;
    double a2 = a * a;
    /* sin: a * sum (-a2)^k / (2k+1)!, k <= 8; cos: sum (-a2)^k / (2k)!, k <= 9 */
    double ps = 1.0 / 355687428096000.0;            /* 1/17! */
    ps = -1.0 / 1307674368000.0 + a2 * ps;          /* 1/15! */
    ps = 1.0 / 6227020800.0 + a2 * ps;              /* 1/13! */
    ps = -1.0 / 39916800.0 + a2 * ps;               /* 1/11! */
    ps = 1.0 / 362880.0 + a2 * ps;                  /* 1/9!  */
    ps = -1.0 / 5040.0 + a2 * ps;
    ps = 1.0 / 120.0 + a2 * ps;
    ps = -1.0 / 6.0 + a2 * ps;
    double sn = a + a * (a2 * ps);
    double pc = -1.0 / 6402373705728000.0;          /* 1/18! */
    pc = 1.0 / 20922789888000.0 + a2 * pc;          /* 1/16! */
    pc = -1.0 / 87178291200.0 + a2 * pc;            /* 1/14! */
    pc = 1.0 / 479001600.0 + a2 * pc;               /* 1/12! */
    pc = -1.0 / 3628800.0 + a2 * pc;                /* 1/10! */
    pc = 1.0 / 40320.0 + a2 * pc;
    pc = -1.0 / 720.0 + a2 * pc;
    pc = 1.0 / 24.0 + a2 * pc;
    pc = -0.5 + a2 * pc;
    double cs = 1.0 + a2 * pc;
    uint64_t r = (uint64_t)q & 3u;
    uint64_t swap = 0u - (r & 1u);
    uint64_t bc = zo_f64_to_bits(cs), bs = zo_f64_to_bits(sn);
    uint64_t oc = (bs & swap) | (bc & ~swap);
    uint64_t os = (bc & swap) | (bs & ~swap);
    oc ^= ((r ^ (r >> 1)) & 1u) << 63;
    os ^= (r >> 1) << 63;
    *c = zo_bits_to_f64(oc);
    *s = zo_bits_to_f64(os);
}

/* Open-interval uniforms symmetric about 1/2: (2k + 1) 2^-24 from the top
 * 23 bits of a word (exact in float32), (2k + 1) 2^-53 from the top 52 bits
 * of two words (exact in float64). */
ZO_INLINE float zo_u01_f32(uint32_t w) {
    return (float)(int32_t)(((w >> 9) << 1) | 1u) * 5.9604644775390625e-08f;
}

ZO_INLINE double zo_u01_f64(uint32_t hi, uint32_t lo) {
    /* 1 + k 2^-52 built from bits, minus (1 - 2^-53): both are multiples of
     * 2^-53, so the difference (2k + 1) 2^-53 is exact (no int64 -> double
     * conversion, which most vector units lack). */
    uint64_t k = ((((uint64_t)hi << 32) | (uint64_t)lo) >> 12);
    return zo_bits_to_f64(0x3FF0000000000000ull | k) - 0.99999999999999988898;
}

/* Box-Muller: (u, t) -> sqrt(-2 ln u) (cos 2 pi t, sin 2 pi t). */
ZO_INLINE void zo_box_muller_f32(uint32_t wu, uint32_t wt, float *z0, float *z1) {
    float u = zo_u01_f32(wu), t = zo_u01_f32(wt), c, s;
    float r = zo_sqrt_f32(-2.0f * zo_log_f32(u));
    zo_cossin2pi_f32(t, &c, &s);
    *z0 = r * c;
    *z1 = r * s;
}

ZO_INLINE void zo_box_muller_f64(uint32_t w0, uint32_t w1, uint32_t w2,
                                 uint32_t w3, double *z0, double *z1) {
    double u = zo_u01_f64(w0, w1), t = zo_u01_f64(w2, w3), c, s;
    double r = zo_sqrt_f64(-2.0 * zo_log_f64(u));
    zo_cossin2pi_f64(t, &c, &s);
    *z0 = r * c;
    *z1 = r * s;
}

/* Exp(1) noise for the Gumbel-max trick in its exponential-race form,
 * float32, 4 values per block, 1 word each: e = -ln u with the open uniform u
 * of zo_u01_f32 (so e lies in [6e-8, 16.6]).  Then
 *     argmax_c (z_c / T - ln e_c) = argmin_c e_c exp(-z_c / T),
 * the Gumbel-max sample with Gumbel noise -ln e_c, at one logarithm per value. */
ZO_INLINE float zo_exp1_f32(uint32_t w) { return -zo_log_f32(zo_u01_f32(w)); }

/* ---------------------------------------------------------------------- */
/* Tile generators: coordinates [j0, j0 + n) of one direction.             */
/* j0 must be a multiple of ZO_PER_BLOCK_RADEMACHER (so of every block).    */

/* The host emulation of the CUDA kernels (tests/gpu_emu) takes only the part
 * above, as a device compiler does. */
#if !defined(__CUDACC__) && !defined(ZOOPT_DEVICE_EMULATION)

/* ---------------------------------------------------------------------- */
/* Philox over consecutive blocks, in struct-of-arrays form:               */
/* block b of the run has counter (c0 + b, c1, c2, c3); o_r[b] is word r.   */
/* Compilers vectorize the widening 32x32->64 multiply poorly, so x86-64    */
/* gets explicit AVX-512 and AVX2 versions (16 and 8 blocks per vector);    */
/* integer arithmetic is exact, so every version gives the same words.      */

static void zo_philox_blocks_scalar(uint32_t k0, uint32_t k1, uint32_t c0,
                                    uint32_t c1, uint32_t c2, uint32_t c3,
                                    int64_t nb, uint32_t *o0, uint32_t *o1,
                                    uint32_t *o2, uint32_t *o3) {
    for (int64_t b = 0; b < nb; b++) {
        uint32_t x0 = c0 + (uint32_t)b, x1 = c1, x2 = c2, x3 = c3;
        ZO_PHILOX10(x0, x1, x2, x3, k0, k1);
        o0[b] = x0; o1[b] = x1; o2[b] = x2; o3[b] = x3;
    }
}

#if defined(__GNUC__) && defined(__x86_64__) && !defined(ZOOPT_NO_CLONES)
#include <immintrin.h>
#define ZO_HAVE_SIMD_PHILOX 1

__attribute__((target("avx512f")))
static void zo_philox_blocks_avx512(uint32_t k0, uint32_t k1, uint32_t c0,
                                    uint32_t c1, uint32_t c2, uint32_t c3,
                                    int64_t nb, uint32_t *o0, uint32_t *o1,
                                    uint32_t *o2, uint32_t *o3) {
    const __m512i m0 = _mm512_set1_epi64((long long)ZO_PHILOX_M0);
    const __m512i m1 = _mm512_set1_epi64((long long)ZO_PHILOX_M1);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                           12, 13, 14, 15);
    __m512i ka[10], kb[10];
    uint32_t a = k0, bk = k1;
    for (int r = 0; r < 10; r++) {
        ka[r] = _mm512_set1_epi32((int)a);
        kb[r] = _mm512_set1_epi32((int)bk);
        a += ZO_PHILOX_W0;
        bk += ZO_PHILOX_W1;
    }
    int64_t b = 0;
    for (; b + 16 <= nb; b += 16) {
        __m512i x0 = _mm512_add_epi32(_mm512_set1_epi32((int)(c0 + (uint32_t)b)), lane);
        __m512i x1 = _mm512_set1_epi32((int)c1);
        __m512i x2 = _mm512_set1_epi32((int)c2);
        __m512i x3 = _mm512_set1_epi32((int)c3);
        for (int r = 0; r < 10; r++) {
            /* 64-bit products of the even and odd 32-bit lanes */
            __m512i pe0 = _mm512_mul_epu32(x0, m0);
            __m512i po0 = _mm512_mul_epu32(_mm512_srli_epi64(x0, 32), m0);
            __m512i pe1 = _mm512_mul_epu32(x2, m1);
            __m512i po1 = _mm512_mul_epu32(_mm512_srli_epi64(x2, 32), m1);
            __m512i hi0 = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe0, 32), po0);
            __m512i lo0 = _mm512_mask_blend_epi32(0xAAAA, pe0, _mm512_slli_epi64(po0, 32));
            __m512i hi1 = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe1, 32), po1);
            __m512i lo1 = _mm512_mask_blend_epi32(0xAAAA, pe1, _mm512_slli_epi64(po1, 32));
            x0 = _mm512_xor_si512(_mm512_xor_si512(hi1, x1), ka[r]);
            x2 = _mm512_xor_si512(_mm512_xor_si512(hi0, x3), kb[r]);
            x1 = lo1;
            x3 = lo0;
        }
        _mm512_storeu_si512((void *)(o0 + b), x0);
        _mm512_storeu_si512((void *)(o1 + b), x1);
        _mm512_storeu_si512((void *)(o2 + b), x2);
        _mm512_storeu_si512((void *)(o3 + b), x3);
    }
    zo_philox_blocks_scalar(k0, k1, c0 + (uint32_t)b, c1, c2, c3, nb - b, o0 + b,
                            o1 + b, o2 + b, o3 + b);
}

__attribute__((target("avx2")))
static void zo_philox_blocks_avx2(uint32_t k0, uint32_t k1, uint32_t c0,
                                  uint32_t c1, uint32_t c2, uint32_t c3,
                                  int64_t nb, uint32_t *o0, uint32_t *o1,
                                  uint32_t *o2, uint32_t *o3) {
    const __m256i m0 = _mm256_set1_epi64x((long long)ZO_PHILOX_M0);
    const __m256i m1 = _mm256_set1_epi64x((long long)ZO_PHILOX_M1);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i ka[10], kb[10];
    uint32_t a = k0, bk = k1;
    for (int r = 0; r < 10; r++) {
        ka[r] = _mm256_set1_epi32((int)a);
        kb[r] = _mm256_set1_epi32((int)bk);
        a += ZO_PHILOX_W0;
        bk += ZO_PHILOX_W1;
    }
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8) {
        __m256i x0 = _mm256_add_epi32(_mm256_set1_epi32((int)(c0 + (uint32_t)b)), lane);
        __m256i x1 = _mm256_set1_epi32((int)c1);
        __m256i x2 = _mm256_set1_epi32((int)c2);
        __m256i x3 = _mm256_set1_epi32((int)c3);
        for (int r = 0; r < 10; r++) {
            __m256i pe0 = _mm256_mul_epu32(x0, m0);
            __m256i po0 = _mm256_mul_epu32(_mm256_srli_epi64(x0, 32), m0);
            __m256i pe1 = _mm256_mul_epu32(x2, m1);
            __m256i po1 = _mm256_mul_epu32(_mm256_srli_epi64(x2, 32), m1);
            __m256i hi0 = _mm256_blend_epi32(_mm256_srli_epi64(pe0, 32), po0, 0xAA);
            __m256i lo0 = _mm256_blend_epi32(pe0, _mm256_slli_epi64(po0, 32), 0xAA);
            __m256i hi1 = _mm256_blend_epi32(_mm256_srli_epi64(pe1, 32), po1, 0xAA);
            __m256i lo1 = _mm256_blend_epi32(pe1, _mm256_slli_epi64(po1, 32), 0xAA);
            x0 = _mm256_xor_si256(_mm256_xor_si256(hi1, x1), ka[r]);
            x2 = _mm256_xor_si256(_mm256_xor_si256(hi0, x3), kb[r]);
            x1 = lo1;
            x3 = lo0;
        }
        _mm256_storeu_si256((__m256i *)(o0 + b), x0);
        _mm256_storeu_si256((__m256i *)(o1 + b), x1);
        _mm256_storeu_si256((__m256i *)(o2 + b), x2);
        _mm256_storeu_si256((__m256i *)(o3 + b), x3);
    }
    zo_philox_blocks_scalar(k0, k1, c0 + (uint32_t)b, c1, c2, c3, nb - b, o0 + b,
                            o1 + b, o2 + b, o3 + b);
}

/* 0 scalar, 1 AVX2, 2 AVX-512F; ZOOPT_SIMD=scalar|avx2 caps it (for tests). */
static int zo_simd_level(void) {
    static int level = -1;
    if (level < 0) {
        int l = 0;
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2")) l = 1;
        if (__builtin_cpu_supports("avx512f")) l = 2;
        const char *cap = getenv("ZOOPT_SIMD");
        if (cap && strncmp(cap, "scalar", 6) == 0) l = 0;
        else if (cap && strncmp(cap, "avx2", 4) == 0 && l > 1) l = 1;
        level = l;
    }
    return level;
}
#endif

static inline void zo_philox_blocks(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1,
                                    uint32_t c2, uint32_t c3, int64_t nb, uint32_t *o0,
                                    uint32_t *o1, uint32_t *o2, uint32_t *o3) {
#ifdef ZO_HAVE_SIMD_PHILOX
    int level = zo_simd_level();
    if (level == 2) {
        zo_philox_blocks_avx512(k0, k1, c0, c1, c2, c3, nb, o0, o1, o2, o3);
        return;
    }
    if (level == 1) {
        zo_philox_blocks_avx2(k0, k1, c0, c1, c2, c3, nb, o0, o1, o2, o3);
        return;
    }
#endif
    zo_philox_blocks_scalar(k0, k1, c0, c1, c2, c3, nb, o0, o1, o2, o3);
}

/* The blocks block .. block + nb - 1 (full block indices, see zo_ctr3): runs split
 * where the low 32 bits wrap, so that each run shares its high bits. */
static inline void zo_philox_run(uint32_t k0, uint32_t k1, int64_t block, uint32_t c1,
                                 uint32_t c2, uint32_t c3, int64_t nb, uint32_t *o0,
                                 uint32_t *o1, uint32_t *o2, uint32_t *o3) {
    while (nb > 0) {
        const uint32_t lo = (uint32_t)block;
        const int64_t room = (int64_t)((((uint64_t)1) << 32) - (uint64_t)lo);
        const int64_t m = nb < room ? nb : room;
        zo_philox_blocks(k0, k1, lo, c1, c2, zo_ctr3(c3, block), m, o0, o1, o2, o3);
        block += m;
        nb -= m;
        o0 += m; o1 += m; o2 += m; o3 += m;
    }
}

/* Blocks per pass of the generators below (their stack buffers). */
#define ZO_PASS_BLOCKS 256

/* Transforms over SoA words: values out[per*b + r] for b < nb. */
ZO_CLONES static void zo_normal_f32_from(int64_t nb, const uint32_t *w0,
                                         const uint32_t *w1, const uint32_t *w2,
                                         const uint32_t *w3, float *out) {
    for (int64_t b = 0; b < nb; b++) {
        float z0, z1, z2, z3;
        zo_box_muller_f32(w0[b], w1[b], &z0, &z1);
        zo_box_muller_f32(w2[b], w3[b], &z2, &z3);
        out[4 * b] = z0;
        out[4 * b + 1] = z1;
        out[4 * b + 2] = z2;
        out[4 * b + 3] = z3;
    }
}

ZO_CLONES static void zo_normal_f64_from(int64_t nb, const uint32_t *w0,
                                         const uint32_t *w1, const uint32_t *w2,
                                         const uint32_t *w3, double *out) {
    for (int64_t b = 0; b < nb; b++) {
        double z0, z1;
        zo_box_muller_f64(w0[b], w1[b], w2[b], w3[b], &z0, &z1);
        out[2 * b] = z0;
        out[2 * b + 1] = z1;
    }
}

/* Generic driver: values [j0, j0 + n) of one direction, PER values per block,
 * through FROM; j0 must be a multiple of PER. */
#define ZO_DRIVER(NAME, T, PER, FROM)                                          \
    static void NAME(uint32_t k0, uint32_t k1, uint32_t dir, uint32_t c2,      \
                     uint32_t c3, int64_t j0, int64_t n, T *out) {             \
        uint32_t w0[ZO_PASS_BLOCKS], w1[ZO_PASS_BLOCKS], w2[ZO_PASS_BLOCKS],   \
            w3[ZO_PASS_BLOCKS];                                                \
        T tail[PER];                                                           \
        int64_t b0 = j0 / (PER);                                               \
        int64_t nfull = n / (PER);                                             \
        for (int64_t b = 0; b < nfull; b += ZO_PASS_BLOCKS) {                  \
            int64_t m = nfull - b < ZO_PASS_BLOCKS ? nfull - b : ZO_PASS_BLOCKS; \
            zo_philox_run(k0, k1, b0 + b, dir, c2, c3, m, w0, w1, w2, w3);     \
            FROM(m, w0, w1, w2, w3, out + (PER) * b);                          \
        }                                                                      \
        int64_t rem = n - nfull * (PER);                                       \
        if (rem > 0) {                                                         \
            zo_philox_run(k0, k1, b0 + nfull, dir, c2, c3, 1, w0, w1, w2, w3); \
            FROM(1, w0, w1, w2, w3, tail);                                     \
            for (int64_t r = 0; r < rem; r++) out[(PER) * nfull + r] = tail[r]; \
        }                                                                      \
    }

ZO_DRIVER(zo_gen_normal_f32, float, ZO_PER_BLOCK_NORMAL_F32, zo_normal_f32_from)
ZO_DRIVER(zo_gen_normal_f64, double, ZO_PER_BLOCK_NORMAL_F64, zo_normal_f64_from)

/* Rademacher: coordinate j takes bit (j % 32) of word (j / 32) % 4 of block
 * j / 128; bit 0 gives +1, bit 1 gives -1. */
#define ZO_GEN_RADEMACHER(NAME, T)                                         \
    ZO_CLONES static void NAME(uint32_t k0, uint32_t k1, uint32_t dir,     \
                               uint32_t c2, uint32_t c3, int64_t j0,       \
                               int64_t n, T *out) {                        \
        const int64_t b0 = j0 / ZO_PER_BLOCK_RADEMACHER;                   \
        const int64_t nb = (n + ZO_PER_BLOCK_RADEMACHER - 1) /             \
                           ZO_PER_BLOCK_RADEMACHER;                        \
        for (int64_t b = 0; b < nb; b++) {                                 \
            uint32_t w[4];                                                 \
            uint32_t x0 = (uint32_t)(b0 + b), x1 = dir, x2 = c2,           \
                     x3 = zo_ctr3(c3, b0 + b);                             \
            ZO_PHILOX10(x0, x1, x2, x3, k0, k1);                           \
            w[0] = x0; w[1] = x1; w[2] = x2; w[3] = x3;                    \
            int64_t base = b * ZO_PER_BLOCK_RADEMACHER;                    \
            int64_t m = n - base;                                          \
            if (m > ZO_PER_BLOCK_RADEMACHER) m = ZO_PER_BLOCK_RADEMACHER;  \
            for (int64_t r = 0; r < m; r++) {                              \
                uint32_t bit = (w[r >> 5] >> (r & 31)) & 1u;               \
                out[base + r] = (T)1 - (T)2 * (T)bit;                      \
            }                                                              \
        }                                                                  \
    }

ZO_GEN_RADEMACHER(zo_gen_rademacher_f32, float)
ZO_GEN_RADEMACHER(zo_gen_rademacher_f64, double)

static inline void zo_gen_f32(int dist, uint32_t k0, uint32_t k1, uint32_t dir,
                              uint32_t c2, uint32_t c3, int64_t j0, int64_t n,
                              float *out) {
    if (dist == ZO_DIST_RADEMACHER)
        zo_gen_rademacher_f32(k0, k1, dir, c2, c3, j0, n, out);
    else
        zo_gen_normal_f32(k0, k1, dir, c2, c3, j0, n, out);
}

static inline void zo_gen_f64(int dist, uint32_t k0, uint32_t k1, uint32_t dir,
                              uint32_t c2, uint32_t c3, int64_t j0, int64_t n,
                              double *out) {
    if (dist == ZO_DIST_RADEMACHER)
        zo_gen_rademacher_f64(k0, k1, dir, c2, c3, j0, n, out);
    else
        zo_gen_normal_f64(k0, k1, dir, c2, c3, j0, n, out);
}

ZO_CLONES static void zo_exp1_f32_from(int64_t nb, const uint32_t *w0,
                                       const uint32_t *w1, const uint32_t *w2,
                                       const uint32_t *w3, float *out) {
    for (int64_t b = 0; b < nb; b++) {
        out[4 * b] = zo_exp1_f32(w0[b]);
        out[4 * b + 1] = zo_exp1_f32(w1[b]);
        out[4 * b + 2] = zo_exp1_f32(w2[b]);
        out[4 * b + 3] = zo_exp1_f32(w3[b]);
    }
}

ZO_DRIVER(zo_gen_exp1_f32, float, 4, zo_exp1_f32_from)

#endif /* !__CUDACC__ */

#endif /* ZOOPT_STREAMS_H */
