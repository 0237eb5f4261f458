using ILGPU;
using static CatchUp.Backends.Ilgpu.Kernels.DeviceMath;

namespace CatchUp.Backends.Ilgpu.Kernels;

/// <summary>First stages of the scalar losses (native/kernels/loss.cu): each group writes one double partial, then
/// <see cref="ReductionKernels.FinishSum"/> adds them. Gradients are written only when hasGrad != 0.</summary>
internal static class LossKernels
{
    /// <summary>partials[group] = sum (a-b)^2; grad = gradFactor (a - b) (gradFactor = gradScale * 2 / n).</summary>
    public static void MsePartial(ArrayView<float> a, ArrayView<float> b, ArrayView<float> grad, ArrayView<double> partials, int n,
        float gradFactor, int hasGrad)
    {
        var red = SharedMemory.GetDynamic<double>();
        double s = 0;
        for (long i = GlobalIndex; i < n; i += GridStride)
        {
            float d = a[i] - b[i];
            s += (double)d * d;
            if (hasGrad != 0) grad[i] = d * gradFactor;
        }
        double total = GroupSum(s, red);
        if (Group.IdxX == 0) partials[Grid.IdxX] = total;
    }

    /// <summary>partials[group] = sum of 0.5 (-1 - logvar + mu^2 + exp(logvar)); grad = gMu mu for the mu half,
    /// gLv (exp(logvar) - 1) for the logvar half.</summary>
    public static void KlPartial(ArrayView<float> muLogvar, ArrayView<float> grad, ArrayView<double> partials, int samples, int half,
        float gMu, float gLv, int hasGrad)
    {
        var red = SharedMemory.GetDynamic<double>();
        long total = (long)samples * half;
        double s = 0;
        for (long i = GlobalIndex; i < total; i += GridStride)
        {
            int n = (int)i / half, j = (int)i - n * half;
            long mi = (long)n * 2 * half + j, li = mi + half;
            float mu = muLogvar[mi], lv = muLogvar[li];
            float e = Exp(lv);
            s += 0.5 * (-1.0 - lv + (double)mu * mu + e);
            if (hasGrad != 0)
            {
                grad[mi] = gMu * mu;
                grad[li] = gLv * (e - 1f);
            }
        }
        double sum = GroupSum(s, red);
        if (Group.IdxX == 0) partials[Grid.IdxX] = sum;
    }
}
