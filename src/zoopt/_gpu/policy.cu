/*
 * CUDA kernels of the policy-gradient estimators: the twins of race_weights,
 * gumbel_argmax and categorical_score in src_cy/policy.pyx, with the same
 * noise words, the same float64 products and the same order of every sum.
 * One thread owns each output element; see streams.cu for the rules.
 */
#include "zoopt_streams.h"

#define ZO_KERNEL extern "C" __global__
#define ZO_FOR(item, n)                                                       \
    for (int64_t item = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;       \
         item < (n); item += (int64_t)gridDim.x * blockDim.x)

/* out[n, c] = exp((max_c' logits[n, c'] - logits[n, c]) * inv_tau), in [1, inf] */
template <typename T>
__device__ inline void zo_race_weights_body(const T *logits, double inv_tau, double *out,
                                            int64_t N, int64_t C) {
    ZO_FOR(n, N) {
        const T *row = logits + n * C;
        double mx = (double)row[0];
        for (int64_t c = 1; c < C; c++)
            if ((double)row[c] > mx) mx = (double)row[c];
        for (int64_t c = 0; c < C; c++)
            out[n * C + c] = zo_exp_f64((mx - (double)row[c]) * inv_tau);
    }
}

ZO_KERNEL void zo_race_weights_f32(const float *logits, double inv_tau, double *out,
                                   int64_t N, int64_t C) {
    zo_race_weights_body<float>(logits, inv_tau, out, N, C);
}

ZO_KERNEL void zo_race_weights_f64(const double *logits, double inv_tau, double *out,
                                   int64_t N, int64_t C) {
    zo_race_weights_body<double>(logits, inv_tau, out, N, C);
}

/* out[s, n] = argmin_c E[s, n, c] weights[n, c] (first minimum wins): Exp(1) noise
 * from word (n C + c) % 4 of block (n C + c) / 4 of counter row s. */
ZO_KERNEL void zo_gumbel_argmax(const double *weights, int32_t *out, int64_t S, int64_t N,
                                int64_t C, uint32_t k0, uint32_t k1, uint32_t c2,
                                uint32_t c3) {
    ZO_FOR(item, S * N) {
        const int64_t s = item / N, n = item - s * N;
        double best = 0.0;
        int32_t arg = 0;
        int64_t have = -1;  /* block whose words are in w */
        uint32_t w[4] = {0u, 0u, 0u, 0u};
        for (int64_t c = 0; c < C; c++) {
            const int64_t j = n * C + c;
            if ((j >> 2) != have) {
                have = j >> 2;
                uint32_t x0 = (uint32_t)have, x1 = (uint32_t)s, x2 = c2,
                         x3 = zo_ctr3(c3, have);
                ZO_PHILOX10(x0, x1, x2, x3, k0, k1);
                w[0] = x0; w[1] = x1; w[2] = x2; w[3] = x3;
            }
            const double v = (double)zo_exp1_f32(w[j & 3]) * weights[n * C + c];
            if (c == 0 || v < best) {
                best = v;
                arg = (int32_t)c;
            }
        }
        out[s * N + n] = arg;
    }
}

/* out[n, c] = scale * sum_s adv[s, n'] (1[labels[s, n] = c] - probs[n, c]), the sums
 * over s in order in float64 (n' = n per example, else 0). */
template <typename T>
__device__ inline void zo_categorical_score_body(const int32_t *labels, const double *adv,
                                                 int per_example, const double *probs,
                                                 double scale, T *out, int64_t S,
                                                 int64_t N, int64_t C) {
    ZO_FOR(item, N * C) {
        const int64_t n = item / C, c = item - n * C;
        const int64_t cols = per_example ? N : 1;
        double acc = 0.0, tot = 0.0;
        for (int64_t s = 0; s < S; s++) {
            const double a = adv[s * cols + (per_example ? n : 0)];
            tot = tot + a;
            if (labels[s * N + n] == (int32_t)c) acc += a;
        }
        out[n * C + c] = (T)(scale * (acc - probs[n * C + c] * tot));
    }
}

ZO_KERNEL void zo_categorical_score_f32(const int32_t *labels, const double *adv,
                                        int per_example, const double *probs, double scale,
                                        float *out, int64_t S, int64_t N, int64_t C) {
    zo_categorical_score_body<float>(labels, adv, per_example, probs, scale, out, S, N, C);
}

ZO_KERNEL void zo_categorical_score_f64(const int32_t *labels, const double *adv,
                                        int per_example, const double *probs, double scale,
                                        double *out, int64_t S, int64_t N, int64_t C) {
    zo_categorical_score_body<double>(labels, adv, per_example, probs, scale, out, S, N, C);
}

/* out[r, v] = coef[r] (1[v = labels[r]] - softmax(logits[r])_v), softmax in float64 with
 * the row maximum subtracted; exp is the header's zo_exp_f64, as in the CPU kernel (the
 * device's own exp would differ from it and bring FMA). */
template <typename T>
__device__ inline void zo_row_score_body(const T *logits, const int64_t *labels,
                                         const double *coef, T *out, int64_t R, int64_t V) {
    ZO_FOR(r, R) {
        const T *row = logits + r * V;
        T *o = out + r * V;
        const double cr = coef[r];
        if (cr == 0.0) {
            for (int64_t v = 0; v < V; v++) o[v] = (T)0;
            continue;
        }
        double mx = (double)row[0];
        for (int64_t v = 1; v < V; v++)
            if ((double)row[v] > mx) mx = (double)row[v];
        double total = 0.0;
        for (int64_t v = 0; v < V; v++) total = total + zo_exp_f64((double)row[v] - mx);
        for (int64_t v = 0; v < V; v++) o[v] = (T)(-cr * zo_exp_f64((double)row[v] - mx) / total);
        const int64_t lab = labels[r];
        o[lab] = (T)(cr * (1.0 - zo_exp_f64((double)row[lab] - mx) / total));
    }
}

ZO_KERNEL void zo_row_score_f32(const float *logits, const int64_t *labels, const double *coef,
                                float *out, int64_t R, int64_t V) {
    zo_row_score_body<float>(logits, labels, coef, out, R, V);
}

ZO_KERNEL void zo_row_score_f64(const double *logits, const int64_t *labels,
                                const double *coef, double *out, int64_t R, int64_t V) {
    zo_row_score_body<double>(logits, labels, coef, out, R, V);
}
