/*
 * CUDA kernels over zoopt's counter-based streams: raw Philox words,
 * directions, perturbed probes, squared norms and the weighted sum of
 * directions.  The twins of the Cython kernels in src_cy/streams.pyx: the
 * same counters, the same transforms (zoopt_streams.h, shared with the CPU)
 * and the same order of every floating-point operation, so for the same key,
 * step and indices they produce the same bits.
 *
 * Rules that keep them provable on a machine without a GPU (host emulation of
 * this file, tests/gpu_emu/):
 *   - one thread owns each output element; no atomics, no shared memory;
 *   - a sum runs inside one thread in a fixed order (the weighted sum: one
 *     thread per group of coordinates, looping over the directions in order;
 *     the squared norms: one thread per direction, coordinates in order);
 *   - grid-stride loops, so any launch size covers any problem size;
 *   - compiled with -fmad=false -ftz=false (no contraction, no flushing).
 *
 * A thread works on one *unit* of coordinates: the values one Philox call
 * gives (normal float32: 4; normal float64: 2) or, for Rademacher signs, one
 * 32-bit word of a block (32 coordinates; the block's other words are
 * recomputed by the neighbouring threads, which keeps the unit in registers).
 */
#include "zoopt_streams.h"

#define ZO_KERNEL extern "C" __global__

/* Grid-stride loop over [0, n). */
#define ZO_FOR(item, n)                                                       \
    for (int64_t item = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;       \
         item < (n); item += (int64_t)gridDim.x * blockDim.x)

/* ---------------------------------------------------------------------- */
/* Units: the values of unit `unit` of direction `dir`.                    */

template <typename T> struct ZoNormal;

template <> struct ZoNormal<float> {
    static constexpr int U = ZO_PER_BLOCK_NORMAL_F32;
    __device__ static inline void gen(uint32_t k0, uint32_t k1, uint32_t dir, uint32_t c2,
                                      uint32_t c3, int64_t unit, float v[U]) {
        uint32_t x0 = (uint32_t)unit, x1 = dir, x2 = c2, x3 = zo_ctr3(c3, unit);
        ZO_PHILOX10(x0, x1, x2, x3, k0, k1);
        zo_box_muller_f32(x0, x1, &v[0], &v[1]);
        zo_box_muller_f32(x2, x3, &v[2], &v[3]);
    }
};

template <> struct ZoNormal<double> {
    static constexpr int U = ZO_PER_BLOCK_NORMAL_F64;
    __device__ static inline void gen(uint32_t k0, uint32_t k1, uint32_t dir, uint32_t c2,
                                      uint32_t c3, int64_t unit, double v[U]) {
        uint32_t x0 = (uint32_t)unit, x1 = dir, x2 = c2, x3 = zo_ctr3(c3, unit);
        ZO_PHILOX10(x0, x1, x2, x3, k0, k1);
        zo_box_muller_f64(x0, x1, x2, x3, &v[0], &v[1]);
    }
};

/* Coordinate 128 b + r is +1 if bit r % 32 of word r / 32 of block b is 0. */
template <typename T> struct ZoRademacher {
    static constexpr int U = 32;
    __device__ static inline void gen(uint32_t k0, uint32_t k1, uint32_t dir, uint32_t c2,
                                      uint32_t c3, int64_t unit, T v[U]) {
        uint32_t x0 = (uint32_t)(unit >> 2), x1 = dir, x2 = c2,
                 x3 = zo_ctr3(c3, unit >> 2);
        ZO_PHILOX10(x0, x1, x2, x3, k0, k1);
        const int which = (int)(unit & 3);
        const uint32_t w = which == 0 ? x0 : which == 1 ? x1 : which == 2 ? x2 : x3;
#pragma unroll
        for (int r = 0; r < U; r++) v[r] = (T)1 - (T)2 * (T)((w >> r) & 1u);
    }
};

/* ---------------------------------------------------------------------- */
/* Bodies, templated on the value type and the unit generator.            */

template <typename T, typename G>
__device__ inline void zo_fill_body(const T *scale, int scaled, T *out, int64_t n, int64_t d,
                                    uint32_t k0, uint32_t k1, uint32_t c2, uint32_t c3,
                                    uint32_t i0) {
    const int64_t units = (d + G::U - 1) / G::U;
    ZO_FOR(item, n * units) {
        const int64_t r = item / units, u = item - r * units;
        T v[G::U];
        G::gen(k0, k1, i0 + (uint32_t)r, c2, c3, u, v);
#pragma unroll
        for (int k = 0; k < G::U; k++) {
            const int64_t j = u * G::U + k;
            if (j < d) out[r * d + j] = scaled ? v[k] * scale[r] : v[k];
        }
    }
}

