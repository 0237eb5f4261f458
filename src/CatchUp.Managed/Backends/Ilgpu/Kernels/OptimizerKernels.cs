using ILGPU;
using static CatchUp.Backends.Ilgpu.Kernels.DeviceMath;

namespace CatchUp.Backends.Ilgpu.Kernels;

/// <summary>The scalars of one Adam step; the bias corrections 1 - beta^step come from the host.</summary>
internal readonly record struct AdamArgs(int Length, float LearningRate, float Beta1, float Beta2, float Epsilon, float WeightDecay,
    float BiasCorrection1, float BiasCorrection2, int Decoupled);

/// <summary>Adam/AdamW and the EMA update (native/kernels/optimizer.cu).</summary>
internal static class OptimizerKernels
{
    public static void Adam(ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, AdamArgs a)
    {
        for (long i = GlobalIndex; i < a.Length; i += GridStride)
        {
            float grad = g[i];
            if (a.Decoupled == 0 && a.WeightDecay != 0f) grad += a.WeightDecay * p[i];
            float mi = a.Beta1 * m[i] + (1f - a.Beta1) * grad;
            float vi = a.Beta2 * v[i] + (1f - a.Beta2) * grad * grad;
            m[i] = mi;
            v[i] = vi;
            float update = (mi / a.BiasCorrection1) / (MathF.Sqrt(vi / a.BiasCorrection2) + a.Epsilon);
            if (a.Decoupled != 0 && a.WeightDecay != 0f) update += a.WeightDecay * p[i];
            p[i] -= a.LearningRate * update;
        }
    }

    /// <summary>ema += (1 - decay) (param - ema), the form that stays accurate near decay = 1.</summary>
    public static void Ema(ArrayView<float> ema, ArrayView<float> param, int n, float oneMinusDecay)
    {
        for (long i = GlobalIndex; i < n; i += GridStride) ema[i] = (param[i] - ema[i]) * oneMinusDecay + ema[i];
    }
}
