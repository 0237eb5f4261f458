// GroupNorm fused with a per-(n,c) shift before it and SiLU + inverted dropout after it (IBackend.GroupNormForward):
//   u = x + shift[n,c];  y = dropout(act(gamma * (u - mean_g) * rstd_g + beta)).
// This is also the head path of the network (aux_norm -> SiLU, and GroupNorm -> SiLU of every extra head) feeding the
// output convolutions. One block of BLOCK threads per (sample, group); statistics in double, two passes (mean, then
// centred variance). The dropout mask is regenerated from (seed, element index) exactly as on the CPU.
#include "cuda_compat.h"

struct GroupView
{
    int n, g, cpg;
    long long base, count;
};

DEV GroupView group_view(int channels, int groups, int hw)
{
    GroupView v;
    v.n = blockIdx.x / groups;
    v.g = blockIdx.x - v.n * groups;
    v.cpg = channels / groups;
    v.base = ((long long)v.n * channels + (long long)v.g * v.cpg) * hw;
    v.count = (long long)v.cpg * hw;
    return v;
}

KERNEL void cu_groupnorm_forward(const float* x, const float* shift, const float* gamma, const float* beta, float* y,
    float* mean, float* rstd, int channels, int groups, int hw, float eps, int silu, int drop, u64 seed, int threshold,
    float dropScale)
{
    __shared__ double red[BLOCK];
    GroupView v = group_view(channels, groups, hw);
    const float* xg = x + v.base;
    const float* sh = shift ? shift + (long long)v.n * channels + v.g * v.cpg : 0;

    double s = 0;
    for (long long j = threadIdx.x; j < v.count; j += BLOCK) s += (double)xg[j] + (sh ? sh[(int)j / hw] : 0.0f);
    double mu = block_sum(s, red) / (double)v.count;
    double q = 0;
    for (long long j = threadIdx.x; j < v.count; j += BLOCK)
    {
        double d = (double)xg[j] + (sh ? sh[(int)j / hw] : 0.0f) - mu;
        q += d * d;
    }
    double r = 1.0 / sqrt_d(block_sum(q, red) / (double)v.count + eps);
    if (threadIdx.x == 0)
    {
        mean[blockIdx.x] = (float)mu;
        rstd[blockIdx.x] = (float)r;
    }

    for (long long j = threadIdx.x; j < v.count; j += BLOCK)
    {
        int c = v.g * v.cpg + (int)j / hw;
        // z = a * ((x - hi) - lo) + beta with hi + lo = mean - shift, as the CPU kernel centres it.
        double cm = mu - (sh ? sh[(int)j / hw] : 0.0f);
        float hi = (float)cm, lo = (float)(cm - (double)hi);
        float z = fma_f((xg[j] - hi) - lo, (float)((double)gamma[c] * r), beta[c]);
        if (silu) z *= sigmoid_f(z);
        if (drop) z = dropout_keep(seed, (u64)(v.base + j), threshold) ? z * dropScale : 0.0f;
        y[v.base + j] = z;
    }
}

// Gradient w.r.t. the affine output z = gamma * xhat + beta at element j of the group (dropout and SiLU undone).
DEV float grad_z(float g, float xh, float gam, float bet, int silu, int drop, u64 seed, u64 index, int threshold, float dropScale)
{
    if (drop) g = dropout_keep(seed, index, threshold) ? g * dropScale : 0.0f;
    if (silu)
    {
        float z = fma_f(xh, gam, bet);
        float s = sigmoid_f(z);
        g *= s * fma_f(z, 1.0f - s, 1.0f);
    }
    return g;
}

// dx overwritten; dshift [N,C] overwritten when non-null; partGamma/partBeta [N,C] receive this sample's dgamma/dbeta
// contributions (cu_sum_rows_accumulate then adds them over samples, in sample order).
KERNEL void cu_groupnorm_backward(const float* x, const float* shift, const float* gamma, const float* beta,
    const float* mean, const float* rstd, const float* dy, float* dx, float* dshift, float* partGamma, float* partBeta,
    int channels, int groups, int hw, int silu, int drop, u64 seed, int threshold, float dropScale)
{
    __shared__ double red[BLOCK];
    GroupView v = group_view(channels, groups, hw);
    float mu = mean[blockIdx.x], r = rstd[blockIdx.x];
    double sumA = 0, sumB = 0;
    for (int ci = 0; ci < v.cpg; ci++)
    {
        int c = v.g * v.cpg + ci;
        long long off = v.base + (long long)ci * hw;
        double cm = (double)mu - (shift ? shift[(long long)v.n * channels + c] : 0.0f);
        float hi = (float)cm, lo = (float)(cm - (double)hi);
        double sdz = 0, sdzx = 0;
        for (int j = threadIdx.x; j < hw; j += BLOCK)
        {
            float xh = ((x[off + j] - hi) - lo) * r;
            float g = grad_z(dy[off + j], xh, gamma[c], beta[c], silu, drop, seed, (u64)(off + j), threshold, dropScale);
            sdz += g;
            sdzx += (double)g * xh;
        }
        float tz = (float)block_sum(sdz, red), tzx = (float)block_sum(sdzx, red);
        if (threadIdx.x == 0)
        {
            partBeta[(long long)v.n * channels + c] = tz;
            partGamma[(long long)v.n * channels + c] = tzx;
        }
        sumA += (double)gamma[c] * tz;
        sumB += (double)gamma[c] * tzx;
    }
    float kA = (float)(-r * sumA / (double)v.count), kB = (float)(-r * sumB / (double)v.count);
    for (int ci = 0; ci < v.cpg; ci++)
    {
        int c = v.g * v.cpg + ci;
        long long off = v.base + (long long)ci * hw;
        double cm = (double)mu - (shift ? shift[(long long)v.n * channels + c] : 0.0f);
        float hi = (float)cm, lo = (float)(cm - (double)hi);
        float k1 = r * gamma[c];
        double sdu = 0;
        for (int j = threadIdx.x; j < hw; j += BLOCK)
        {
            float xh = ((x[off + j] - hi) - lo) * r;
            float g = grad_z(dy[off + j], xh, gamma[c], beta[c], silu, drop, seed, (u64)(off + j), threshold, dropScale);
            float du = fma_f(k1, g, fma_f(kB, xh, kA));
            dx[off + j] = du;
            sdu += du;
        }
        double total = block_sum(sdu, red);
        if (dshift && threadIdx.x == 0) dshift[(long long)v.n * channels + c] = (float)total;
    }
}
