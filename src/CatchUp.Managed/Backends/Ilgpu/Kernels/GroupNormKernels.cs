using ILGPU;
using static CatchUp.Backends.Ilgpu.Kernels.DeviceMath;

namespace CatchUp.Backends.Ilgpu.Kernels;

/// <summary>Shape and options of one fused GroupNorm call; flags are 0 or 1, Threshold is SimdMath.DropThreshold(p).</summary>
internal readonly record struct GroupNormArgs(int Samples, int Channels, int Groups, int Hw, float Eps, int Silu, int HasShift,
    int HasDShift, int Drop, ulong Seed, int Threshold, float DropScale)
{
    public int ChannelsPerGroup => Channels / Groups;
}

/// <summary>
/// GroupNorm fused with a per-(n,c) shift before it and SiLU + inverted dropout after it (native/kernels/groupnorm.cu):
/// u = x + shift[n,c]; y = dropout(act(gamma (u - mean_g) rstd_g + beta)). One group of threads per (sample, group),
/// grid-stride over them; statistics in double, two passes (mean, then centred variance). Launched with two shared
/// doubles per thread. The dropout mask is
/// regenerated from (seed, element index) exactly as on the CPU.
/// </summary>
internal static class GroupNormKernels
{
    public static void Forward(ArrayView<float> x, ArrayView<float> shift, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> y, ArrayView<float> mean, ArrayView<float> rstd, GroupNormArgs a)
    {
        var red = SharedMemory.GetDynamic<double>();
        int cpg = a.ChannelsPerGroup;
        long count = (long)cpg * a.Hw;
        for (int item = Grid.IdxX; item < a.Samples * a.Groups; item += Grid.DimX)
        {
            int n = item / a.Groups, g = item - n * a.Groups;
            long xBase = ((long)n * a.Channels + (long)g * cpg) * a.Hw;
            long shBase = (long)n * a.Channels + g * cpg;
            double s = 0;
            for (long j = Group.IdxX; j < count; j += Group.DimX)
                s += (double)x[xBase + j] + (a.HasShift != 0 ? shift[shBase + (int)j / a.Hw] : 0f);
            double mu = GroupSum(s, red) / count;
            double q = 0;
            for (long j = Group.IdxX; j < count; j += Group.DimX)
            {
                double d = (double)x[xBase + j] + (a.HasShift != 0 ? shift[shBase + (int)j / a.Hw] : 0f) - mu;
                q += d * d;
            }
            double r = 1.0 / Math.Sqrt(GroupSum(q, red) / count + a.Eps);
            if (Group.IdxX == 0)
            {
                mean[item] = (float)mu;
                rstd[item] = (float)r;
            }
            for (long j = Group.IdxX; j < count; j += Group.DimX)
            {
                int c = g * cpg + (int)j / a.Hw;
                // z = a ((x - hi) - lo) + beta with hi + lo = mean - shift, as the CPU kernel centres it.
                double cm = mu - (a.HasShift != 0 ? shift[shBase + (int)j / a.Hw] : 0f);
                float hi = (float)cm, lo = (float)(cm - hi);
                float z = ((x[xBase + j] - hi) - lo) * (float)(gamma[c] * r) + beta[c];
                if (a.Silu != 0) z *= Sigmoid(z);
                if (a.Drop != 0) z = DropoutKeep(a.Seed, xBase + j, a.Threshold) ? z * a.DropScale : 0f;
                y[xBase + j] = z;
            }
        }
    }

    /// <summary>Gradient w.r.t. the affine output z = gamma xhat + beta (dropout and SiLU undone).</summary>
    private static float GradZ(float g, float xh, float gam, float bet, long index, GroupNormArgs a)
    {
        if (a.Drop != 0) g = DropoutKeep(a.Seed, index, a.Threshold) ? g * a.DropScale : 0f;
        if (a.Silu != 0)
        {
            float z = xh * gam + bet;
            float s = Sigmoid(z);
            g *= s * (z * (1f - s) + 1f);
        }
        return g;
    }

    /// <summary>dx overwritten; dshift [N,C] overwritten when HasDShift; partGamma/partBeta [N,C] receive each sample's
    /// dgamma/dbeta contributions (<see cref="ReductionKernels.SumRowsAccumulate"/> adds them over samples).</summary>
    public static void Backward(ArrayView<float> x, ArrayView<float> shift, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> mean, ArrayView<float> rstd, ArrayView<float> dy, ArrayView<float> dx, ArrayView<float> dshift,
        ArrayView<float> partGamma, ArrayView<float> partBeta, GroupNormArgs a)
    {
        var red = SharedMemory.GetDynamic<double>();
        int cpg = a.ChannelsPerGroup, hw = a.Hw;
        long count = (long)cpg * hw;
        for (int item = Grid.IdxX; item < a.Samples * a.Groups; item += Grid.DimX)
        {
            int n = item / a.Groups, g = item - n * a.Groups;
            long xBase = ((long)n * a.Channels + (long)g * cpg) * hw;
            float mu = mean[item], r = rstd[item];
            double sumA = 0, sumB = 0;
            for (int ci = 0; ci < cpg; ci++)
            {
                int c = g * cpg + ci;
                long off = xBase + (long)ci * hw, nc = (long)n * a.Channels + c;
                double cm = (double)mu - (a.HasShift != 0 ? shift[nc] : 0f);
                float hi = (float)cm, lo = (float)(cm - hi);
                double sdz = 0, sdzx = 0;
                for (int j = Group.IdxX; j < hw; j += Group.DimX)
                {
                    float xh = ((x[off + j] - hi) - lo) * r;
                    float gz = GradZ(dy[off + j], xh, gamma[c], beta[c], off + j, a);
                    sdz += gz;
                    sdzx += (double)gz * xh;
                }
                var (sumZ, sumZX) = GroupSum2(sdz, sdzx, red);
                float tz = (float)sumZ, tzx = (float)sumZX;
                if (Group.IdxX == 0)
                {
                    partBeta[nc] = tz;
                    partGamma[nc] = tzx;
                }
                sumA += (double)gamma[c] * tz;
                sumB += (double)gamma[c] * tzx;
            }
            float kA = (float)(-r * sumA / count), kB = (float)(-r * sumB / count);
            for (int ci = 0; ci < cpg; ci++)
            {
                int c = g * cpg + ci;
                long off = xBase + (long)ci * hw, nc = (long)n * a.Channels + c;
                double cm = (double)mu - (a.HasShift != 0 ? shift[nc] : 0f);
                float hi = (float)cm, lo = (float)(cm - hi);
                float k1 = r * gamma[c];
                double sdu = 0;
                for (int j = Group.IdxX; j < hw; j += Group.DimX)
                {
                    float xh = ((x[off + j] - hi) - lo) * r;
                    float gz = GradZ(dy[off + j], xh, gamma[c], beta[c], off + j, a);
                    float du = k1 * gz + (kB * xh + kA);
                    dx[off + j] = du;
                    sdu += du;
                }
                if (a.HasDShift != 0)   // the same for the whole group, so the barriers inside stay uniform
                {
                    double total = GroupSum(sdu, red);
                    if (Group.IdxX == 0) dshift[nc] = (float)total;
                }
            }
        }
    }
}
