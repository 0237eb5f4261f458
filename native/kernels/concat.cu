// Dynamic-skip concat along channels, the per-sample scales fused in: y[n] = [a[n] * scaleA[n], b[n] * scaleB[n]];
// a null scale means 1. The backward writes the scaled slices of dy into da and db.
#include "cuda_compat.h"

KERNEL void cu_concat_scaled(const float* a, const float* b, const float* scaleA, const float* scaleB, float* y,
    int samples, int sizeA, int sizeB)
{
    int size = sizeA + sizeB;
    long long total = (long long)samples * size;
    for (long long i = global_id(); i < total; i += grid_stride())
    {
        int n = (int)i / size, r = (int)i - n * size;
        if (r < sizeA) y[i] = a[n * sizeA + r] * (scaleA ? scaleA[n] : 1.0f);
        else y[i] = b[n * sizeB + (r - sizeA)] * (scaleB ? scaleB[n] : 1.0f);
    }
}

KERNEL void cu_concat_scaled_backward(const float* dy, const float* scaleA, const float* scaleB, float* da, float* db,
    int samples, int sizeA, int sizeB)
{
    int size = sizeA + sizeB;
    long long total = (long long)samples * size;
    for (long long i = global_id(); i < total; i += grid_stride())
    {
        int n = (int)i / size, r = (int)i - n * size;
        if (r < sizeA) da[n * sizeA + r] = dy[i] * (scaleA ? scaleA[n] : 1.0f);
        else db[n * sizeB + (r - sizeA)] = dy[i] * (scaleB ? scaleB[n] : 1.0f);
    }
}
