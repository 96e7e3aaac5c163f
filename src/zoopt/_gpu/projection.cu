/*
 * CUDA kernels of the random projections: the twins of fwht_rows, srht_rows,
 * srht_lift_rows, sparse_signs and sparse_rows in src_cy/projection.pyx.
 *
 * The Walsh-Hadamard transform runs one launch per stage (a thread per
 * butterfly).  Each butterfly reads the two values the previous stage left, so
 * the result is the same computation as the CPU's cache-blocked order, value
 * for value.  The SRHT is a load (signs, zero padding), the stages, and a
 * gather (or, for its transpose, a scatter, the stages and a scaled load).
 * Sparse sign matrices: one thread per row walks that row's words in order,
 * once to count the entries and, after a prefix sum, once to write them.
 */
#include "zoopt_streams.h"

#define ZO_KERNEL extern "C" __global__
#define ZO_FOR(item, n)                                                       \
    for (int64_t item = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;       \
         item < (n); item += (int64_t)gridDim.x * blockDim.x)

/* one stage of span h over rows of length n (a power of 2) */
template <typename T>
__device__ inline void zo_fwht_stage_body(T *a, int64_t rows, int64_t n, int64_t h) {
    const int64_t half = n / 2;
    ZO_FOR(item, rows * half) {
        const int64_t r = item / half, p = item - r * half;
        const int64_t j = r * n + 2 * h * (p / h) + p % h;
        const T u = a[j], v = a[j + h];
        a[j] = u + v;
        a[j + h] = u - v;
    }
}

/* buf[r, j] = X[r, j] * signs[j] for j < m, 0 up to padded */
template <typename T>
__device__ inline void zo_srht_load_body(const T *X, const T *signs, T *buf, int64_t rows,
                                         int64_t m, int64_t padded) {
    ZO_FOR(item, rows * padded) {
        const int64_t r = item / padded, j = item - r * padded;
        buf[item] = j < m ? X[r * m + j] * signs[j] : (T)0;
    }
}

/* out[r, j] = sc * buf[r, sel[j]] */
template <typename T>
__device__ inline void zo_srht_gather_body(const T *buf, const int64_t *sel, T sc, T *out,
                                           int64_t rows, int64_t padded, int64_t k) {
    ZO_FOR(item, rows * k) {
        const int64_t r = item / k, j = item - r * k;
        out[item] = sc * buf[r * padded + sel[j]];
    }
}

/* buf[r, sel[j]] = Z[r, j] (buf zeroed first; the rows of sel are distinct) */
template <typename T>
__device__ inline void zo_srht_scatter_body(const T *Z, const int64_t *sel, T *buf,
                                            int64_t rows, int64_t k, int64_t padded) {
    ZO_FOR(item, rows * k) {
        const int64_t r = item / k, j = item - r * k;
        buf[r * padded + sel[j]] = Z[item];
    }
}

/* out[r, j] = sc * signs[j] * buf[r, j], j < d */
template <typename T>
__device__ inline void zo_srht_unload_body(const T *buf, const T *signs, T sc, T *out,
                                           int64_t rows, int64_t padded, int64_t d) {
    ZO_FOR(item, rows * d) {
        const int64_t r = item / d, j = item - r * d;
        out[item] = sc * signs[j] * buf[r * padded + j];
    }
}

/* out[r, i] = scale * sum_p signs[p] X[r, indices[p]] over row i's entries, in float64 */
template <typename T>
__device__ inline void zo_sparse_rows_body(const T *X, const int64_t *indptr,
                                           const int32_t *indices, const int8_t *signs,
                                           double scale, T *out, int64_t rows, int64_t m,
                                           int64_t k) {
    ZO_FOR(item, rows * k) {
        const int64_t r = item / k, i = item - r * k;
        double acc = 0.0;
        for (int64_t p = indptr[i]; p < indptr[i + 1]; p++) {
            const double x = (double)X[r * m + indices[p]];
            acc = signs[p] > 0 ? acc + x : acc - x;
        }
        out[item] = (T)(scale * acc);
    }
}

/* Entries of sign-matrix row `row`: word j (word j % 4 of block j / 4) below half is
 * -1, below 2 half is +1, else 0.  Counts them, or writes them at idx / sgn. */
