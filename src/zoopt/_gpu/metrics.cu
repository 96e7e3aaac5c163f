/*
 * CUDA kernels of the classification metrics: the twins of class_counts and
 * confusion in src_cy/metrics.pyx.  Counts are integers, so the order of the
 * 64-bit atomic increments does not change any result.
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
