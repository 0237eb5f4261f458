using ILGPU;
using static CatchUp.Backends.Ilgpu.Kernels.DeviceMath;

namespace CatchUp.Backends.Ilgpu.Kernels;

/// <summary>Per-sample arithmetic of the objectives (native/kernels/per_sample.cu). Samples are contiguous blocks of
/// sampleSize floats; a null per-sample scale arrives as a view of ones.</summary>
internal static class PerSampleKernels
{
    /// <summary>y = (ca * a[n]) x + (cb * b[n]) y; a zero y-coefficient ignores y (as on the CPU).</summary>
    public static void ScaleAdd(ArrayView<float> x, ArrayView<float> a, ArrayView<float> y, ArrayView<float> b, int samples,
        int sampleSize, float ca, float cb)
    {
        long total = (long)samples * sampleSize;
        for (long i = GlobalIndex; i < total; i += GridStride)
        {
            int n = (int)i / sampleSize;
            float alpha = ca * a[n], beta = cb * b[n];
            y[i] = beta == 0f ? alpha * x[i] : x[i] * alpha + beta * y[i];
        }
    }

    public static void Select(ArrayView<float> mask, ArrayView<float> ifTrue, ArrayView<float> ifFalse, ArrayView<float> y,
        int samples, int sampleSize)
    {
        long total = (long)samples * sampleSize;
        for (long i = GlobalIndex; i < total; i += GridStride) y[i] = mask[(int)i / sampleSize] != 0f ? ifTrue[i] : ifFalse[i];
    }

    /// <summary>x1 = mu + noise * exp(logvar / 2); muLogvar holds mu then logvar for each sample (2 * half floats).</summary>
    public static void Reparameterize(ArrayView<float> muLogvar, ArrayView<float> noise, ArrayView<float> x1, int samples, int half)
    {
        long total = (long)samples * half;
        for (long i = GlobalIndex; i < total; i += GridStride)
        {
            int n = (int)i / half, j = (int)i - n * half;
            long mu = (long)n * 2 * half + j;
            x1[i] = muLogvar[mu] + noise[i] * Exp(0.5f * muLogvar[mu + half]);
        }
    }

    public static void ReparameterizeBackward(ArrayView<float> muLogvar, ArrayView<float> noise, ArrayView<float> dx1,
        ArrayView<float> dMuLogvar, int samples, int half)
    {
        long total = (long)samples * half;
        for (long i = GlobalIndex; i < total; i += GridStride)
        {
            int n = (int)i / half, j = (int)i - n * half;
            long mu = (long)n * 2 * half + j;
            dMuLogvar[mu] = dx1[i];
            dMuLogvar[mu + half] = dx1[i] * noise[i] * 0.5f * Exp(0.5f * muLogvar[mu + half]);
        }
    }
}