template <typename T, typename G>
__device__ inline void zo_perturb_body(const T *x, T sigma, const T *sigma_vec, int per_coord,
                                       const T *scale, int scaled, T *out, int64_t n,
                                       int64_t d, uint32_t k0, uint32_t k1, uint32_t c2,
                                       uint32_t c3, uint32_t i0, int antithetic) {
    const int64_t units = (d + G::U - 1) / G::U;
    ZO_FOR(item, n * units) {
        const int64_t r = item / units, u = item - r * units;
        T v[G::U];
        G::gen(k0, k1, i0 + (uint32_t)r, c2, c3, u, v);
#pragma unroll
        for (int k = 0; k < G::U; k++) {
            const int64_t j = u * G::U + k;
            if (j >= d) continue;
            T s = scaled ? v[k] * scale[r] : v[k];
            s = per_coord ? sigma_vec[j] * s : sigma * s;
            if (antithetic) {
                out[2 * r * d + j] = x[j] + s;
                out[(2 * r + 1) * d + j] = x[j] - s;
            } else {
                out[r * d + j] = x[j] + s;
            }
        }
    }
}

/* acc[j] += sum_i w[i] v_{i0+i, j} (square: w[i] (v^2 - 1)), i in order. */
template <typename T, typename G>
__device__ inline void zo_accumulate_body(const double *w, int64_t n, const T *scale,
                                          int scaled, double *acc, int64_t j_first,
                                          int64_t len, uint32_t k0, uint32_t k1,
                                          uint32_t c2, uint32_t c3, uint32_t i0,
                                          int square) {
    /* units covering the absolute coordinates [j_first, j_first + len) */
    const int64_t u_first = j_first / G::U;
    const int64_t units = len > 0 ? (j_first + len - 1) / G::U - u_first + 1 : 0;
    ZO_FOR(item, units) {
        const int64_t u = u_first + item;
        double a[G::U];
#pragma unroll
        for (int k = 0; k < G::U; k++) {
            const int64_t j = u * G::U + k - j_first;
            a[k] = (j >= 0 && j < len) ? acc[j] : 0.0;
        }
        for (int64_t i = 0; i < n; i++) {
            const double wi = w[i];
            if (wi == 0.0) continue;
            T v[G::U];
            G::gen(k0, k1, i0 + (uint32_t)i, c2, c3, u, v);
#pragma unroll
            for (int k = 0; k < G::U; k++) {
                const T t = scaled ? v[k] * scale[i] : v[k];
                const double dv = (double)t;
                a[k] += square ? wi * (dv * dv - 1.0) : wi * dv;
            }
        }
#pragma unroll
        for (int k = 0; k < G::U; k++) {
            const int64_t j = u * G::U + k - j_first;
            if (j >= 0 && j < len) acc[j] = a[k];
        }
    }
}

template <typename T, typename G>
__device__ inline void zo_fill_span_body(T *out, int64_t len, int64_t j_first, uint32_t k0,
                                         uint32_t k1, uint32_t c2, uint32_t c3, uint32_t dir) {
    const int64_t u_first = j_first / G::U;
    const int64_t units = len > 0 ? (j_first + len - 1) / G::U - u_first + 1 : 0;
    ZO_FOR(item, units) {
        const int64_t u = u_first + item;
        T v[G::U];
        G::gen(k0, k1, dir, c2, c3, u, v);
#pragma unroll
        for (int k = 0; k < G::U; k++) {
            const int64_t j = u * G::U + k - j_first;
            if (j >= 0 && j < len) out[j] = v[k];
        }
    }
}

/* Same bits (so -0.0 differs from 0.0 and NaN payloads count). */
__device__ inline bool zo_same_bits(float a, float b) {
    return zo_f32_to_bits(a) == zo_f32_to_bits(b);
}
__device__ inline bool zo_same_bits(double a, double b) {
    return zo_f64_to_bits(a) == zo_f64_to_bits(b);
}

/* ZOOptimizer's in-place probe: theta[j] <- theta[j] +- fl(scale * u_j); lost[j] = 1
 * where the reverse move does not give the old bits back, orig[j] = the old value (the
 * twin of shift_span in src_cy/streams.pyx, whose packed form of lost and orig the
 * launcher in _streams.py makes from these). */
template <typename T, typename G>
__device__ inline void zo_shift_span_body(T *theta, T scale, int sign, unsigned char *lost,
                                          T *orig, int64_t len, int64_t j_first, uint32_t k0,
                                          uint32_t k1, uint32_t c2, uint32_t c3,
                                          uint32_t dir) {
    const int64_t u_first = j_first / G::U;
    const int64_t units = len > 0 ? (j_first + len - 1) / G::U - u_first + 1 : 0;
    ZO_FOR(item, units) {
        const int64_t u = u_first + item;
        T v[G::U];
        G::gen(k0, k1, dir, c2, c3, u, v);
#pragma unroll
        for (int k = 0; k < G::U; k++) {
            const int64_t j = u * G::U + k - j_first;
            if (j >= 0 && j < len) {
                /* th - s is th + (-s) exactly: one form for both signs */
                const T s = (sign > 0 ? (T)1 : (T)-1) * (scale * v[k]);
                const T th = theta[j];
                const T mv = th + s;
                const T bk = mv - s;
                lost[j] = zo_same_bits(bk, th) ? 0 : 1;
                orig[j] = th;
                theta[j] = mv;
            }
        }
    }
}

