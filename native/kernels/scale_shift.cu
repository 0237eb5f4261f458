// The ADM ResBlock's scale-shift modulation (IBackend.ScaleShiftForward), fused with SiLU and inverted dropout:
//   y[n,c,i] = dropout(act(x[n,c,i] * (1 + ss[n,c]) + ss[n,C+c])),  ss [N, 2C].
// The dropout mask is regenerated from (seed, element index) exactly as on the CPU. The backward runs one block per
// (sample, channel) row: dx = g * (1 + scale), dss[n,c] = sum g * x, dss[n,C+c] = sum g (g: dy through dropout and act').
#include "cuda_compat.h"

KERNEL void cu_scale_shift_forward(const float* x, const float* ss, float* y, int samples, int channels, int hw, int silu,
    int drop, u64 seed, int threshold, float dropScale)
{
    long long total = (long long)samples * channels * hw;
    for (long long i = global_id(); i < total; i += grid_stride())
    {
        int row = (int)i / hw, n = row / channels, c = row - n * channels;
        float z = fma_f(x[i], 1.0f + ss[(long long)n * 2 * channels + c], ss[(long long)n * 2 * channels + channels + c]);
        if (silu) z *= sigmoid_f(z);
        if (drop) z = dropout_keep(seed, (u64)i, threshold) ? z * dropScale : 0.0f;
        y[i] = z;
    }
}

KERNEL void cu_scale_shift_backward(const float* x, const float* ss, const float* dy, float* dx, float* dss, int samples,
    int channels, int hw, int silu, int drop, u64 seed, int threshold, float dropScale)
{
    __shared__ double red[BLOCK];
    int row = blockIdx.x, n = row / channels, c = row - n * channels;
    float a = 1.0f + ss[(long long)n * 2 * channels + c], b = ss[(long long)n * 2 * channels + channels + c];
    long long off = (long long)row * hw;
    double sg = 0, sgx = 0;
    for (int j = threadIdx.x; j < hw; j += BLOCK)
    {
        float g = dy[off + j];
        if (drop) g = dropout_keep(seed, (u64)(off + j), threshold) ? g * dropScale : 0.0f;
        if (silu)
        {
            float z = fma_f(x[off + j], a, b);
            float s = sigmoid_f(z);
            g *= s * fma_f(z, 1.0f - s, 1.0f);
        }
        dx[off + j] = g * a;
        sg += g;
        sgx += (double)g * x[off + j];
    }
    double tg = block_sum(sg, red), tgx = block_sum(sgx, red);
    if (threadIdx.x == 0)
    {
        dss[(long long)n * 2 * channels + c] = (float)tgx;
        dss[(long long)n * 2 * channels + channels + c] = (float)tg;
    }
}
