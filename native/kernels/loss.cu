// Scalar losses and the sum of squares: each block writes one double partial (grid-stride accumulation in double),
// cu_finish_sum adds the partials, and the host copies back one double.
#include "cuda_compat.h"

// partials[block] = sum (a-b)^2; grad = gradFactor * (a - b) when non-null (gradFactor = gradScale * 2 / n).
KERNEL void cu_mse_partial(const float* a, const float* b, float* grad, double* partials, int n, float gradFactor)
{
    __shared__ double red[BLOCK];
    double s = 0;
    for (long long i = global_id(); i < n; i += grid_stride())
    {
        float d = a[i] - b[i];
        s += (double)d * d;
        if (grad) grad[i] = d * gradFactor;
    }
    double total = block_sum(s, red);
    if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

// partials[block] = sum over samples and elements of 0.5 * (-1 - logvar + mu^2 + exp(logvar)); grad (optional)
// = gMu * mu for the mu half, gLv * (exp(logvar) - 1) for the logvar half.
KERNEL void cu_kl_partial(const float* muLogvar, float* grad, double* partials, int samples, int half, float gMu, float gLv)
{
    __shared__ double red[BLOCK];
    long long total = (long long)samples * half;
    double s = 0;
    for (long long i = global_id(); i < total; i += grid_stride())
    {
        int n = (int)i / half, j = (int)i - n * half;
        long long mi = (long long)n * 2 * half + j, li = mi + half;
        float mu = muLogvar[mi], lv = muLogvar[li];
        float e = exp_f(lv);
        s += 0.5 * (-1.0 - lv + (double)mu * mu + e);
        if (grad)
        {
            grad[mi] = gMu * mu;
            grad[li] = gLv * (e - 1.0f);
        }
    }
    double sum = block_sum(s, red);
    if (threadIdx.x == 0) partials[blockIdx.x] = sum;
}

KERNEL void cu_sum_squares_partial(const float* x, double* partials, int n)
{
    __shared__ double red[BLOCK];
    double s = 0;
    for (long long i = global_id(); i < n; i += grid_stride()) s += (double)x[i] * x[i];
    double total = block_sum(s, red);
    if (threadIdx.x == 0) partials[blockIdx.x] = total;
}
