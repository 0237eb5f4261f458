using ILGPU;
using static CatchUp.Backends.Ilgpu.Kernels.DeviceMath;

namespace CatchUp.Backends.Ilgpu.Kernels;

/// <summary>Positional noise embedding y[n] = [sin(t f_i), cos(t f_i)] in double like the CPU backend
/// (native/kernels/embedding.cu): frequencies from the host, sin/cos by a double range reduction by 2 pi and Taylor
/// series on [-pi, pi] (error below 1e-15), so no back end needs a math library.</summary>
internal static class EmbeddingKernels
{
    public static void Positional(ArrayView<float> t, ArrayView<double> freqs, ArrayView<float> y, int samples, int half)
    {
        long total = (long)samples * half;
        for (long i = GlobalIndex; i < total; i += GridStride)
        {
            int n = (int)i / half, j = (int)i - n * half;
            double a = (double)t[n] * freqs[j];
            double q = a * 0.15915494309189535;
            double k = (long)(q >= 0 ? q + 0.5 : q - 0.5);
            double r = (a - k * 6.283185307179586) - k * 2.4492935982947064e-16;
            double r2 = r * r, sn = 0, cs = 0, termS = r, termC = 1;
            for (int m = 1; m <= 15; m++)
            {
                sn += termS;
                cs += termC;
                termS *= -r2 / ((2.0 * m) * (2.0 * m + 1));
                termC *= -r2 / ((2.0 * m - 1) * (2.0 * m));
            }
            y[(long)n * 2 * half + j] = (float)sn;
            y[(long)n * 2 * half + half + j] = (float)cs;
        }
    }
}