__device__ inline int64_t zo_sparse_row(uint32_t k0, uint32_t k1, uint32_t row, uint32_t c2,
                                        uint32_t c3, int64_t m, uint32_t half, int32_t *idx,
                                        int8_t *sgn) {
    int64_t nnz = 0;
    for (int64_t b = 0; 4 * b < m; b++) {
        uint32_t x0 = (uint32_t)b, x1 = row, x2 = c2, x3 = zo_ctr3(c3, b);
        ZO_PHILOX10(x0, x1, x2, x3, k0, k1);
        const uint32_t w[4] = {x0, x1, x2, x3};
        for (int r = 0; r < 4 && 4 * b + r < m; r++) {
            const uint32_t v = w[r];
            if ((uint64_t)v < 2 * (uint64_t)half) {
                if (idx != 0) {
                    idx[nnz] = (int32_t)(4 * b + r);
                    sgn[nnz] = v < half ? (int8_t)-1 : (int8_t)1;
                }
                nnz++;
            }
        }
    }
    return nnz;
}

ZO_KERNEL void zo_sparse_count(uint32_t k0, uint32_t k1, uint32_t c2, uint32_t c3,
                               int64_t n_rows, int64_t m, uint32_t half, int64_t *counts) {
    ZO_FOR(r, n_rows) {
        counts[r] = zo_sparse_row(k0, k1, (uint32_t)r, c2, c3, m, half, 0, 0);
    }
}

ZO_KERNEL void zo_sparse_fill(uint32_t k0, uint32_t k1, uint32_t c2, uint32_t c3,
                              int64_t n_rows, int64_t m, uint32_t half, const int64_t *indptr,
                              int32_t *indices, int8_t *signs) {
    ZO_FOR(r, n_rows) {
        if (indptr[r + 1] > indptr[r])
            zo_sparse_row(k0, k1, (uint32_t)r, c2, c3, m, half, indices + indptr[r],
                          signs + indptr[r]);
    }
}

ZO_KERNEL void zo_fwht_stage_i64(int64_t *a, int64_t rows, int64_t n, int64_t h) {
    zo_fwht_stage_body<int64_t>(a, rows, n, h);
}

#define ZO_PROJECTION_KERNELS(SUF, T)                                                     \
    ZO_KERNEL void zo_fwht_stage_##SUF(T *a, int64_t rows, int64_t n, int64_t h) {        \
        zo_fwht_stage_body<T>(a, rows, n, h);                                             \
    }                                                                                     \
    ZO_KERNEL void zo_srht_load_##SUF(const T *X, const T *signs, T *buf, int64_t rows,   \
                                      int64_t m, int64_t padded) {                        \
        zo_srht_load_body<T>(X, signs, buf, rows, m, padded);                             \
    }                                                                                     \
    ZO_KERNEL void zo_srht_gather_##SUF(const T *buf, const int64_t *sel, T sc, T *out,   \
                                        int64_t rows, int64_t padded, int64_t k) {        \
        zo_srht_gather_body<T>(buf, sel, sc, out, rows, padded, k);                       \
    }                                                                                     \
    ZO_KERNEL void zo_srht_scatter_##SUF(const T *Z, const int64_t *sel, T *buf,          \
                                         int64_t rows, int64_t k, int64_t padded) {       \
        zo_srht_scatter_body<T>(Z, sel, buf, rows, k, padded);                            \
    }                                                                                     \
    ZO_KERNEL void zo_srht_unload_##SUF(const T *buf, const T *signs, T sc, T *out,       \
                                        int64_t rows, int64_t padded, int64_t d) {        \
        zo_srht_unload_body<T>(buf, signs, sc, out, rows, padded, d);                     \
    }                                                                                     \
    ZO_KERNEL void zo_sparse_rows_##SUF(const T *X, const int64_t *indptr,                \
                                        const int32_t *indices, const int8_t *signs,      \
                                        double scale, T *out, int64_t rows, int64_t m,    \
                                        int64_t k) {                                      \
        zo_sparse_rows_body<T>(X, indptr, indices, signs, scale, out, rows, m, k);        \
    }

ZO_PROJECTION_KERNELS(f32, float)
ZO_PROJECTION_KERNELS(f64, double)
