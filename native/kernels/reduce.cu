// Reductions and bias broadcasts shared by several ops. Every reduction has a fixed order for a given launch shape,
// so results are deterministic run to run.
#include "cuda_compat.h"

// dst[c] += sum over rows r of src[r * cols + c] (double accumulation, rows in order). Linear's dbias, GroupNorm's
// dgamma/dbeta from per-sample partials.
KERNEL void cu_sum_rows_accumulate(const float* src, float* dst, int rows, int cols)
{
    for (long long c = global_id(); c < cols; c += grid_stride())
    {
        double s = 0;
        for (int r = 0; r < rows; r++) s += src[(long long)r * cols + c];
        dst[c] += (float)s;
    }
}

// db[c] += sum over n, h, w of dy[n, c, h, w]: one block per channel (convolution bias gradient).
KERNEL void cu_channel_sum_accumulate(const float* dy, float* db, int samples, int channels, int hw)
{
    __shared__ double red[BLOCK];
    int c = blockIdx.x;
    double s = 0;
    for (int n = 0; n < samples; n++)
    {
        const float* p = dy + ((long long)n * channels + c) * hw;
        for (int j = threadIdx.x; j < hw; j += BLOCK) s += p[j];
    }
    double total = block_sum(s, red);
    if (threadIdx.x == 0) db[c] += (float)total;
}

// y[n, c, h, w] += bias[c] (convolution bias after cuDNN's convolution).
KERNEL void cu_add_channel_bias(float* y, const float* bias, int samples, int channels, int hw)
{
    long long total = (long long)samples * channels * hw;
    for (long long i = global_id(); i < total; i += grid_stride()) y[i] += bias[((int)i / hw) % channels];
}

// y[r, c] += bias[c] (Linear's bias after cuBLAS's GEMM).
KERNEL void cu_add_row_bias(float* y, const float* bias, int rows, int cols)
{
    long long total = (long long)rows * cols;
    for (long long i = global_id(); i < total; i += grid_stride()) y[i] += bias[(int)i % cols];
}

// out[0] = sum of partials[0 .. count) in one block (second stage of every scalar reduction).
KERNEL void cu_finish_sum(const double* partials, double* out, int count)
{
    __shared__ double red[BLOCK];
    double s = 0;
    for (int i = threadIdx.x; i < count; i += BLOCK) s += partials[i];
    double total = block_sum(s, red);
    if (threadIdx.x == 0) out[0] = total;
}