template <typename T, typename G>
__device__ inline void zo_unshift_span_body(T *theta, T scale, int sign, int64_t len,
                                            int64_t j_first, uint32_t k0, uint32_t k1,
                                            uint32_t c2, uint32_t c3, uint32_t dir) {
    const int64_t u_first = j_first / G::U;
    const int64_t units = len > 0 ? (j_first + len - 1) / G::U - u_first + 1 : 0;
    ZO_FOR(item, units) {
        const int64_t u = u_first + item;
        T v[G::U];
        G::gen(k0, k1, dir, c2, c3, u, v);
#pragma unroll
        for (int k = 0; k < G::U; k++) {
            const int64_t j = u * G::U + k - j_first;
            if (j >= 0 && j < len) {
                theta[j] = theta[j] - (sign > 0 ? (T)1 : (T)-1) * (scale * v[k]);
            }
        }
    }
}

/* out[r] = sum_j u_{i0+r, j}^2 in float64, coordinates in order. */
template <typename T, typename G>
__device__ inline void zo_sq_norms_body(double *out, int64_t n, int64_t d, uint32_t k0,
                                        uint32_t k1, uint32_t c2, uint32_t c3, uint32_t i0) {
    const int64_t units = (d + G::U - 1) / G::U;
    ZO_FOR(r, n) {
        double total = 0.0;
        for (int64_t u = 0; u < units; u++) {
            T v[G::U];
            G::gen(k0, k1, i0 + (uint32_t)r, c2, c3, u, v);
#pragma unroll
            for (int k = 0; k < G::U; k++) {
                if (u * G::U + k < d) {
                    const double dv = (double)v[k];
                    total = total + dv * dv;
                }
            }
        }
        out[r] = total;
    }
}

/* ---------------------------------------------------------------------- */
/* Entry points: one per (operation, dtype); dist 0 normal, 1 Rademacher.  */

ZO_KERNEL void zo_philox(const uint32_t *ctr, const uint32_t *key, uint32_t *out, int64_t n,
                         int rounds) {
    ZO_FOR(i, n) { zo_philox4x32(ctr + 4 * i, key + 2 * i, rounds, out + 4 * i); }
}

#define ZO_DISPATCH(T, BODY, ...)                                             \
    do {                                                                      \
        if (dist == ZO_DIST_RADEMACHER)                                       \
            BODY<T, ZoRademacher<T> >(__VA_ARGS__);                           \
        else                                                                  \
            BODY<T, ZoNormal<T> >(__VA_ARGS__);                               \
    } while (0)

