// 2x resampling with the [1,1] filter, as two kernels (see ResampleKernels on the CPU side):
// reduce: dst [planes, h, w] = scale * 2x2 block sums of src [planes, 2h, 2w] (AvgPool2x: 0.25, Upsample2xBackward: 1);
// expand: dst [planes, 2h, 2w] = scale * src [planes, h, w] repeated over 2x2 blocks (Upsample2x: 1, AvgPool2xBackward: 0.25).
#include "cuda_compat.h"

KERNEL void cu_resample_reduce(const float* src, float* dst, int planes, int h, int w, float scale)
{
    long long total = (long long)planes * h * w;
    for (long long i = global_id(); i < total; i += grid_stride())
    {
        int p = (int)i / (h * w), r = (int)i - p * h * w, y = r / w, x = r - y * w;
        const float* s = src + (long long)p * 4 * h * w + (long long)(2 * y) * (2 * w) + 2 * x;
        dst[i] = scale * ((s[0] + s[1]) + (s[2 * w] + s[2 * w + 1]));
    }
}

KERNEL void cu_resample_expand(const float* src, float* dst, int planes, int h, int w, float scale)
{
    long long total = (long long)planes * 4 * h * w;
    int w2 = 2 * w;
    for (long long i = global_id(); i < total; i += grid_stride())
    {
        int p = (int)i / (4 * h * w), r = (int)i - p * 4 * h * w, y = r / w2, x = r - y * w2;
        dst[i] = scale * src[(long long)p * h * w + (long long)(y >> 1) * w + (x >> 1)];
    }
}
