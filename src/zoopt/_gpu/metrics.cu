/*
 * CUDA kernels of the classification metrics: the twins of class_counts,
 * confusion, class_sums and confusion_sums in src_cy/metrics.pyx.  Counts are
 * integers, so the order of the 64-bit atomic increments does not change any
 * result.  Weighted sums are floating point: one thread owns a row of outputs and
 * adds its weights in sample order, as the Cython kernels (and numpy.bincount) do.
 */
#include "zoopt_streams.h"

#define ZO_KERNEL extern "C" __global__
#define ZO_FOR(item, n)                                                       \
    for (int64_t item = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;       \
         item < (n); item += (int64_t)gridDim.x * blockDim.x)

typedef unsigned long long zo_u64;

/* tp[p, c] += hits of class c in row p; pred[p, c] += predictions of c (zeroed first) */
template <typename L>
__device__ inline void zo_class_counts_body(const L *y_true, const L *y_pred, int64_t *tp,
                                            int64_t *pred, int64_t P, int64_t N, int64_t C) {
    ZO_FOR(item, P * N) {
        const int64_t p = item / N, i = item - p * N;
        const int64_t q = (int64_t)y_pred[item];
        atomicAdd((zo_u64 *)(pred + p * C + q), (zo_u64)1);
        if (y_pred[item] == y_true[i]) atomicAdd((zo_u64 *)(tp + p * C + q), (zo_u64)1);
    }
}

/* out[p, t, q] += 1 for every example (true t, predicted q) */
template <typename L>
__device__ inline void zo_confusion_body(const L *y_true, const L *y_pred, int64_t *out,
                                         int64_t P, int64_t N, int64_t C) {
    ZO_FOR(item, P * N) {
        const int64_t p = item / N, i = item - p * N;
        const int64_t t = (int64_t)y_true[i], q = (int64_t)y_pred[item];
        atomicAdd((zo_u64 *)(out + (p * C + t) * C + q), (zo_u64)1);
    }
}

/* tp[p, c] = sum of w over the hits of class c in row p; pred[p, c] = sum of w over its
 * predictions of c; thread p adds them in sample order */
template <typename L>
__device__ inline void zo_class_sums_body(const L *y_true, const L *y_pred, const double *w,
                                          double *tp, double *pred, int64_t P, int64_t N,
                                          int64_t C) {
    ZO_FOR(p, P) {
        double *tp_row = tp + p * C, *pred_row = pred + p * C;
        const L *row = y_pred + p * N;
        for (int64_t c = 0; c < C; ++c) {
            tp_row[c] = 0.0;
            pred_row[c] = 0.0;
        }
        for (int64_t i = 0; i < N; ++i) {
            const int64_t q = (int64_t)row[i];
            pred_row[q] += w[i];
            if (row[i] == y_true[i]) tp_row[q] += w[i];
        }
    }
}

/* out[p, t, q] += w[i] for every example (true t, predicted q); thread p, sample order */
template <typename L, typename W>
__device__ inline void zo_confusion_sums_body(const L *y_true, const L *y_pred, const W *w,
                                              W *out, int64_t P, int64_t N, int64_t C) {
    ZO_FOR(p, P) {
        W *m = out + p * C * C;
        const L *row = y_pred + p * N;
        for (int64_t i = 0; i < N; ++i) m[(int64_t)y_true[i] * C + (int64_t)row[i]] += w[i];
    }
}

#define ZO_METRIC_KERNELS(SUF, L)                                                        \
    ZO_KERNEL void zo_class_counts_##SUF(const L *y_true, const L *y_pred, int64_t *tp,  \
                                         int64_t *pred, int64_t P, int64_t N, int64_t C) { \
        zo_class_counts_body<L>(y_true, y_pred, tp, pred, P, N, C);                      \
    }                                                                                    \
    ZO_KERNEL void zo_confusion_##SUF(const L *y_true, const L *y_pred, int64_t *out,    \
                                      int64_t P, int64_t N, int64_t C) {                 \
        zo_confusion_body<L>(y_true, y_pred, out, P, N, C);                              \
    }

ZO_METRIC_KERNELS(i32, int32_t)
ZO_METRIC_KERNELS(i64, int64_t)

#define ZO_METRIC_SUM_KERNELS(SUF, L)                                                     \
    ZO_KERNEL void zo_class_sums_##SUF(const L *y_true, const L *y_pred, const double *w,  \
                                       double *tp, double *pred, int64_t P, int64_t N,     \
                                       int64_t C) {                                        \
        zo_class_sums_body<L>(y_true, y_pred, w, tp, pred, P, N, C);                      \
    }                                                                                     \
    ZO_KERNEL void zo_confusion_sums_##SUF##_f64(const L *y_true, const L *y_pred,         \
                                                 const double *w, double *out, int64_t P,  \
                                                 int64_t N, int64_t C) {                   \
        zo_confusion_sums_body<L, double>(y_true, y_pred, w, out, P, N, C);               \
    }                                                                                     \
    ZO_KERNEL void zo_confusion_sums_##SUF##_i64(const L *y_true, const L *y_pred,         \
                                                 const int64_t *w, int64_t *out, int64_t P, \
                                                 int64_t N, int64_t C) {                   \
        zo_confusion_sums_body<L, int64_t>(y_true, y_pred, w, out, P, N, C);              \
    }

ZO_METRIC_SUM_KERNELS(i32, int32_t)
ZO_METRIC_SUM_KERNELS(i64, int64_t)