#define ZO_STREAM_KERNELS(SUF, T)                                                         \
    ZO_KERNEL void zo_fill_##SUF(const T *scale, int scaled, T *out, int64_t n, int64_t d, \
                                 int dist, uint32_t k0, uint32_t k1, uint32_t c2,          \
                                 uint32_t c3, uint32_t i0) {                               \
        ZO_DISPATCH(T, zo_fill_body, scale, scaled, out, n, d, k0, k1, c2, c3, i0);        \
    }                                                                                     \
    ZO_KERNEL void zo_perturb_##SUF(const T *x, T sigma, const T *sigma_vec, int per_coord, \
                                    const T *scale, int scaled, T *out, int64_t n,         \
                                    int64_t d, int dist, uint32_t k0, uint32_t k1,         \
                                    uint32_t c2, uint32_t c3, uint32_t i0, int antithetic) { \
        ZO_DISPATCH(T, zo_perturb_body, x, sigma, sigma_vec, per_coord, scale, scaled, out, \
                    n, d, k0, k1, c2, c3, i0, antithetic);                                \
    }                                                                                     \
    ZO_KERNEL void zo_accumulate_##SUF(const double *w, int64_t n, const T *scale,        \
                                       int scaled, double *acc, int64_t j_first,          \
                                       int64_t len, int dist, uint32_t k0, uint32_t k1,   \
                                       uint32_t c2, uint32_t c3, uint32_t i0, int square) { \
        ZO_DISPATCH(T, zo_accumulate_body, w, n, scale, scaled, acc, j_first, len, k0, k1, \
                    c2, c3, i0, square);                                                  \
    }                                                                                     \
    ZO_KERNEL void zo_fill_span_##SUF(T *out, int64_t len, int64_t j_first, int dist,     \
                                      uint32_t k0, uint32_t k1, uint32_t c2, uint32_t c3, \
                                      uint32_t dir) {                                     \
        ZO_DISPATCH(T, zo_fill_span_body, out, len, j_first, k0, k1, c2, c3, dir);        \
    }                                                                                     \
    ZO_KERNEL void zo_shift_span_##SUF(T *theta, T scale, int sign, unsigned char *lost, \
                                       T *orig, int64_t len, int64_t j_first, int dist, uint32_t k0, \
                                       uint32_t k1, uint32_t c2, uint32_t c3, uint32_t dir) { \
        ZO_DISPATCH(T, zo_shift_span_body, theta, scale, sign, lost, orig, len, j_first, k0, \
                    k1, c2, c3, dir);                                                     \
    }                                                                                     \
    ZO_KERNEL void zo_unshift_span_##SUF(T *theta, T scale, int sign, int64_t len,        \
                                         int64_t j_first, int dist, uint32_t k0,          \
                                         uint32_t k1, uint32_t c2, uint32_t c3,           \
                                         uint32_t dir) {                                  \
        ZO_DISPATCH(T, zo_unshift_span_body, theta, scale, sign, len, j_first, k0, k1, c2, \
                    c3, dir);                                                             \
    }                                                                                     \
    ZO_KERNEL void zo_sq_norms_##SUF(double *out, int64_t n, int64_t d, int dist,         \
                                     uint32_t k0, uint32_t k1, uint32_t c2, uint32_t c3,  \
                                     uint32_t i0) {                                       \
        ZO_DISPATCH(T, zo_sq_norms_body, out, n, d, k0, k1, c2, c3, i0);                  \
    }                                                                                     \
    /* scale[r] = 1 / sqrt(sq[r]) in float64, rounded to T (the sphere's factors) */      \
    ZO_KERNEL void zo_inv_norms_##SUF(const double *sq, T *scale, int64_t n) {            \
        ZO_FOR(r, n) { scale[r] = (T)(1.0 / zo_sqrt_f64(sq[r])); }                        \
    }

ZO_STREAM_KERNELS(f32, float)
ZO_STREAM_KERNELS(f64, double)

/* ---------------------------------------------------------------------- */
/* ZOOptimizer's probes along a low-rank direction (LOZO): the coordinates c0 .. c0 +
 * len - 1 of the row-major m x ncol matrix A B^T / sqrt(r), with A (m x r) and B
 * (ncol x r) row-major.  The twins of shift_lowrank and unshift_lowrank in
 * src_cy/streams.pyx: v = fl(inv * (A[i,0] B[j,0] + ... + A[i,r-1] B[j,r-1])) with the
 * products added in order (no contraction), s = sign * fl(scale * v). */
template <typename T>
__device__ inline T zo_lowrank_at(const T *A, const T *B, int64_t i, int64_t j, int r,
                                  T inv) {
    T v = A[i * r] * B[j * r];
    for (int k = 1; k < r; k++) {
        v = v + A[i * r + k] * B[j * r + k];
    }
    return v * inv;
}

#define ZO_LOWRANK_KERNELS(SUF, T)                                                        \
    ZO_KERNEL void zo_shift_lowrank_##SUF(T *theta, const T *A, const T *B, int64_t c0,  \
                                          int64_t len, int64_t ncol, int r, T inv,       \
                                          T scale, int sign, unsigned char *lost,        \
                                          T *orig) {                                     \
        ZO_FOR(j, len) {                                                                  \
            const int64_t q = c0 + j;                                                     \
            const T s = (sign > 0 ? (T)1 : (T)-1) *                                       \
                        (scale * zo_lowrank_at(A, B, q / ncol, q % ncol, r, inv));        \
            const T th = theta[j];                                                        \
            const T mv = th + s;                                                          \
            const T bk = mv - s;                                                          \
            lost[j] = zo_same_bits(bk, th) ? 0 : 1;                                       \
            orig[j] = th;                                                                 \
            theta[j] = mv;                                                                \
        }                                                                                 \
    }                                                                                     \
    ZO_KERNEL void zo_unshift_lowrank_##SUF(T *theta, const T *A, const T *B, int64_t c0, \
                                            int64_t len, int64_t ncol, int r, T inv,     \
                                            T scale, int sign) {                         \
        ZO_FOR(j, len) {                                                                  \
            const int64_t q = c0 + j;                                                     \
            theta[j] = theta[j] - (sign > 0 ? (T)1 : (T)-1) *                             \
                                      (scale * zo_lowrank_at(A, B, q / ncol, q % ncol, r, \
                                                             inv));                       \
        }                                                                                 \
    }

ZO_LOWRANK_KERNELS(f32, float)
ZO_LOWRANK_KERNELS(f64, double)
