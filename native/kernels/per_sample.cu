// Per-sample arithmetic of the objectives: scaled sums with per-sample scalars, per-sample select, the encoder's
// reparameterization. Samples are contiguous blocks of sampleSize floats.
#include "cuda_compat.h"

// y = (ca * a[n]) x + (cb * b[n]) y; a null a or b means 1; a zero y-coefficient ignores y (as on the CPU).
KERNEL void cu_scale_add_per_sample(const float* x, const float* a, float* y, const float* b, int samples, int sampleSize,
    float ca, float cb)
{
    long long total = (long long)samples * sampleSize;
    for (long long i = global_id(); i < total; i += grid_stride())
    {
        int n = (int)i / sampleSize;
        float alpha = ca * (a ? a[n] : 1.0f), beta = cb * (b ? b[n] : 1.0f);
        y[i] = beta == 0.0f ? alpha * x[i] : fma_f(x[i], alpha, beta * y[i]);
    }
}

KERNEL void cu_select_per_sample(const float* mask, const float* ifTrue, const float* ifFalse, float* y, int samples, int sampleSize)
{
    long long total = (long long)samples * sampleSize;
    for (long long i = global_id(); i < total; i += grid_stride())
        y[i] = mask[(int)i / sampleSize] != 0.0f ? ifTrue[i] : ifFalse[i];
}

// x1 = mu + noise * exp(logvar / 2); muLogvar holds mu then logvar for each sample (2 * half floats).
KERNEL void cu_reparameterize(const float* muLogvar, const float* noise, float* x1, int samples, int half)
{
    long long total = (long long)samples * half;
    for (long long i = global_id(); i < total; i += grid_stride())
    {
        int n = (int)i / half, j = (int)i - n * half;
        const float* mu = muLogvar + (long long)n * 2 * half;
        x1[i] = mu[j] + noise[i] * exp_f(0.5f * mu[half + j]);
    }
}

KERNEL void cu_reparameterize_backward(const float* muLogvar, const float* noise, const float* dx1, float* dMuLogvar,
    int samples, int half)
{
    long long total = (long long)samples * half;
    for (long long i = global_id(); i < total; i += grid_stride())
    {
        int n = (int)i / half, j = (int)i - n * half;
        const float* logvar = muLogvar + (long long)n * 2 * half + half;
        float* d = dMuLogvar + (long long)n * 2 * half;
        d[j] = dx1[i];
        d[half + j] = dx1[i] * noise[i] * 0.5f * exp_f(0.5f * logvar[j]);
    }
}
